"""Grade the accuracy corpus: python -m staff audit [--jobs N] [--only NAME]

Every variant of tests/corpus/accuracy/*.yaml (the reference with one function changed: a realistic
mistake, or another correct way to write it) is graded in-process by every test, in parallel. The
matrix shows which checks catch which mistakes; the gate fails (exit 1) when a correct variant
loses points, a wrong one loses none in its own file or loses some in another file, or fewer than
80% of the wrong ones get feedback that names their mistake.
"""
import multiprocessing
import sys
import tempfile
from pathlib import Path

from autograder.grade import HANDOUT, judge, load_config
from staff import REPO

CORPUS = REPO / "tests" / "corpus" / "accuracy"
REFERENCE = REPO / "reference"
HINT_RATE = 0.8


def variants(only=None):
    sys.path.insert(0, str(CORPUS))
    from apply import load_variants
    found = load_variants(CORPUS)
    return [v for v in found if not only or only in v["name"]]


def grade_variant(variant, tests):
    """{test number: (fraction, message)} for one variant, graded in this process."""
    import shutil

    from apply import apply_variant
    from autograder.selfcheck.local import local_run
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
        root = Path(tmp) / "submission"
        shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__"))
        apply_variant(REFERENCE, variant, root)
        run = local_run(root, clean_root=HANDOUT)
        errors = run.homework.import_errors
        return {t["number"]: ((0.0, errors[t["file"]]) if t["file"] in errors else judge(t, run)) for t in tests}


def _grade(args):
    import torch
    torch.set_num_threads(1)   # like the sandboxed worker; parallelism comes from the jobs
    variant, tests = args
    sys.path.insert(0, str(CORPUS))
    return variant["name"], grade_variant(variant, tests)


def tests_for(variant, tests, full):
    """All tests, or (fast) all but the training runs of the other files: those receive byte-identical
    files, and the full audit shows they do not move."""
    return [t for t in tests if full or t["file"] == variant["file"] or not t["check"].startswith("checks.training")]


def grade_corpus(jobs=2, only=None, full=True):
    tests = load_config()["tests"]
    corpus = variants(only)
    work = [(v, tests_for(v, tests, full)) for v in corpus]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        graded = dict(pool.imap_unordered(_grade, work))
    return corpus, tests, graded


def verdicts(corpus, tests, graded):
    """Per-variant problems against the gate, and whether its feedback names the mistake."""
    file_of = {t["number"]: t["file"] for t in tests}
    report = {}
    for v in corpus:
        scores = graded[v["name"]]
        own = {n: s for n, s in scores.items() if file_of[n] == v["file"]}
        other = {n: s for n, s in scores.items() if file_of[n] != v["file"]}
        problems = []
        if v["kind"] == "correct":
            problems += [f"correct variant lost points in {n}: {m.splitlines()[0]}" for n, (f, m) in scores.items() if f < 1]
            named = True
        else:
            if all(f >= 1 for f, _ in own.values()):
                problems.append("no check of its file catches it")
            problems += [f"lost points outside its file, in {n}" for n, (f, _) in other.items() if f < 1]
            feedback = " ".join(m for f, m in own.values() if f < 1).lower()
            named = any(h.lower() in feedback for h in v.get("hints", []))
        report[v["name"]] = {"problems": problems, "named": named}
    return report


def audit(jobs=2, only=None):
    corpus, tests, graded = grade_corpus(jobs, only, full=True)
    report = verdicts(corpus, tests, graded)
    numbers = [t["number"] for t in tests]
    print("variant".ljust(42) + " ".join(n.rjust(4) for n in numbers) + "  named")
    for v in corpus:
        cells = []
        for n in numbers:
            f = graded[v["name"]][n][0]
            cells.append("   ." if f >= 1 else "   x" if f <= 0 else "   ~")
        label = f"{v['kind'][0]} {v['file'].split('/')[-1][:-3]}:{v['name']}"[:41].ljust(42)
        print(label + " ".join(cells) + ("  yes" if report[v["name"]]["named"] else "  NO"))
    print("\n. full marks   ~ partial   x zero   (c = correct variant, w = wrong variant)")
    wrong = [v for v in corpus if v["kind"] == "wrong"]
    rate = sum(report[v["name"]]["named"] for v in wrong) / max(1, len(wrong))
    failing = {n: r["problems"] for n, r in report.items() if r["problems"]}
    unnamed = [v["name"] for v in wrong if not report[v["name"]]["named"]]
    if unnamed:
        print("\nwrong variants whose feedback does not name the mistake: " + ", ".join(unnamed))
    for name, problems in failing.items():
        print(f"GATE {name}: " + "; ".join(problems))
    print(f"\n{len(corpus)} variants ({len(wrong)} wrong); feedback names the mistake for {rate:.0%} "
          f"(gate {HINT_RATE:.0%}); {len(failing)} variants break the gate")
    return 1 if failing or rate < HINT_RATE else 0
