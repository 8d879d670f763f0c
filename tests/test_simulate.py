"""The package graded exactly as Gradescope grades it (python -m staff simulate): the zip extracted with
its modes into ROOT/source, setup.sh run there as root, the COPY of run_autograder run from ROOT, the
upload in ROOT/submission, a 768 MB memory cgroup. The environment setup.sh would pip-install is
borrowed from this checkout (staff/pristine_image.sh does the real install on a pristine root)."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from helpers import GRADED_FILES, HANDOUT, PYTHON, REFERENCE, REPO

from autograder.config import load_config
from autograder.results import SCHEMA

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope runs setup.sh and run_autograder as root")
TESTS = load_config()["tests"]


@pytest.fixture(scope="module")
def package_zip(tmp_path_factory):
    from staff.package import package
    return package(tmp_path_factory.mktemp("package") / "autograder.zip", allow_dirty=True, grade=False)


@pytest.fixture(scope="module")
def root():
    folder = Path(tempfile.mkdtemp(prefix="simulate-test-", dir="/var/tmp"))   # world-traversable, like /autograder
    yield folder
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


def upload_zip(folder, destination):
    with zipfile.ZipFile(destination, "w") as z:
        for f in GRADED_FILES:
            z.write(folder / f, f)
    return destination


def simulate(upload, package_zip, root):
    result = subprocess.run([PYTHON, "-m", "staff", "simulate", str(upload), "--package", str(package_zip),
                             "--root", str(root), "--venv", str(REPO / ".venv"), "--memory-mb", "768"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    outcome = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(outcome, SCHEMA)
    return result, outcome


def source_tree(source):
    """Every file of the extracted package but the environment: path -> (sha256, mode)."""
    return {p.relative_to(source).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(source.rglob("*")) if p.is_file() and ".venv" not in p.relative_to(source).parts}


def test_the_package_holds_what_grading_needs_and_nothing_else(package_zip):
    with zipfile.ZipFile(package_zip) as z:
        infos = {i.filename: i for i in z.infolist()}
    for script in ("setup.sh", "run_autograder"):
        assert (infos[script].external_attr >> 16) & 0o777 == 0o755, script
    assert "autograder/goldens/manifest.json" in infos and "student_template/utils.py" in infos
    assert not [n for n in infos if n.startswith(("reference/", "tests/", "staff/", "benchmarks/"))]
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc")]


def test_the_reference_gets_full_marks_as_gradescope_runs_it(package_zip, root, tmp_path):
    result, outcome = simulate(upload_zip(REFERENCE, tmp_path / "reference.zip"), package_zip, root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = {t["number"]: t["output"] for t in outcome["tests"] if t["status"] != "passed"}
    assert outcome["score"] == 100 and not failed, failed
    assert (root / "run_autograder").read_bytes() == (root / "source" / "run_autograder").read_bytes()
    assert "inside a 768 MB memory cgroup" in result.stdout and "memory peak" in result.stdout


def test_the_handout_gets_zero_with_a_clear_message_per_test(package_zip, root, tmp_path):
    result, outcome = simulate(HANDOUT, package_zip, root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert outcome["score"] == 0 and [t["number"] for t in outcome["tests"]] == [t["number"] for t in TESTS]
    for t in outcome["tests"]:
        assert "not written yet" in t["output"], t
    assert "reusing" in result.stdout            # setup.sh ran once for this package


def test_grading_writes_nothing_into_the_source_folder(package_zip, root, tmp_path):
    simulate(upload_zip(REFERENCE, tmp_path / "reference.zip"), package_zip, root)   # set up, graded once
    before = source_tree(root / "source")
    _, outcome = simulate(upload_zip(REFERENCE, tmp_path / "again.zip"), package_zip, root)
    assert outcome["score"] == 100
    after = source_tree(root / "source")
    assert sorted(set(after) - set(before)) == [] and sorted(set(before) - set(after)) == []
    assert {k for k in before if before[k][0] != after[k][0]} == set()


def test_a_broken_environment_still_gives_students_a_results_file(root, tmp_path):
    """run_autograder's last resort: Python cannot even start (here: no environment at all)."""
    broken = Path(tempfile.mkdtemp(prefix="simulate-broken-", dir="/var/tmp"))
    try:
        (broken / "source").mkdir()
        shutil.copy2(REPO / "run_autograder", broken / "run_autograder")
        (broken / "submission").mkdir()
        env = {**os.environ, "AUTOGRADER_ROOT": str(broken)}
        done = subprocess.run(["./run_autograder"], cwd=broken, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        outcome = json.loads((broken / "results" / "results.json").read_text())
        jsonschema.validate(outcome, SCHEMA)
        assert "not a verdict on your code" in outcome["output"] and outcome["extra_data"]["grader_failure"]
    finally:
        shutil.rmtree(broken, ignore_errors=True)
