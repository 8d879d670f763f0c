"""Moving points between tests is one edit of autograder/config.yaml, then `python -m staff handout`
(docs/DESIGN.md). In a copy of the tree, 1 point moves from test 2.4 (models/vae.py) to test 3.1
(models/gan.py), from one file to another: regenerating rewrites only the README's generated tables,
`staff handout --check` passes, the figures that tests state follow config.yaml (the README's rows and
per-file totals, the hostile cases' expected scores), and the tests that read points pass there."""
import json
import re

import pytest
import yaml

from helpers import REPO, file_digests, run_in, tracked_copy

from autograder.config import load_config

# test_hostile's expected score of a case is config.yaml's total less its hostile files' points
HOSTILE_POINTS = "import json, sys; sys.path[:0] = ['tests']; import test_hostile; print(json.dumps(test_hostile.POINTS))"


def moved(text, source, target, points=1):
    """config.yaml's text with `points` moved from test `source` to test `target` (the points of their lines)."""
    def shifted(text, number, delta):
        pattern = rf'(number: "{re.escape(number)}".*?points: )(\d+(?:\.\d+)?)'
        assert re.search(pattern, text), f"config.yaml has no line for test {number}"
        return re.sub(pattern, lambda m: m[1] + f"{float(m[2]) + delta:g}", text, count=1)
    return shifted(shifted(text, source, -points), target, points)


def test_moved_changes_the_points_of_the_two_lines_and_nothing_else():
    text = (REPO / "autograder" / "config.yaml").read_text()
    after = moved(text, "2.4", "3.1")
    assert sum(a != b for a, b in zip(text.splitlines(), after.splitlines())) == 2
    old, new = (yaml.safe_load(t)["tests"] for t in (text, after))
    assert [{**t, "points": 0} for t in old] == [{**t, "points": 0} for t in new]
    assert {t["number"]: b["points"] - t["points"] for t, b in zip(old, new) if b["points"] != t["points"]} == {"2.4": -1, "3.1": 1}


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="copies the tree's tracked files (git ls-files)")
def test_moving_a_point_from_2_4_to_3_1_is_one_edit_and_regenerating(tmp_path):
    copy = tracked_copy(tmp_path / "tree")
    before = file_digests(copy)
    config = copy / "autograder" / "config.yaml"
    config.write_text(moved(config.read_text(), "2.4", "3.1"))
    run_in(copy, "-m", "staff", "handout")

    changed = {name for name, digest in file_digests(copy).items() if before.get(name) != digest}
    assert changed == {"autograder/config.yaml", "README.md"}   # the edit, and what staff handout generates
    tests = load_config()["tests"]   # this checkout's, before the move
    points = {t["number"]: t["points"] for t in tests}
    per_file = {f: sum(t["points"] for t in tests if t["file"] == f) for f in {t["file"] for t in tests}}
    after = {**per_file, "models/vae.py": per_file["models/vae.py"] - 1, "models/gan.py": per_file["models/gan.py"] + 1}
    readme = (copy / "README.md").read_text()
    assert f"| 2.4 | {points['2.4'] - 1:g} | `models/vae.py` |" in readme
    assert f"| 3.1 | {points['3.1'] + 1:g} | `models/gan.py` |" in readme
    assert f"`models/vae.py` {after['models/vae.py']:g}, `models/gan.py` {after['models/gan.py']:g}," in readme
    assert json.loads(run_in(copy, "-c", HOSTILE_POINTS)) == after

    run_in(copy, "-m", "staff", "handout", "--check")
    run_in(copy, "-m", "pytest", "-q", "-x", "tests/test_config.py", "tests/test_docs.py", "tests/test_handout.py",
           "tests/test_moving_points.py", "-k", "not untouched and not compile and not one_edit_and_regenerating",
           timeout=300)
