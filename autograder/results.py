"""Gradescope's results.json: build, validate, summarize, write.

Format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ (top-level score,
execution_time, output, tests[] with name, number, score, max_score, status, output, visibility).
"""
import json
import os
import tempfile
from pathlib import Path

from autograder.version import grader_version

SCHEMA = {
    "type": "object",
    "required": ["score", "execution_time", "output", "tests"],
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "stdout_visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
        "extra_data": {"type": "object"},
        "leaderboard": {"type": "array", "items": {"type": "object", "required": ["name", "value"]}},
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "number", "score", "max_score", "status", "output", "visibility"],
            "properties": {
                "name": {"type": "string"}, "number": {"type": "string"},
                "score": {"type": "number", "minimum": 0}, "max_score": {"type": "number", "minimum": 0},
                "status": {"enum": ["passed", "failed"]}, "output": {"type": "string"},
                "visibility": {"enum": ["hidden", "after_due_date", "after_published", "visible"]},
                "extra_data": {"type": "object"},
            },
        }},
    },
}
CONTACT_STAFF = ("The autograder itself failed while grading your submission; this is not a verdict on your code. "
                 "Please contact the course staff (include the time of your submission).")


def test_result(test, fraction, message):
    """A test's entry as gradescope-utils' JSONTestResult makes it, for results with no suite run."""
    return {"name": test["name"], "number": str(test["number"]), "score": round(test["points"] * fraction, 4),
            "max_score": float(test["points"]), "status": "passed" if fraction >= 1 else "failed",
            "output": message, "visibility": test.get("visibility", "visible")}


def grader_failures(results):
    """Numbers of the tests the grader (not the submission) failed; regrade lists them for a re-run."""
    return [t["number"] for t in results["tests"] if t.get("extra_data", {}).get("grader_failure")]


def build(tests, output, execution_time, *, grader_failed=(), devices=None, diagnosed=None, leaderboard=()):
    """The whole results.json (the one place that builds it) from the tests' entries (as gradescope-utils'
    JSONTestResult or test_result makes them). Each entry's extra_data gets: `grader_failure` for the
    numbers in `grader_failed`; `device`, the one its training ran on ({number: device}); `diagnosed`,
    the diagnosis keys its message named ({number: keys}, selfcheck/diagnoses.py), kept for staff's class
    report (students see the message, not the keys). `leaderboard`: gradescope-utils' entries, those
    the grading measured no value for left out."""
    devices, diagnosed = devices or {}, diagnosed or {}
    for t in tests:
        t.setdefault("output", "")   # gradescope-utils leaves out an empty output; the format requires one
        extra = {"grader_failure": True} if t["number"] in grader_failed else {}
        if t["number"] in devices:
            extra["device"] = devices[t["number"]]
        if diagnosed.get(t["number"]):
            extra["diagnosed"] = sorted(diagnosed[t["number"]])
        if extra:
            t["extra_data"] = {**t.get("extra_data", {}), **extra}
    failed = [t["number"] for t in tests if t.get("extra_data", {}).get("grader_failure")]
    built = {"score": round(sum(t["score"] for t in tests), 4), "execution_time": round(execution_time, 2),
             "output": output, "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
             "extra_data": {"grader_failure": bool(failed), "grader_failed_tests": failed,
                            "grader_version": grader_version()}}
    board = [entry for entry in leaderboard if entry.get("value") is not None]
    if board:
        built["leaderboard"] = board
    return built


def diagnosed(results):
    """{test number: [diagnosis keys]} recorded in a results file (build's `diagnosed`)."""
    return {t["number"]: t.get("extra_data", {}).get("diagnosed", []) for t in results["tests"]}


def harness_failure(config_tests, execution_time, detail=""):
    """A valid results file when grading could not complete: every test at 0, flagged as the grader's
    failure; `detail` (for staff) goes to the log, not to students."""
    if detail:
        print(f"grader failure: {detail}", flush=True)
    tests = [test_result(t, 0.0, CONTACT_STAFF) for t in config_tests]
    return build(tests, CONTACT_STAFF, execution_time, grader_failed={t["number"] for t in tests})


def write(results, path):
    """Write atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-")
    with os.fdopen(fd, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)


def summary(results):
    lines = []
    for t in results["tests"]:
        mark = "ok  " if t["status"] == "passed" else "FAIL"
        lines.append(f"{mark} {t['number']:>4}  {t['score']:5.2f}/{t['max_score']:<5.1f} {t['name']}")
        if t["status"] != "passed":
            lines.extend("            " + line for line in t["output"].splitlines()[:6])
    total = sum(t["max_score"] for t in results["tests"])
    lines.append(f"score: {results['score']:.2f} / {total:.0f}   ({results['execution_time']:.1f} s)")
    return "\n".join(lines)
