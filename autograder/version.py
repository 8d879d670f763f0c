"""Which grader produced a score: the commit it was built from, and whether uncommitted edits were in it.

In a package (what Gradescope runs) `staff package` wrote VERSION_FILE into the zip; in a checkout it
is read from git. results.json carries it (`extra_data.grader_version`), and regrade prints it.
"""
import functools
import json
import os
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
VERSION_FILE = Path(__file__).resolve().parent / "version.json"   # only in a package, never committed
# What ships to Gradescope (staff package zips these); a change in them makes a checkout "dirty".
SHIPPED = ["setup.sh", "run_autograder", "requirements.txt", "requirements-nodeps.txt", "autograder",
           "student_template"]


def _git(*args):
    # GIT_OPTIONAL_LOCKS=0: `git status` must not rewrite the index (grading changes nothing on disk)
    result = subprocess.run(["git", "-C", str(SOURCE), *args], capture_output=True, text=True, timeout=30,
                            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    if result.returncode != 0:
        raise OSError(result.stderr.strip() or f"git {args[0]} failed")
    return result.stdout


def uncommitted():
    """The paths git reports as changed: tracked files edited anywhere, or untracked files among what
    ships (an untracked file elsewhere, e.g. a venv link, changes no grading)."""
    tracked = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    shipped = [line for line in _git("status", "--porcelain", "--", *SHIPPED).splitlines() if line.startswith("??")]
    return [line[3:] for line in tracked + shipped]


def from_git():
    """{'commit', 'dirty', 'source': 'checkout'} of this checkout, read from git."""
    return {"commit": _git("rev-parse", "HEAD").strip(), "dirty": bool(uncommitted()), "source": "checkout"}


@functools.lru_cache(maxsize=1)
def grader_version():
    """{'commit', 'dirty', 'source', ['built_at']}: from the package's version file, else from git,
    else commit 'unknown' (a copy without either: say so rather than guess)."""
    if VERSION_FILE.is_file():
        try:
            built = json.loads(VERSION_FILE.read_text())
            return {"commit": built["commit"], "dirty": built["dirty"], "built_at": built["built_at"],
                    "source": "package"}
        except (OSError, ValueError, KeyError, TypeError):
            return {"commit": "unknown", "dirty": None, "source": "package (version.json unreadable)"}
    try:
        return from_git()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None, "source": "no version file, no git"}


def describe(version):
    """One line for staff: 'a04178a1 (built 2026-12-01T10:00:00Z)' or '... + uncommitted edits'."""
    line = version["commit"][:12]
    if version.get("dirty"):
        line += " + uncommitted edits"
    if version.get("built_at"):
        line += f" (package built {version['built_at']})"
    return line
