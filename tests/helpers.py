"""Shared by the project's tests: paths, the reference imported as modules, small builders."""
import os
import shutil
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
