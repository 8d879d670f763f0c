"""Grading end to end through the sandboxed worker: the reference gets full marks, the handout zero
with a clear message on every test, a zipped and nested reference full marks, results always valid."""
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import jsonschema
import pytest

from helpers import GRADED_FILES, HANDOUT, OTHER_CPUS, PYTHON, REFERENCE, REPO, submission_from

from autograder import results as results_module
from autograder.grade import grade, load_config

CONFIG = load_config()
TOTAL = sum(t["points"] for t in CONFIG["tests"])


def valid(results):
    jsonschema.validate(results, results_module.SCHEMA)
    assert [t["number"] for t in results["tests"]] == [t["number"] for t in CONFIG["tests"]]
    return results


@pytest.fixture(scope="module")
def reference_results(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "results.json"
    outcome = grade(submission_from(REFERENCE, tmp_path_factory.mktemp("sub")), path, quiet=True)
    assert json.loads(path.read_text()) == outcome
    return valid(outcome)


def test_the_reference_gets_full_marks(reference_results):
    failed = {t["number"]: t["output"] for t in reference_results["tests"] if t["status"] != "passed"}
    assert not failed
    assert reference_results["score"] == TOTAL == 100


def test_the_untouched_handout_gets_zero_with_a_clear_message_on_every_test(tmp_path):
    outcome = valid(grade(submission_from(HANDOUT, tmp_path / "sub"), tmp_path / "results.json", quiet=True))
    assert outcome["score"] == 0
    for t in outcome["tests"]:
        assert t["status"] == "failed" and t["score"] == 0
        assert "not written yet" in t["output"], t
        assert "upload again" in t["output"]


def test_a_zipped_reference_nested_in_a_folder_with_junk_gets_full_marks(tmp_path, reference_results):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as z:
        for f in GRADED_FILES:
            z.write(REFERENCE / f, f"hw2_submission/{f}")
            z.writestr(f"__MACOSX/hw2_submission/._{Path(f).name}", b"\x00\x05\x16\x07junk")
        z.writestr("hw2_submission/.ipynb_checkpoints/utils-checkpoint.py", "raise SystemExit('junk')")
        z.writestr("hw2_submission/notebook.ipynb", "{}")
        z.writestr("hw2_submission/data/MNIST/raw/train-images-idx3-ubyte", b"\x00" * 1000)
    outcome = valid(grade(upload, tmp_path / "results.json", quiet=True))
    assert outcome["score"] == TOTAL


def test_grading_twice_gives_the_same_results_timing_aside(reference_results, tmp_path):
    again = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    strip = lambda r: {k: v for k, v in r.items() if k != "execution_time"}
    assert strip(again) == strip(reference_results)


def test_a_file_that_does_not_import_costs_only_its_tests(tmp_path):
    sub = submission_from(REFERENCE, tmp_path / "sub")
    (sub / "diffusion.py").write_text("def alpha_bars(betas)\n    return betas\n")
    outcome = valid(grade(sub, None, quiet=True))
    for t, c in zip(outcome["tests"], CONFIG["tests"]):
        if c["file"] == "diffusion.py":
            assert t["score"] == 0 and "SyntaxError" in t["output"] and "diffusion" in t["output"]
        else:
            assert t["status"] == "passed", t


def test_a_missing_file_is_named_and_the_rest_is_graded(tmp_path):
    sub = submission_from(REFERENCE, tmp_path / "sub", [f for f in GRADED_FILES if f != "ewc.py"])
    outcome = valid(grade(sub, None, quiet=True))
    assert "ewc.py" in outcome["output"]
    ewc_points = sum(c["points"] for c in CONFIG["tests"] if c["file"] == "ewc.py")
    assert outcome["score"] == TOTAL - ewc_points
    assert all("ewc.py was not found" in t["output"] for t, c in zip(outcome["tests"], CONFIG["tests"]) if c["file"] == "ewc.py")


def test_a_corrupt_zip_still_yields_a_valid_results_file(tmp_path):
    upload = tmp_path / "broken.zip"
    upload.write_bytes(b"PK\x03\x04 this is not really a zip")
    outcome = valid(grade(upload, tmp_path / "results.json", quiet=True))
    assert outcome["score"] == 0 and "neither a folder nor a valid zip" in outcome["output"]


def test_a_damaged_golden_costs_no_student_a_point_it_is_the_grader_s_flagged_failure(tmp_path, monkeypatch):
    from autograder.checks import inputs
    from autograder.results import grader_failures
    broken = tmp_path / "goldens"
    shutil.copytree(inputs.GOLDENS, broken)
    (broken / "vae_bound.npz").write_bytes(b"corrupted")
    monkeypatch.setattr(inputs, "GOLDENS", broken)
    outcome = valid(grade(submission_from(REFERENCE, tmp_path / "sub"), tmp_path / "results.json", quiet=True))
    flagged = grader_failures(outcome)
    assert flagged == ["2.1", "2.2", "2.3"]   # the tests that read vae_bound.npz; the others grade as usual
    for t in outcome["tests"]:
        if t["number"] in flagged:
            assert "this is not a verdict on your code" in t["output"] and "Your code" not in t["output"]
        else:
            assert t["status"] == "passed", t
    assert json.loads((tmp_path / "results.json").read_text()) == outcome


def test_a_harness_failure_still_writes_valid_results_telling_students_to_contact_staff(tmp_path, monkeypatch):
    from autograder import submission
    def broken(*args):
        raise RuntimeError("a bug in the upload reader")
    monkeypatch.setattr(submission, "collect", broken)
    outcome = valid(grade(submission_from(REFERENCE, tmp_path / "sub"), tmp_path / "results.json", quiet=True))
    assert outcome["score"] == 0 and "contact the course staff" in outcome["output"]
    assert outcome["extra_data"]["grader_failure"] and len(outcome["tests"]) == len(CONFIG["tests"])
    assert json.loads((tmp_path / "results.json").read_text()) == outcome


def test_the_cli_prints_a_summary_and_exits_0_whatever_the_score(tmp_path):
    result = subprocess.run([PYTHON, "-m", "autograder", "grade", str(HANDOUT), "--results", str(tmp_path / "r.json")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "score: 0.00 / 100" in result.stdout
    valid(json.loads((tmp_path / "r.json").read_text()))


def test_the_profile_says_where_each_phase_s_time_and_memory_go(tmp_path):
    result = subprocess.run([PYTHON, "-m", "autograder", "grade", str(REFERENCE), "--results", str(tmp_path / "r.json"),
                             "--profile", str(tmp_path / "p.json")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    phases = {p["phase"]: p for p in json.loads((tmp_path / "p.json").read_text())}
    tests = [f"test {t['number']}" for t in CONFIG["tests"]]
    assert list(phases) == ["judge start", "worker start (torch, the homework)", *tests, "cleanup"]
    assert all(p["wall_s"] > 0 and p["judge_anon_mb"] > 0 for p in phases.values())
    # the worker imported torch (a few hundred MB of its own heap); the judge never does
    assert all(phases[t]["worker_anon_mb"] > 100 for t in tests) and phases["test 2.4"]["worker_cpu_s"] > 0.1
    assert max(p["judge_anon_mb"] for p in phases.values()) < min(phases[t]["worker_anon_mb"] for t in tests)


@pytest.fixture(scope="module")
def wrong_submission(tmp_path_factory):
    """Two wrong files: sample_gaussian with v as the standard deviation, a VAE bound summed over the batch."""
    from apply import apply_variant, load_variants
    corpus = {v["name"]: v for v in load_variants(REPO / "tests" / "corpus" / "accuracy")}
    tmp = tmp_path_factory.mktemp("wrong")
    sub = apply_variant(REFERENCE, corpus["std_for_variance"], tmp / "sub")
    apply_variant(REFERENCE, corpus["vae_sum_over_batch"], tmp / "vae")
    (sub / "models" / "vae.py").write_bytes((tmp / "vae" / "models" / "vae.py").read_bytes())
    return sub


def test_a_wrong_submission_graded_twice_gives_the_same_results(wrong_submission):
    """Statistical checks and training runs included: seeds per test, one thread, derandomized hypothesis."""
    first, second = (grade(wrong_submission, None, quiet=True) for _ in range(2))
    strip = lambda r: {k: v for k, v in r.items() if k != "execution_time"}
    assert first["score"] < TOTAL
    assert strip(first) == strip(second)


@pytest.mark.parametrize("cpu", OTHER_CPUS)
def test_another_cpu_s_kernels_give_every_test_the_same_score(cpu, wrong_submission, tmp_path, monkeypatch):
    """Rounding moves in the last bits there; no verdict may move with it (training checks included)."""
    native = [grade(s, None, quiet=True) for s in (submission_from(REFERENCE, tmp_path / "ref"), wrong_submission)]
    for name, value in OTHER_CPUS[cpu].items():
        monkeypatch.setenv(name, value)
    other = [grade(s, None, quiet=True) for s in (tmp_path / "ref", wrong_submission)]
    verdicts = lambda r: [(t["number"], t["score"], t["status"]) for t in r["tests"]]
    assert other[0]["score"] == TOTAL
    assert [verdicts(r) for r in other] == [verdicts(r) for r in native]


def test_the_worker_gets_the_kernel_settings_and_nothing_else_of_the_judge_s_environment(monkeypatch):
    from autograder.sandbox import worker_environment
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.delenv("MKL_ENABLE_INSTRUCTIONS", raising=False)
    monkeypatch.setenv("AUTOGRADER_SECRET_PROBE", "judge only")
    env = worker_environment(Path("/scratch/worker"))
    assert env["ATEN_CPU_CAPABILITY"] == "avx2" and "MKL_ENABLE_INSTRUCTIONS" not in env
    assert "AUTOGRADER_SECRET_PROBE" not in env and env["HOME"] == "/scratch/worker/home"
