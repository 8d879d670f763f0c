"""Issue 21: every module of the grader and of the staff tools is small enough to read in one sitting
(under 300 lines); a module that grows past it is split by job (as selfcheck/public/ and selfcheck/probes/
are, one module per graded file)."""
from helpers import REPO

LIMIT = 300


def test_every_module_of_the_grader_and_the_staff_tools_is_under_300_lines():
    sizes = {path.relative_to(REPO).as_posix(): len(path.read_text().splitlines())
             for folder in ("autograder", "staff") for path in (REPO / folder).rglob("*.py")
             if "__pycache__" not in path.parts}
    assert len(sizes) > 40
    assert {name: lines for name, lines in sizes.items() if lines >= LIMIT} == {}
