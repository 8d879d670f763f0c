"""regrade for course staff: a folder of submissions graded in parallel through the sandboxed worker
into scores.csv (one row per submission), feedback.csv, scores.png and results/NAME/results.json."""
import csv
import json
import subprocess
import zipfile

import pytest

from helpers import GRADED_FILES, HANDOUT, PYTHON, REFERENCE, REPO, submission_from

from autograder import regrade as regrade_module
from autograder import results
from autograder.grade import load_config

TESTS = load_config()["tests"]
NUMBERS = [t["number"] for t in TESTS]
EWC_POINTS = sum(t["points"] for t in TESTS if t["file"] == "ewc.py")


def cli(*args):
    return subprocess.run([PYTHON, "-m", "autograder", "regrade", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_regrade_writes_one_row_per_submission_feedback_and_a_histogram(tmp_path):
    folder = tmp_path / "submissions"
    submission_from(REFERENCE, folder / "alice")
    with zipfile.ZipFile(folder / "bob.zip", "w") as z:
        for f in GRADED_FILES:
            z.write(HANDOUT / f, f)
    submission_from(REFERENCE, folder / "carol", [f for f in GRADED_FILES if f != "ewc.py"])
    out = tmp_path / "staff" / "week9"

    result = cli(folder, "--jobs", "2", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert str(out) in result.stdout.splitlines()[0] and str(out) in result.stdout.splitlines()[-1]
    assert "3 submissions: mean" in result.stdout and "grader failures: 0" in result.stdout

    with open(out / "scores.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["submission", "score", "max_score", *NUMBERS,
                                 "grader_failure", "grader_failed_tests", "notes"]
    assert [r["submission"] for r in rows] == ["alice", "bob", "carol"]
    scores = {r["submission"]: float(r["score"]) for r in rows}
    assert scores == {"alice": 100.0, "bob": 0.0, "carol": 100.0 - EWC_POINTS}
    assert all(float(r["max_score"]) == 100.0 for r in rows)
    assert all(r["grader_failure"] == "no" and r["grader_failed_tests"] == "" for r in rows)
    assert "ewc.py" in rows[2]["notes"] and "\n" not in rows[2]["notes"]
    for row in rows:
        saved = json.loads((out / "results" / row["submission"] / "results.json").read_text())
        assert float(row["score"]) == saved["score"]
        assert {n: float(row[n]) for n in NUMBERS} == {t["number"]: t["score"] for t in saved["tests"]}

    with open(out / "feedback.csv", newline="") as f:
        feedback = list(csv.DictReader(f))
    bob = [r for r in feedback if r["submission"] == "bob"]
    assert [r["test"] for r in bob] == NUMBERS
    assert all("not written yet" in r["output"] and r["status"] == "failed" for r in bob)   # "is" or "are"
    assert any("is not written yet" in r["output"] for r in bob)
    assert len(feedback) == 3 * len(NUMBERS)
    for r in feedback:   # what the student saw, word for word
        saved = json.loads((out / "results" / r["submission"] / "results.json").read_text())
        assert r["output"] == next(t["output"] for t in saved["tests"] if t["number"] == r["test"])

    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regrade_defaults_to_a_folder_beside_the_submissions_and_refuses_to_clobber(tmp_path):
    missing = cli(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    empty = cli(tmp_path / "empty")
    folder = tmp_path / "submissions"
    (folder / "alice").mkdir(parents=True)
    (tmp_path / "submissions-regrade").mkdir()
    (tmp_path / "submissions-regrade" / "gradebook.xlsx").write_text("the TA's own file")
    clobber = cli(folder)
    inside = cli(folder, "--out", folder / "out")
    for result, words in ((missing, "nowhere"), (empty, "no submissions"), (clobber, "submissions-regrade"),
                          (inside, "inside")):
        message = (result.stdout + result.stderr).strip()
        assert result.returncode == 2 and len(message.splitlines()) == 1 and words in message, message
    assert (tmp_path / "submissions-regrade" / "gradebook.xlsx").read_text() == "the TA's own file"


def test_an_earlier_regrade_output_is_replaced_but_nothing_else(tmp_path):
    out = tmp_path / "out"
    regrade_module.prepare(out, tmp_path)
    (out / "results" / "gone").mkdir(parents=True)
    (out / "scores.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    assert regrade_module.refusal(tmp_path / "x", out) is not None   # no folder x
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    assert regrade_module.refusal(tmp_path / "subs", out) is None
    regrade_module.prepare(out, tmp_path / "subs")
    assert sorted(p.name for p in out.iterdir()) == [regrade_module.MARKER, "notes.txt"]


def fake_results(fractions, output="All five files found.", grader_failed=()):
    tests = [results.test_result(t, fractions.get(t["number"], 1.0), "Passed." if t["number"] not in grader_failed
                                 else "the grader failed", grader_failure=t["number"] in grader_failed)
             for t in TESTS]
    return results.build(tests, output, 1.0)


def test_the_writers_flag_grader_failures_and_name_the_submissions_to_rerun(tmp_path):
    graded = {"zed": fake_results({}),
              "amy": fake_results({"2.4": 0.0, "3.4": 0.0}, grader_failed=("2.4", "3.4")),
              "kim": fake_results({"5.1": 0.5}, output="Submission notes:\n- not found in your submission: ewc.py\n"
                                                       "- used hw/utils.py as utils.py")}
    regrade_module.write_scores(tmp_path / "scores.csv", graded, TESTS)
    with open(tmp_path / "scores.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert len({len(r) for r in rows}) == 1 and len(rows) == 4   # rectangular: a header and three rows, no total
    table = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert [r[0] for r in rows[1:]] == ["amy", "kim", "zed"]
    assert table["amy"]["grader_failure"] == "yes" and table["amy"]["grader_failed_tests"] == "2.4 3.4"
    assert float(table["amy"]["2.4"]) == 0.0 and float(table["amy"]["score"]) == graded["amy"]["score"]
    assert table["kim"]["grader_failure"] == "no" and float(table["kim"]["5.1"]) == 0.5 * next(t["points"] for t in TESTS if t["number"] == "5.1")
    assert table["kim"]["notes"] == "not found in your submission: ewc.py; used hw/utils.py as utils.py"
    assert table["zed"]["notes"] == "All five files found."

    lines = regrade_module.summary(graded)
    assert lines[0].startswith("3 submissions: mean ")
    assert lines[1:] == ["grader failures: 1", "re-run these: amy (tests 2.4 3.4)"]

    regrade_module.write_feedback(tmp_path / "feedback.csv", graded)
    with open(tmp_path / "feedback.csv", newline="") as f:
        feedback = list(csv.DictReader(f))
    assert len(feedback) == 3 * len(TESTS) and feedback[0]["submission"] == "amy"
    regrade_module.write_histogram(tmp_path / "scores.png", graded)
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_the_judge_does_not_import_matplotlib():
    probe = "import sys, autograder.regrade, autograder.grade; print('matplotlib' in sys.modules)"
    result = subprocess.run([PYTHON, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("jobs, found, expected", [(99, 3, 3), (99, 50, 8), (0, 3, 1)])
def test_jobs_are_capped_at_the_worker_slots_and_the_submissions(jobs, found, expected):
    assert len(regrade_module.sandbox.WORKER_USERS) == 8
    assert regrade_module.job_count(jobs, found) == expected
