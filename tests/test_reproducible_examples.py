"""A check's hypothesis examples are the same wherever it runs: hypothesis would otherwise mix into them
numbers from the source of whatever local modules are loaded (the tests', a TA's script, any edit of
the grader), so pytest and Gradescope would judge on different examples."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

DRAW = """
import sys, hashlib
sys.path[:0] = [{repo!r}, {extra!r}]
if {load_local!r}:
    import local_numbers   # a local module full of numbers, as a test file or a TA's script is
from hypothesis import given, settings, strategies as st
if {grader!r}:
    from autograder.checks.inputs import hypothesis_settings
else:   # the same settings, without the grader's module
    hypothesis_settings = lambda n: settings(derandomize=True, database=None, max_examples=n, deadline=None)
seen = []
@hypothesis_settings(200)
@given(st.floats(-1e6, 1e6), st.integers(0, 10**9))
def prop(x, n):
    seen.append((x, n))
prop()
print(hashlib.sha256(repr(seen).encode()).hexdigest())
"""


def examples(tmp_path, load_local, grader=True):
    code = DRAW.format(repo=str(REPO), extra=str(tmp_path), grader=grader, load_local=load_local)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def local_module(tmp_path):
    numbers = [123456.789, 98765.4321, 31337, 271828182, 0.000123, 4242.42, 777777, 5555.5]
    (tmp_path / "local_numbers.py").write_text("\n".join(f"C{i} = {v!r}" for i, v in enumerate(numbers)))


def test_examples_do_not_depend_on_the_local_modules_loaded(tmp_path):
    local_module(tmp_path)
    assert examples(tmp_path, False) == examples(tmp_path, True)


def test_hypothesis_alone_would_draw_other_examples(tmp_path):
    """The check above can fail: without the grader's setting the local module changes the examples."""
    local_module(tmp_path)
    assert examples(tmp_path, False, grader=False) != examples(tmp_path, True, grader=False)
