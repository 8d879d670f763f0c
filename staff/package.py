"""Build the zip course staff upload to Gradescope: python -m staff package [--out FILE]

It holds what grading needs and nothing more: setup.sh, run_autograder, the requirements, the
grader (`autograder/`: judge, checks, goldens, config, worker) and the handout the submissions are
laid over. Not the reference solution (the goldens carry what the checks need from it), not the
project's tests, not these staff tools. It refuses to build from a handout or goldens that no longer
match reference/, and stores setup.sh and run_autograder as executable.
"""
import subprocess
import sys
import zipfile
from pathlib import Path

from staff import REPO

INCLUDED = ["setup.sh", "run_autograder", "requirements.txt", "requirements-nodeps.txt", "autograder",
            "student_template"]
EXECUTABLE = {"setup.sh", "run_autograder"}
SKIPPED = {"__pycache__", ".pytest_cache", ".hypothesis", "data", "runs"}


class PackageRefused(Exception):
    """The checkout is not fit to package (stale generated files); the message says what to run."""


def files():
    for name in INCLUDED:
        path = REPO / name
        if path.is_file():
            yield path
        else:
            yield from (p for p in sorted(path.rglob("*")) if p.is_file()
                        and not set(p.relative_to(REPO).parts) & SKIPPED and p.suffix != ".pyc")


def check_generated():
    """The committed handout and goldens must be what reference/ generates today."""
    for verb in ("handout", "goldens"):
        result = subprocess.run([sys.executable, "-m", "staff", verb, "--check"], cwd=REPO,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise PackageRefused(f"the {verb} are out of date with reference/ "
                                 f"(run `python -m staff {verb}`):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def package(out, check=True):
    if check:
        check_generated()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files():
            info = zipfile.ZipInfo.from_file(path, path.relative_to(REPO).as_posix())
            info.external_attr = (0o100755 if path.name in EXECUTABLE else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            count += 1
    print(f"wrote {out} ({count} files, {out.stat().st_size / 1e6:.1f} MB): upload it as the autograder on Gradescope")
    return out
