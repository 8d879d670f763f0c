"""The judge's tests as a unittest suite declared with gradescope-utils, run by its JSONTestRunner.

Each test of config.yaml becomes a test method with the decorators Gradescope's own utilities define
(weight via partial_credit, number, visibility), and the held-out NELBO of test 2.4 a leaderboard
column; JSONTestRunner turns them into results.json. This is safe because the methods only ask the
sandboxed worker for data (grade.run_test): no student code runs in this process.
"""
import io
import json
import sys
import unittest

from gradescope_utils.autograder_utils.decorators import leaderboard, number, partial_credit, visibility
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner

LEADERBOARD = {"held-out NELBO": "asc"}   # column -> sort order; the judge measures the value (2.4)


class Judged(unittest.TestCase):
    """Test methods are added per grading by `suite`."""


def suite(tests, run_one, measured):
    """A suite that runs `run_one(test) -> (score, message, grader_failed)` for each test, in order,
    plus one leaderboard method per column of `measured` (filled by the checks as they run)."""
    flagged = {}
    methods = []
    for test in tests:
        def method(self, set_score=None, test=test):
            score, message, grader_failed = run_one(test)
            flagged[test["number"]] = grader_failed
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
    return unittest.TestSuite(case(name) for name, _ in methods), flagged


def run(tests, run_one, post_process):
    """Run the suite with gradescope-utils' JSONTestRunner; the results dict after `post_process`."""
    measured = {}
    stream = io.StringIO()
    built, flagged = suite(tests, lambda test: run_one(test, measured), measured)

    def finish(data):
        data["leaderboard"] = [entry for entry in data.get("leaderboard", []) if entry.get("value") is not None]
        if not data["leaderboard"]:
            del data["leaderboard"]
        for entry in data["tests"]:
            entry.setdefault("output", "")
            if flagged.get(entry["number"]):
                entry["extra_data"] = {"grader_failure": True}
        post_process(data)

    saved = sys.stdout, sys.stderr
    try:
        JSONTestRunner(stream=stream, visibility="visible", stdout_visibility="hidden", buffer=True,
                       failure_prefix="", post_processor=finish).run(built)
    finally:
        sys.stdout, sys.stderr = saved
    return json.loads(stream.getvalue())
