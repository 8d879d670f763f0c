"""The judge's tests as a unittest suite declared with gradescope-utils, run into its JSONTestResult.

Each test of config.yaml becomes a test method with the decorators Gradescope's own utilities define
(weight via partial_credit, number, visibility), and the held-out NELBO of test 2.4 a leaderboard
column; gradescope-utils' JSONTestResult makes each one's entry of results.json. This is safe because
the methods only ask the sandboxed worker for data (grade.run_test): no student code runs in this process.
"""
import io
import sys
import unittest

from gradescope_utils.autograder_utils.decorators import leaderboard, number, partial_credit, visibility
from gradescope_utils.autograder_utils.json_test_runner import JSONTestResult

LEADERBOARD = {"held-out NELBO": "asc"}   # column -> sort order; the judge measures the value (2.4)


class Judged(unittest.TestCase):
    """Test methods are added per grading by `suite`."""


def suite(tests, run_one, measured):
    """A suite that runs `run_one(test) -> (score, message)` for each test, in order, plus one
    leaderboard method per column of `measured` (filled by the checks as they run)."""
    methods = []
    for test in tests:
        def method(self, set_score=None, test=test):
            score, message = run_one(test)
            set_score(score)
            print(message, end="")
        method.__doc__ = test["name"]
        method = visibility(test.get("visibility", "visible"))(number(test["number"])(partial_credit(float(test["points"]))(method)))
        methods.append((f"test_{test['number'].replace('.', '_')}", method))
    for column, order in LEADERBOARD.items():
        def board(self, set_leaderboard_value=None, column=column):
            if column in measured:
                set_leaderboard_value(measured[column])
        methods.append((f"test_leaderboard_{column.replace(' ', '_').replace('-', '_')}", leaderboard(column, order)(board)))
    case = type("Judged", (Judged,), dict(methods))   # a fresh class: decorator state is per grading
    return unittest.TestSuite(case(name) for name, _ in methods)


def run(tests, run_one):
    """Run the suite; (test entries, leaderboard entries) as gradescope-utils' JSONTestResult makes them
    from the decorators and what each test printed. Only these: results.build makes results.json of
    them (JSONTestRunner would build a second one around them, with its own score and time)."""
    measured = {}
    entries, board = [], []
    collected = JSONTestResult(io.StringIO(), descriptions=True, verbosity=1, results=entries, leaderboard=board,
                               failure_prefix="")
    collected.buffer = True   # a test's printed message becomes its output
    saved = sys.stdout, sys.stderr
    try:
        suite(tests, lambda test: run_one(test, measured), measured)(collected)
    finally:
        sys.stdout, sys.stderr = saved
    return entries, board
