"""What the documents say about the graded surface and the points is generated from their one
definition (autograder/selfcheck/surface.py, autograder/config.yaml), or compared with it where the
document is a copy of another's (docs/STUDENT_API.md is the contract, copied from ../shared/)."""
import copy

import staff.handout as handout
import staff.readme_sections as readme_sections
from helpers import HANDOUT, REPO

from autograder.config import load_config
from autograder.selfcheck import surface


def test_every_table_of_the_graded_surface_is_the_generated_one():
    for document, table in ((REPO / "README.md", surface.table()), (HANDOUT / "README.md", surface.table()),
                            (REPO / "docs" / "STUDENT_API.md", surface.table("what the student writes"))):
        assert table in document.read_text(), f"{document} lacks the table of autograder/selfcheck/surface.py"


def test_the_generated_table_names_every_graded_function():
    table = surface.table()
    for file, functions in surface.GRADED.items():
        assert f"`{file}`" in table and all(f"`{name}`" in table for name in functions)


def test_the_readme_holds_the_current_generated_sections():
    text = readme_sections.README.read_text()
    assert readme_sections.readme_text(text) == text, "README.md is stale: run python -m staff handout"
    assert readme_sections.tests_table(load_config()) in text


def test_moving_a_point_in_config_rewrites_the_readmes_tables(monkeypatch):
    config = copy.deepcopy(load_config())
    points = {t["number"]: t for t in config["tests"]}
    points["2.4"]["points"] -= 1
    points["3.1"]["points"] += 1
    monkeypatch.setattr(readme_sections, "load_config", lambda: config)
    text = readme_sections.readme_text(readme_sections.README.read_text())
    assert f"| 2.4 | {points['2.4']['points']:g} | `models/vae.py` |" in text
    assert f"| 3.1 | {points['3.1']['points']:g} | `models/gan.py` |" in text
    vae, gan = (sum(t["points"] for t in config["tests"] if t["file"] == f) for f in ("models/vae.py", "models/gan.py"))
    assert f"`models/vae.py` {vae:g}, `models/gan.py` {gan:g}," in text and text != readme_sections.README.read_text()


def test_the_handout_readme_says_which_self_checks_are_graded_from_the_public_flags():
    config = copy.deepcopy(load_config())
    for t in config["tests"]:
        t["public"] = t["number"] == "1.1"
    assert handout.public_sentence(config) == (
        "Those of `utils.py` are also graded on Gradescope (test 1.1), with the same messages; those of "
        "`models/vae.py`, `models/gan.py`, `diffusion.py` and `ewc.py` are not scored (their graded tests are hidden).")
    current = " ".join(line.strip() for line in (HANDOUT / "README.md").read_text().splitlines())
    assert handout.public_sentence(load_config()) in current
