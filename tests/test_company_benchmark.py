"""benchmarks/company_benchmark.py's arguments and its comparison of a grading with the same grading alone
(no gradings run here: the results files are written by hand)."""
import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import company_benchmark as bench  # noqa: E402


def test_defaults_and_quick():
    full, quick = bench.parse_args([]), bench.parse_args(["--quick"])
    assert (full.gradings, full.regrade, full.jobs, full.hogs, full.quick, full.keep) == (50, 20, 4, 2, False, False)
    assert (quick.gradings, quick.regrade, quick.quick) == (12, 10, True)
    assert bench.parse_args(["--quick", "--gradings", "3", "--regrade", "2"]).gradings == 3
    with pytest.raises(SystemExit):
        bench.parse_args(["--jobs", "0"])


def results(*tests):
    return {"score": sum(t["score"] for t in tests), "execution_time": 7.1, "output": "All 5 graded files found.",
            "tests": [dict(t, execution_time=1.0) for t in tests], "extra_data": {"grader_failure": False}}


PASSED = {"number": "1.1", "score": 4.0, "max_score": 4.0, "status": "passed", "output": "Passed."}
STOPPED = {"number": "5.3", "score": 0.0, "max_score": 5.0, "status": "failed",
           "output": "Your code was stopped: it did not finish within the time limit and was stopped."}


def company_with(test, **changes):
    return results(dict(test, **changes), STOPPED) if test is PASSED else results(PASSED, dict(test, **changes))


def test_the_same_grading_with_other_timings_is_not_disturbed():
    alone = {"s": results(PASSED, STOPPED)}
    again = copy.deepcopy(alone["s"])
    again["execution_time"], again["tests"][0]["execution_time"] = 99.0, 42.0
    summary = bench.summarize(alone, [("s", again), ("s", alone["s"])])
    assert (summary["disturbed"], summary["charged_tests"], summary["flagged_tests"]) == (0, 0, 0)
    assert summary["examples"] == []


def test_a_new_error_blamed_on_the_code_is_charged_to_the_student():
    alone = {"s": results(PASSED, STOPPED)}
    blamed = company_with(PASSED, score=0.0, status="failed",
                          output="Your code raised an error:\nFileNotFoundError: [Errno 2] No such file")
    summary = bench.summarize(alone, [("s", blamed), ("s", blamed)])
    assert (summary["disturbed"], summary["charged_tests"], summary["charged_gradings"]) == (2, 2, 2)
    assert len(summary["examples"]) == 1   # the same difference twice is one example
    assert summary["examples"][0][:2] == ("s", "1.1")


def test_points_lost_in_other_words_are_charged_too():
    alone = {"s": results(PASSED, STOPPED)}
    lost = company_with(PASSED, score=2.0, status="failed", output="The variance is wrong.")
    assert bench.summarize(alone, [("s", lost)])["charged_tests"] == 1


def test_a_flagged_grader_failure_is_disturbed_but_not_charged():
    alone = {"s": results(PASSED, STOPPED)}
    failed = company_with(PASSED, score=0.0, status="failed", extra_data={"grader_failure": True},
                          output="The grader or the machine failed ...; this is not a verdict on your code.")
    failed["extra_data"] = {"grader_failure": True, "grader_failed_tests": ["1.1"]}
    summary = bench.summarize(alone, [("s", failed)])
    assert (summary["disturbed"], summary["charged_tests"]) == (1, 0)
    assert (summary["flagged_tests"], summary["flagged_gradings"]) == (1, 1)


def test_the_same_blame_as_alone_is_not_charged_and_a_missing_results_file_is_disturbed():
    alone = {"s": results(PASSED, STOPPED), "t": results(PASSED, STOPPED)}
    reworded = company_with(PASSED, output="Passed (on a second try).")
    summary = bench.summarize(alone, [("s", copy.deepcopy(alone["s"])), ("t", reworded), ("s", None)])
    assert (summary["disturbed"], summary["no_results"], summary["charged_tests"]) == (2, 1, 0)
    assert summary["disturbed_by_submission"] == {"s": 1, "t": 1}
    assert summary["by_submission"] == {"s": 2, "t": 1}
