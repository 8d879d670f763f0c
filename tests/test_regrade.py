"""regrade for course staff: a folder of submissions graded in parallel through the sandboxed worker
into scores.csv (one row per submission), feedback.csv, scores.png and results/NAME/results.json;
Gradescope's export read with its metadata (names, old scores, changed.csv); the class report."""
import csv
import json
import re
import subprocess
import sys
import zipfile
from collections import Counter

import pytest
import yaml

from helpers import GRADED_FILES, HANDOUT, PYTHON, REFERENCE, REPO, submission_from

from autograder import export, report, results
from autograder import regrade as regrade_module
from autograder.grade import load_config
from autograder.selfcheck.expect import DIAGNOSES

sys.path.insert(0, str(REPO / "tests" / "corpus" / "accuracy"))
from apply import apply_variant, load_variants  # noqa: E402  (the corpus's own builder)

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
                                 else "the grader failed") for t in TESTS]
    return results.build(tests, output, 1.0, grader_failed=grader_failed)


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


# --- Gradescope's export, provenance and the class report -------------------------------------------

VARIANTS = {v["name"]: v for v in load_variants(REPO / "tests" / "corpus" / "accuracy")}
# Wrong variants of two files, with one declared cause each (two pairs share theirs), and a correct one.
CLASS = ["std_for_variance", "logvar_half_exp", "logvar_full_exp", "d_loss_sum", "nonsat_sum", "d_loss_softplus"]


def head_commit():
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def metadata_entry(name, sid, score, *partners):
    people = [{":name": name, ":sid": sid, ":email": f"{sid}@example.edu"}]
    people += [{":name": p, ":sid": f"{sid}{i}", ":email": f"{sid}{i}@example.edu"} for i, p in enumerate(partners)]
    entry = {":submitters": people, ":created_at": "2026-11-30 23:58:12.000000000 -08:00", ":history": []}
    if score is not None:
        entry[":score"] = score
    return entry


