"""The grader installs and runs on Python 3.10 to 3.13 (Gradescope's default image has 3.10), proved
without that Python: uv resolves the pinned requirements for each target, and no code that the grader
or the handout runs uses syntax or standard library newer than 3.10."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]
# What runs on Gradescope or on a student's machine (tests may use the dev machine's Python).
SHIPPED = ["autograder", "student_template", "reference", "staff", "benchmarks"]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("python", SUPPORTED)
def test_the_students_requirements_resolve_and_accept_the_grader_s_pins(python):
    """Lower bounds: the grader's pinned versions (what CI tests the handout with) satisfy them."""
    pins = {line.split("==")[0].lower(): line.split("==")[1].split(";")[0].strip()
            for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")}
    student = [line.strip() for line in (REPO / "requirements-student.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert all(">=" in line and "==" not in line for line in student)
    constraints = REPO / "requirements.txt"
    result = subprocess.run([BIN / "uv", "pip", "compile", "--python-version", python,
                             "--python-platform", "x86_64-manylinux_2_28", "--only-binary", ":all:", "--no-header",
                             "--quiet", "--constraint", constraints, REPO / "requirements-student.txt"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = dict(line.split("==") for line in result.stdout.splitlines() if "==" in line and not line.startswith(" "))
    for line in student:
        name = line.split(">=")[0].lower()
        assert resolved[name] == pins[name], (name, resolved[name], pins[name])


@pytest.mark.parametrize("python", SUPPORTED)
def test_the_pinned_requirements_resolve_to_wheels_for(python):
    result = subprocess.run([BIN / "uv", "pip", "compile", "--python-version", python,
                             "--python-platform", "x86_64-manylinux_2_28", "--only-binary", ":all:",
                             "--no-header", "--quiet", REPO / "requirements.txt"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = dict(line.split("==") for line in result.stdout.splitlines() if "==" in line and not line.startswith(" "))
    pinned = dict(line.split(";")[0].strip().split("==") for line in (REPO / "requirements.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    assert {name.lower(): v for name, v in pinned.items()}.items() <= {n.lower(): v for n, v in resolved.items()}.items()


def shipped_sources():
    return sorted(p for folder in SHIPPED if (REPO / folder).is_dir() for p in (REPO / folder).rglob("*.py"))


def test_shipped_code_parses_as_python_3_10():
    sources = shipped_sources()
    assert len(sources) > 30
    for path in sources:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 10))


def test_shipped_code_uses_no_standard_library_newer_than_3_10():
    # vermin knows when each standard-library module, function and keyword argument appeared.
    result = subprocess.run([BIN / "vermin", "-t=3.10-", "--violations", "--no-tips", "--eval-annotations",
                             *[str(REPO / f) for f in SHIPPED if (REPO / f).is_dir()]],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Minimum required versions" in result.stdout


def test_vermin_does_catch_a_3_11_feature(tmp_path):
    """The check above can fail: tomllib and ExceptionGroup are 3.11."""
    (tmp_path / "new.py").write_text("import tomllib\nraise ExceptionGroup('x', [ValueError()])\n")
    result = subprocess.run([BIN / "vermin", "-t=3.10-", "--violations", "--no-tips", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "tomllib" in result.stdout
