"""docs/DESIGN.md's "Adding a graded function" is the true list of files edited by hand: in a copy of
the tree, a new graded function (`diffusion.snr`) is added by editing exactly the files the
walk-through names, then `python -m staff handout`; the consistency checks (config, docs, handout,
validate.py) pass there and the corpus gate's verdicts hold for the new test's variants."""
import ast
import re

import pytest
import yaml

from helpers import REPO, file_digests, function_node, run_in, tracked_copy

from autograder.selfcheck import surface

HOSTILE = REPO / "tests" / "corpus" / "hostile"
GENERATED = ("student_template/", "autograder/selfcheck/surface.py", "README.md")   # what staff handout writes


def honest_copies_lacking_a_function(root, graded):
    """{hostile case file: [graded functions it lacks]} over the files a case does not declare hostile:
    they replace the reference's whole file and must keep all its points."""
    lacking = {}
    for case_file in sorted((root / "tests" / "corpus" / "hostile").glob("*/case.yaml")):
        hostile = yaml.safe_load(case_file.read_text())["hostile_file"]
        hostile = [] if hostile is None else [hostile] if isinstance(hostile, str) else hostile
        for file, functions in graded.items():
            path = case_file.parent / file
            if path.is_file() and file not in hostile:
                tree = ast.parse(path.read_text())
                missing = [f for f in functions if function_node(tree, f) is None]
                if missing:
                    lacking[path.relative_to(root).as_posix()] = missing
    return lacking


def test_every_honest_file_of_a_hostile_case_defines_every_graded_function_of_its_file():
    assert honest_copies_lacking_a_function(REPO, surface.GRADED) == {}