def write_export(root, uploads):
    """An export laid out as Gradescope's: submission_<id>/ folders and submission_metadata.yml.
    `uploads`: [(id, source folder of graded files, metadata entry)]."""
    root.mkdir(parents=True)
    metadata = {}
    for number, source, entry in uploads:
        submission_from(source, root / f"submission_{number}")
        metadata[f"submission_{number}"] = entry
    (root / export.METADATA).write_text(yaml.safe_dump(metadata, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def class_export(tmp_path_factory):
    """A class of 8 (the reference, the handout, the variants of CLASS) exported from Gradescope as a
    zip (one top folder), regraded once for the tests below."""
    base = tmp_path_factory.mktemp("export")
    for name in CLASS:
        apply_variant(REFERENCE, VARIANTS[name], base / "variants" / name)
    uploads = [(1001, REFERENCE, metadata_entry("Ada Lovelace", "1815", 100.0)),
               (1002, HANDOUT, metadata_entry("Blank Page", "2000", 0.0))]
    uploads += [(1100 + i, base / "variants" / name, metadata_entry(f"Student {name}", f"3{i}", 100.0))
                for i, name in enumerate(CLASS)]
    uploads[-1] = (uploads[-1][0], uploads[-1][1], metadata_entry("Pair One", "4000", None, "Pair Two"))
    folder = write_export(base / "assignment_77_export", uploads)
    with zipfile.ZipFile(base / "assignment_77_export.zip", "w") as z:
        for path in sorted(folder.rglob("*")):
            z.write(path, path.relative_to(base).as_posix())
    out = base / "out"
    result = cli(base / "assignment_77_export.zip", "--jobs", "2", "--out", out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(out / "scores.csv", newline="") as f:
        rows = {r["submission"]: r for r in csv.DictReader(f)}
    return {"out": out, "stdout": result.stdout, "rows": rows, "names": ["submission_1001", "submission_1002"]
            + [f"submission_{1100 + i}" for i in range(len(CLASS))]}


def test_an_export_zip_is_regraded_with_names_old_and_new_scores_and_the_changes(class_export):
    rows, out = class_export["rows"], class_export["out"]
    assert sorted(rows) == class_export["names"]   # one row per submission, named after its folder
    ada, blank, pair = rows["submission_1001"], rows["submission_1002"], rows[f"submission_{1100 + len(CLASS) - 1}"]
    assert (ada["names"], ada["emails"], ada["sids"], ada["submission_id"]) == (
        "Ada Lovelace", "1815@example.edu", "1815", "1001")
    assert ada["submitted_at"].startswith("2026-11-30 23:58:12")
    assert float(ada["old_score"]) == 100.0 and float(ada["score"]) == 100.0 and float(ada["difference"]) == 0.0
    assert float(blank["score"]) == 0.0 and float(blank["difference"]) == 0.0
    assert pair["names"] == "Pair One; Pair Two" and pair["sids"] == "4000; 40000"   # a group: one row
    assert pair["old_score"] == "" and pair["difference"] == "" and float(pair["score"]) == 100.0   # d_loss_softplus
    with open(out / "changed.csv", newline="") as f:
        changed = list(csv.DictReader(f))
    wrong = [f"submission_{1100 + i}" for i, name in enumerate(CLASS) if VARIANTS[name]["kind"] == "wrong"]
    assert [r["submission"] for r in changed] == wrong
    for r in changed:
        assert float(r["old_score"]) == 100.0 and float(r["score"]) < 100.0
        assert float(r["difference"]) == pytest.approx(float(r["score"]) - 100.0, abs=1e-3)
        assert r["names"] == rows[r["submission"]]["names"]
    assert f"score changed: {len(wrong)} (0 up, {len(wrong)} down; changed.csv); no previous score: 1" in class_export["stdout"]


def test_the_grader_version_is_printed_recorded_and_in_every_results_file(class_export):
    commit = head_commit()
    assert f"regrade: grader {commit[:12]}" in class_export["stdout"]
    assert commit[:12] in (class_export["out"] / regrade_module.MARKER).read_text()
    assert commit[:12] in (class_export["out"] / "report.md").read_text()
    for name in class_export["names"]:
        saved = json.loads((class_export["out"] / "results" / name / "results.json").read_text())
        assert saved["extra_data"]["grader_version"]["commit"] == commit


def report_mistakes(text):
    """{key: (submissions, tests)} from report.md's table of diagnosed mistakes."""
    found = {}
    for line in text.splitlines():
        m = re.fullmatch(r"\| (\d+) \| \d+% \| (.+) \| `(\w+)` \| ([\d. ]+) \|", line)
        if m:
            assert m.group(2).replace("\\|", "|") == DIAGNOSES[m.group(3)]   # with its plain-language meaning
            found[m.group(3)] = (int(m.group(1)), m.group(4).split())
    return found


def test_the_class_report_counts_each_declared_mistake_once_per_submission(class_export):
    text = (class_export["out"] / "report.md").read_text()
    mistakes = report_mistakes(text)
    declared = Counter(key for name in CLASS for key in VARIANTS[name].get("keys") or [])
    declared["not_written"] += 1   # the handout: every function still raises NotImplementedError
    assert {key: count for key, (count, _) in mistakes.items()} == dict(declared)
    counts = [count for count, _ in mistakes.values()]
    assert counts == sorted(counts, reverse=True)   # the most common first
    assert set(mistakes["sg_logvar"][1]) <= {"1.1", "1.2", "1.3", "1.4"}
    assert set(mistakes["gan_sum"][1]) <= {"3.1", "3.2", "3.3", "3.4"}
    assert "Lost points with no cause named: 0 submission(s)." in text
    assert "0 submission(s) with a test the grader (not the submission) failed." in text
    # tests of files no variant touches: full but for the handout, whose every test is a zero
    for number in ("2.1", "4.3", "5.4"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {number} |"))
        assert "| 88% (7) | 0% (0) | 12% (1) | 0 |" in row, row
    for png in ("tests.png", "mistakes.png", "scores.png"):
        assert (class_export["out"] / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_report_counts_grader_failures_apart_from_zeros_and_unexplained_losses(tmp_path):
    graded = {"amy": fake_results({"2.4": 0.0}, grader_failed=("2.4",)),
              "kim": fake_results({"5.1": 0.5}),
              "zed": fake_results({})}
    graded["zed"]["tests"][0].setdefault("extra_data", {})["diagnosed"] = ["sg_logvar"]
    graded["zed"]["tests"][0]["score"] = 0.0
    text = report.markdown(graded, TESTS, {"commit": "f" * 40, "dirty": True, "source": "checkout"})
    assert "Grader ffffffffffff + uncommitted edits." in text
    assert "1 submission(s) with a test the grader (not the submission) failed: amy (grade them again)." in text
    assert "Lost points with no cause named: 1 submission(s) (kim)." in text
    row = next(line for line in text.splitlines() if line.startswith("| 2.4 |"))
    assert row.endswith("| 67% (2) | 0% (0) | 0% (0) | 1 |")   # the failed test is not a zero
    assert report_mistakes(text) == {"sg_logvar": (1, [TESTS[0]["number"]])}


def test_an_export_folder_with_its_metadata_at_the_top_is_read_as_it_comes(tmp_path):
    folder = write_export(tmp_path / "export", [(5, HANDOUT, metadata_entry("Blank Page", "2000", 12.5))])
    out = tmp_path / "out"
    result = cli(folder, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out / "scores.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["submission"], row["names"], row["old_score"], row["score"], row["difference"]) == (
        "submission_5", "Blank Page", "12.5", "0.0", "-12.5")
    with open(out / "changed.csv", newline="") as f:
        assert [r["submission"] for r in csv.DictReader(f)] == ["submission_5"]


def test_the_metadata_reader_takes_gradescope_yaml_as_it_is_written(tmp_path):
    (tmp_path / export.METADATA).write_text(
        "submission_42:\n"
        "  :submitters:\n"
        "  - :name: Ada Lovelace\n"
        "    :sid: '01815'\n"
        "    :email: ada@example.edu\n"
        "  :created_at: 2026-11-30 23:58:12.618425000 -08:00\n"
        "  :score: !ruby/object:BigDecimal 18:0.875e2\n"
        "  :history:\n"
        "  - :id: 41\n"
        "    :score: 50.0\n"
        "submission_43:\n"
        "  :submitters: []\n")
    rows = export.read(tmp_path)
    assert rows["submission_42"]["names"] == "Ada Lovelace" and rows["submission_42"]["sids"] == "01815"
    assert rows["submission_42"]["submission_id"] == "42"   # the folder's number, not the history's
    assert rows["submission_42"]["old_score"] is None        # an unreadable score is not guessed
    assert rows["submission_43"] == {"submission_id": "43", "submitted_at": "", "names": "", "emails": "", "sids": "",
                                     "old_score": None}
    outer = tmp_path / "download"
    (outer / "assignment_7_export").mkdir(parents=True)
    assert export.root_of(outer) is None                    # no metadata: a plain folder of submissions
    (tmp_path / export.METADATA).rename(outer / "assignment_7_export" / export.METADATA)
    assert export.root_of(outer) == outer / "assignment_7_export"   # the export's one top folder


def test_an_export_with_no_submission_folders_is_refused_in_one_line(tmp_path):
    (tmp_path / "download" / "assignment_1_export").mkdir(parents=True)
    (tmp_path / "download" / "assignment_1_export" / export.METADATA).write_text("{}\n")
    result = cli(tmp_path / "download", "--out", tmp_path / "out")
    message = (result.stdout + result.stderr).strip()
    assert result.returncode == 2 and len(message.splitlines()) == 1 and "no submissions" in message, message
    assert not (tmp_path / "out").exists()
