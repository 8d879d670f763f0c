"""results.json is built in one place (results.build) from the entries gradescope-utils' JSONTestResult
makes of the suite's tests: no worker here, a fake run_one stands in for the checks."""
import json

import jsonschema

from autograder import results, suite
from autograder.config import load_config

TESTS = load_config()["tests"]


def graded(run_one):
    entries, board = suite.run(TESTS, run_one)
    return results.build(entries, "All files found.", 3.14159, grader_failed=[TESTS[1]["number"]],
                         devices={TESTS[2]["number"]: "cpu"}, diagnosed={TESTS[3]["number"]: ["b", "a"]},
                         leaderboard=board)


def test_the_suite_s_entries_become_a_valid_results_file_with_each_test_s_flags():
    def run_one(test, measured):
        if test["number"] == TESTS[0]["number"]:
            return 0.0, ""   # an empty message: gradescope-utils leaves "output" out
        return test["points"] / 2, f"half of {test['number']}"

    outcome = graded(run_one)
    jsonschema.validate(outcome, results.SCHEMA)
    json.dumps(outcome, allow_nan=False)
    assert [t["number"] for t in outcome["tests"]] == [t["number"] for t in TESTS]
    first, second, third, fourth = outcome["tests"][:4]
    assert first["output"] == "" and first["status"] == "failed" and "extra_data" not in first
    assert second["extra_data"] == {"grader_failure": True} and second["output"] == f"half of {TESTS[1]['number']}"
    assert third["extra_data"] == {"device": "cpu"}
    assert fourth["extra_data"] == {"diagnosed": ["a", "b"]}
    assert [t["max_score"] for t in outcome["tests"]] == [float(t["points"]) for t in TESTS]
    assert outcome["score"] == round(sum(t["points"] / 2 for t in TESTS[1:]), 4)
    assert outcome["execution_time"] == 3.14
    assert outcome["extra_data"]["grader_failure"] and outcome["extra_data"]["grader_failed_tests"] == [TESTS[1]["number"]]
    assert "leaderboard" not in outcome   # no check measured a value


def test_a_measured_leaderboard_value_is_kept_with_its_column_and_order():
    def run_one(test, measured):
        measured["held-out NELBO"] = 101.5
        return float(test["points"]), "Passed."

    outcome = graded(run_one)
    jsonschema.validate(outcome, results.SCHEMA)
    assert outcome["leaderboard"] == [{"name": "held-out NELBO", "value": 101.5, "order": "asc"}]
    assert all(t["status"] == "passed" for t in outcome["tests"])


def test_a_harness_failure_flags_every_test_as_the_grader_s():
    outcome = results.harness_failure(TESTS, 1.0)
    jsonschema.validate(outcome, results.SCHEMA)
    assert outcome["score"] == 0 and results.grader_failures(outcome) == [t["number"] for t in TESTS]
    assert all(t["extra_data"] == {"grader_failure": True} for t in outcome["tests"])
