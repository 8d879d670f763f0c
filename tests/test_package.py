"""staff package refuses a package that cannot grade, and the zip says which grader it is.

Each test packages a throw-away git copy of this checkout (its tracked files, one commit) after the
change a TA might make: points that do not sum to 100, a provided helper edited, a check that no longer
passes the reference or that gives a stub points, uncommitted edits."""
import json
import os
import re
import shutil
import subprocess
import zipfile
import pytest

from helpers import PYTHON, REPO

GIT = {**os.environ, "GIT_AUTHOR_NAME": "TA", "GIT_AUTHOR_EMAIL": "ta@example.edu", "GIT_COMMITTER_NAME": "TA",
       "GIT_COMMITTER_EMAIL": "ta@example.edu"}


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], env=GIT, check=True, capture_output=True, text=True).stdout


def copy_of_checkout(destination):
    """A git repository holding this checkout's tracked files (as they are now) in one commit, with
    this checkout's environment and data linked in."""
    for name in git(REPO, "ls-files", "-z").split("\0"):
        if name and (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    (destination / ".venv").symlink_to((REPO / ".venv").resolve())
    if (REPO / "reference" / "data").exists():
        (destination / "reference" / "data").symlink_to((REPO / "reference" / "data").resolve())
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    git(destination, "commit", "-qm", "the course's grader")
    return destination


def staff(repo, *args):
    return subprocess.run([PYTHON, "-m", "staff", *args], cwd=repo, capture_output=True, text=True, timeout=900)


def edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new))


@pytest.fixture
def checkout(tmp_path):
    return copy_of_checkout(tmp_path / "course")


def refused(result, out, *words):
    assert result.returncode != 0, result.stdout[-3000:]
    assert not out.exists()
    assert "refused, nothing written" in result.stdout
    for w in words:
        assert w in result.stdout, (w, result.stdout[-3000:])


def test_a_clean_checkout_is_packaged_with_its_version_and_grades_as_that_version(checkout):
    out = checkout / "dist" / "autograder.zip"
    result = staff(checkout, "package", "--out", out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the reference gets 100 / 100" in result.stdout and "the handout gets 0 / 100" in result.stdout
    commit = git(checkout, "rev-parse", "HEAD").strip()
    with zipfile.ZipFile(out) as z:
        built = json.loads(z.read("autograder/version.json"))
        names = z.namelist()
        z.extractall(checkout / "extracted")
    assert built["commit"] == commit and built["dirty"] is False and built["uncommitted"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", built["built_at"])
    assert built["pins"]["torch"] and built["pins"]["numpy"] and built["pins"] == {
        line.split("==")[0]: line.split("==")[1] for line in (REPO / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")}
    assert not [n for n in names if n.startswith(("reference/", "tests/", "staff/"))]
    # the extracted package (no git) names the packaged commit, as every results.json it writes will
    named = subprocess.run([PYTHON, "-c", "import json; from autograder.version import grader_version; "
                                          "print(json.dumps(grader_version()))"],
                           cwd=checkout / "extracted", capture_output=True, text=True, check=True).stdout
    assert json.loads(named) == {"commit": commit, "dirty": False, "built_at": built["built_at"], "source": "package"}
    assert commit[:12] in result.stdout


def test_points_that_do_not_sum_to_100_are_refused_before_anything_is_built(checkout):
    edit(checkout / "autograder" / "config.yaml", 'check: checks.utils.mean_and_variance, file: utils.py, points: 5,',
         'check: checks.utils.mean_and_variance, file: utils.py, points: 6,')
    git(checkout, "commit", "-qam", "1.2 is worth 6")
    out = checkout / "dist" / "autograder.zip"
    refused(staff(checkout, "package", "--out", out), out, "config.yaml does not validate", "points sum to 101, not 100")


def test_uncommitted_changes_are_refused_unless_allowed(checkout):
    edit(checkout / "autograder" / "config.yaml", 'file: utils.py, points: 5,', 'file: utils.py, points: 6,')
    (checkout / "autograder" / "checks" / "new_check.py").write_text("")   # untracked, and it would ship
    out = checkout / "dist" / "autograder.zip"
    refused(staff(checkout, "package", "--out", out), out, "2 uncommitted change(s)", "autograder/config.yaml",
            "autograder/checks/new_check.py")
    # --allow-dirty passes that check; the next one (the edited config) still refuses
    refused(staff(checkout, "package", "--out", out, "--allow-dirty"), out, "points sum to 101")


def test_an_edited_provided_helper_is_refused_and_named(checkout):
    """The judge's numpy recomputation hard-codes gaussian_parameters: regenerated handout and goldens
    pass their own checks, but the reference would no longer get full marks."""
    edit(checkout / "reference" / "utils.py", "v = F.softplus(h) + 1e-8", "v = F.softplus(h) ** 2 + 1e-8")
    for verb in ("handout", "goldens"):
        assert staff(checkout, verb).returncode == 0
    git(checkout, "commit", "-qam", "variance through softplus squared")
    out = checkout / "dist" / "autograder.zip"
    refused(staff(checkout, "package", "--out", out), out, "numeric.vae_encode", "utils.gaussian_parameters")


def test_a_grader_with_which_the_reference_loses_points_is_refused(checkout):
    edit(checkout / "autograder" / "checks" / "training.py", "VAE_MAX_NELBO = 188.0", "VAE_MAX_NELBO = 100.0")
    git(checkout, "commit", "-qam", "a stricter VAE threshold")
    out = checkout / "dist" / "autograder.zip"
    refused(staff(checkout, "package", "--out", out), out, "the reference does not get full marks on every test",
            "test 2.4:")


def test_a_grader_that_gives_an_unwritten_function_points_is_refused(checkout):
    edit(checkout / "autograder" / "checks" / "utils.py", "def mean_and_variance(run):\n",
         "def mean_and_variance(run):\n    return None\n")
    git(checkout, "commit", "-qam", "1.2 always passes")
    out = checkout / "dist" / "autograder.zip"
    result = staff(checkout, "package", "--out", out)
    refused(result, out, "the handout does not get 0 with 'not written yet' on every test", "test 1.2: 5 / 5")
    assert "the reference gets 100 / 100" in result.stdout
