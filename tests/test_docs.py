"""What the documents say about the graded surface is generated from its one definition."""
from helpers import HANDOUT, REPO

from autograder.selfcheck import surface


def test_every_table_of_the_graded_surface_is_the_generated_one():
    for document, table in ((REPO / "README.md", surface.table()), (HANDOUT / "README.md", surface.table()),
                            (REPO / "docs" / "STUDENT_API.md", surface.table("what the student writes"))):
        assert table in document.read_text(), f"{document} lacks the table of autograder/selfcheck/surface.py"


def test_the_generated_table_names_every_graded_function():
    table = surface.table()
    for file, functions in surface.GRADED.items():
        assert f"`{file}`" in table and all(f"`{name}`" in table for name in functions)