def walkthrough_files():
    """The path that opens each numbered step of DESIGN.md's walk-through."""
    text = (REPO / "docs" / "DESIGN.md").read_text()
    section = text.split("## Adding a graded function", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\d+\. `([^`]+)`", section, re.M)


SNR = '''

def snr(betas):
    """The signal-to-noise ratio alpha_bar_t / (1 - alpha_bar_t) for t = 1..T, as a tensor (T,)."""
    ### BEGIN SOLUTION
    alpha_bar = alpha_bars(betas)
    return alpha_bar / (1 - alpha_bar)
    ### END SOLUTION
'''

PROBE = '''

@probe
def snr(hw, betas):
    """diffusion.snr(betas)."""
    hw.require("diffusion.py")
    return {"snr": array(hw.diffusion.snr(torch.tensor(betas)), "snr")}
'''

CHECK = '''

def snr(run):
    """snr is alpha_bar_t / (1 - alpha_bar_t) on a schedule of 10 steps."""
    betas = np.linspace(1e-4, 0.02, 10)
    alpha_bar = np.cumprod(1 - betas)
    observed = values(run("snr", betas=betas)["snr"], "snr", shape=betas.shape)
    if not np.allclose(observed, alpha_bar / (1 - alpha_bar), rtol=1e-9):
        raise CheckFailed("snr is not alpha_bar_t / (1 - alpha_bar_t) on a schedule of 10 steps.")
'''

VARIANTS = '''
- name: snr_without_the_ratio
  kind: wrong
  function: snr
  mistake: returns alpha_bar_t itself
  hints: [ratio]
  keys: []
  code: |
    return alpha_bars(betas)

- name: snr_written_out
  kind: correct
  function: snr
  mistake: none
  hints: []
  code: |
    alpha_bar = torch.cumprod(1 - betas, dim=0)
    return alpha_bar / (1 - alpha_bar)
'''

VALIDATOR = '''def check_snr(mod, ref, c: Checker):
    betas = torch.rand(12, dtype=torch.float64) * 0.05 + 1e-4
    c.need(close(mod["diffusion"].snr(betas), ref["diffusion"].snr(betas)), "values")


'''


def one_point_from_4_3(text):
    return re.sub(r'(number: "4\.3".*?points: )(\d+)', lambda m: m[1] + str(int(m[2]) - 1), text, count=1)


def add_test_4_5(text):
    line = ('  - {number: "4.5", name: "snr: alpha_bar / (1 - alpha_bar)", check: checks.diffusion.snr, '
            'file: diffusion.py, points: 1, visibility: visible, timeout_s: 30}\n')
    return re.sub(r'(  - \{number: "4\.4".*\n)', lambda m: m[1] + line, one_point_from_4_3(text), count=1)


def add_to_contract(text):
    row = "| `diffusion.py` | `alpha_bars`, `q_xt_given_x0`, `q_posterior` |"
    assert row in text
    return text.replace(row, row[:-2] + ", `snr` |") + "\n- `snr(betas) -> (T,)`: alpha_bar_t / (1 - alpha_bar_t).\n"


EDITS = {   # the walk-through's files (FILE = diffusion), each with its edit
    "reference/diffusion.py": lambda text: text + SNR,
    "docs/STUDENT_API.md": add_to_contract,
    "autograder/selfcheck/probes/diffusion.py": lambda text: text + PROBE,
    "autograder/checks/diffusion.py": lambda text: text + CHECK,
    "autograder/config.yaml": add_test_4_5,
    "tests/corpus/accuracy/diffusion.yaml": lambda text: text + VARIANTS,
    "tests/corpus/accuracy/validate.py": lambda text: text.replace(
        "# One validator per graded function", VALIDATOR + "# One validator per graded function", 1).replace(
        "CHECKS = {\n", 'CHECKS = {\n    "snr": check_snr,\n', 1),
}

AUDIT = """
import sys; sys.path.insert(0, 'tests/corpus/accuracy')
from staff import audit
tests = [t for t in audit.load_config()['tests'] if t['file'] == 'diffusion.py']   # the variants' own file
corpus = audit.variants('snr')
graded = {v['name']: audit.grade_variant(v, tests) for v in [audit.REFERENCE_VARIANT] + corpus}
report = audit.verdicts(corpus, tests, graded)
print({name: report[name]['problems'] for name in report})
print(graded[audit.REFERENCE_VARIANT['name']]['4.5'][0], graded['snr_without_the_ratio']['4.5'][0])
"""


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="copies the tree's tracked files (git ls-files)")
def test_the_walkthrough_adds_a_graded_function_with_only_the_files_it_names(tmp_path):
    copy = tracked_copy(tmp_path / "tree")
    before = file_digests(copy)

    for path, edit in EDITS.items():
        (copy / path).write_text(edit((copy / path).read_text()))
    graded = {**surface.GRADED, "diffusion.py": surface.GRADED["diffusion.py"] + ["snr"]}
    lacking = honest_copies_lacking_a_function(copy, graded)
    assert lacking == {"tests/corpus/hostile/detached_daemon/diffusion.py": ["snr"]}
    for path in lacking:   # step 8: an honest copy of the reference's diffusion.py gets the function too
        (copy / path).write_text((copy / path).read_text() + SNR.replace("    ### BEGIN SOLUTION\n", "").replace(
            "    ### END SOLUTION\n", ""))
    run_in(copy, "-m", "staff", "handout")

    changed = {name for name, digest in file_digests(copy).items() if before.get(name) != digest}
    by_hand = {name for name in changed if not name.startswith(GENERATED)}
    steps = {step.replace("CASE", "detached_daemon").replace("FILE", "diffusion") for step in walkthrough_files()}
    assert by_hand == set(EDITS) | set(lacking) == steps
    assert {"student_template/diffusion.py", "autograder/selfcheck/surface.py", "README.md"} <= changed

    run_in(copy, "-m", "staff", "handout", "--check")
    run_in(copy, "-m", "pytest", "-q", "-x", "tests/test_config.py", "tests/test_docs.py", "tests/test_handout.py",
        "tests/test_adding_a_graded_function.py", "-k", "not walkthrough and not untouched and not compile", timeout=300)
    assert " 0 misclassified" in run_in(copy, "tests/corpus/accuracy/validate.py", "-k", "snr")
    problems, scores = run_in(copy, "-c", AUDIT, timeout=300).strip().splitlines()[-2:]
    assert problems == "{'snr_without_the_ratio': [], 'snr_written_out': []}" and scores == "1.0 0.0"
