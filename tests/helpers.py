"""Shared by the project's tests: paths, the reference imported as modules, small builders."""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "reference"
HANDOUT = REPO / "student_template"
PYTHON = REPO / ".venv" / "bin" / "python"

os.environ["HW_OFFLINE"] = "1"   # no download attempts in the tests (experiments and subprocesses)

from autograder.selfcheck.surface import GRADED_FILES  # noqa: E402,F401  (the one definition)

# Another CPU, emulated on this one: torch's own kernels and MKL's limited to what an AVX2-only machine
# or a baseline x86-64 machine runs: ATen's default kernels, MKL up to SSE4.2 (autograder.sandbox passes
# these two settings on to the worker).
OTHER_CPUS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
              "baseline": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}}


def homework(root=REFERENCE, clean_root=None):
    from autograder.selfcheck.homework import Homework
    return Homework(root, clean_root)


def submission_from(root, destination, files=GRADED_FILES):
    """Copy the graded files of `root` into `destination` (keeping their paths)."""
    destination = Path(destination)
    for f in files:
        (destination / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(root) / f, destination / f)
    return destination


def function_node(tree, dotted):
    """The def of 'name' or 'Class.method' at the top of a module's ast (None if it has none)."""
    import ast
    nodes = tree.body
    for part in dotted.split("."):
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
        if node is None:
            return None
        nodes = node.body
    return node


def tracked_copy(destination):
    """A copy of the checkout's tracked files (git ls-files) at `destination`, sharing its .venv: a tree in
    which a test may edit what course staff edit, then run the staff tools and tests."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    (destination / ".venv").symlink_to((REPO / ".venv").resolve())
    return destination


def file_digests(root):
    """{path relative to root: sha256} of the files under root (links, caches and hypothesis' database left out)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
            and ".hypothesis" not in p.parts}


def run_in(tree, *args, timeout=120):
    """The checkout's Python run in `tree` with `args`; its stdout (a non-zero exit fails the test, with its output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run([str(PYTHON), *args], cwd=tree, env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout
