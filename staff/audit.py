"""Grade the accuracy corpus: python -m staff audit [--jobs N] [--only NAME]

Every variant of tests/corpus/accuracy/*.yaml (the reference with one function changed: a realistic
mistake, or another correct way to write it) is graded in-process by every test, in parallel, and
so is the reference itself. Each message carries the keys of the causes it names (selfcheck/diagnoses.py;
invisible to students), and each variant declares the keys of its mistake (`keys:`). The gate
fails (exit 1) when
- a correct variant loses points, or any cause is named to it;
- a wrong one loses none in its own file, or loses some in another file;
- precision < 100%: some wrong variant is told a cause that is not among its keys;
- recall < 90%: fewer wrong variants than that are told one of their keys;
- a claim (a `claims.claim` / `claims.form` line of a check) holds for some submission but fails
  for no wrong variant (it cannot fail), or fails somewhere but holds neither for the reference nor
  for any correct variant (it cannot hold).
"""
import multiprocessing
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from autograder.grade import HANDOUT, judge, load_config
from staff import REPO

CORPUS = REPO / "tests" / "corpus" / "accuracy"
REFERENCE = REPO / "reference"
RECALL = 0.9
PRECISION = 1.0
REFERENCE_VARIANT = {"name": "(reference)", "kind": "reference", "file": None, "keys": []}


def variants(only=None):
    sys.path.insert(0, str(CORPUS))
    from apply import load_variants
    found = load_variants(CORPUS)
    return [v for v in found if not only or only in v["name"]]


def judged(test, run):
    """(fraction, message, keys named, [(claim site, held)]) of one test, through the judge itself."""
    from autograder.selfcheck.expect import recording
    with recording() as record:
        fraction, message = judge(test, run)
    return fraction, message, sorted(record["keys"]), record["claims"]


def grade_variant(variant, tests):
    """{test number: (fraction, message, keys, claims)} for one variant (or the reference), in this process."""
    import shutil

    from apply import apply_variant
    from autograder.selfcheck.local import local_run
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:
        root = Path(tmp) / "submission"
        shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__"))
        if variant["kind"] == "reference":
            from autograder.selfcheck.surface import GRADED_FILES
            for rel in GRADED_FILES:
                shutil.copyfile(REFERENCE / rel, root / rel)
        else:
            apply_variant(REFERENCE, variant, root)
        run = local_run(root, clean_root=HANDOUT)
        errors = run.homework.import_errors
        return {t["number"]: ((0.0, errors[t["file"]], [], []) if t["file"] in errors else judged(t, run))
                for t in tests}


def _grade(args):
    import torch
    torch.set_num_threads(1)   # like the sandboxed worker; parallelism comes from the jobs
    variant, tests = args
    sys.path.insert(0, str(CORPUS))
    return variant["name"], grade_variant(variant, tests)


def tests_for(variant, tests, full):
    """All tests, or (fast, CI) the tests of the variant's own file only: the other files are
    byte-identical to the reference's and graded with it (the full audit shows they do not move)."""
    if full or variant["kind"] == "reference":
        return tests
    return [t for t in tests if t["file"] == variant["file"]]


def grade_corpus(jobs=2, only=None, full=True):
    tests = load_config()["tests"]
    corpus = variants(only)
    work = [(v, tests_for(v, tests, full)) for v in [REFERENCE_VARIANT] + corpus]
    work.sort(key=lambda item: -len(item[1]))     # the long ones first: the pool ends together
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        graded = dict(pool.imap_unordered(_grade, work))
    return corpus, tests, graded


def verdicts(corpus, tests, graded):
    """Per-variant problems against the gate; the keys each was told; whether one of its keys was told."""
    file_of = {t["number"]: t["file"] for t in tests}
    report = {}
    for v in corpus:
        scores = graded[v["name"]]
        own = {n: s for n, s in scores.items() if file_of[n] == v["file"]}
        other = {n: s for n, s in scores.items() if file_of[n] != v["file"]}
        told = sorted({k for s in scores.values() for k in s[2]})
        declared = set(v.get("keys") or [])
        problems = []
        if v["kind"] == "correct":
            problems += [f"correct variant lost points in {n}: {s[1].splitlines()[0]}" for n, s in scores.items() if s[0] < 1]
            problems += [f"a cause was named to a correct variant: {', '.join(told)}"] if told else []
            recalled, precise = True, not told
        else:
            if all(s[0] >= 1 for s in own.values()):
                problems.append("no check of its file catches it")
            problems += [f"lost points outside its file, in {n}" for n, s in other.items() if s[0] < 1]
            recalled = bool(declared & set(told))
            precise = set(told) <= declared
        report[v["name"]] = {"problems": problems, "told": told, "recalled": recalled, "precise": precise}
    return report


def claim_coverage(corpus, tests, graded):
    """Claim sites (per test) that cannot fail (never fail for a wrong variant) or cannot hold (never
    hold for the reference or a correct variant)."""
    kind = {v["name"]: v["kind"] for v in corpus}
    kind[REFERENCE_VARIANT["name"]] = "reference"
    held, failed_wrong = defaultdict(bool), defaultdict(bool)
    seen = set()
    for name, scores in graded.items():
        for number, (_, _, _, claims) in scores.items():
            for site, holds in claims:
                key = (number, site)
                seen.add(key)
                if holds and kind[name] in ("reference", "correct"):
                    held[key] = True
                if not holds and kind[name] == "wrong":
                    failed_wrong[key] = True
    ever_held = {(n, site) for scores in graded.values() for n, (_, _, _, c) in scores.items() for site, h in c if h}
    cannot_fail = sorted(k for k in seen if k in ever_held and not failed_wrong[k])
    cannot_hold = sorted(k for k in seen if not held[k])
    return cannot_fail, cannot_hold


def figures(corpus, report):
    wrong = [v for v in corpus if v["kind"] == "wrong"]
    recall = sum(report[v["name"]]["recalled"] for v in wrong) / max(1, len(wrong))
    precision = sum(report[v["name"]]["precise"] for v in wrong) / max(1, len(wrong))
    return wrong, recall, precision


def audit(jobs=2, only=None):
    corpus, tests, graded = grade_corpus(jobs, only, full=True)
    report = verdicts(corpus, tests, graded)
    numbers = [t["number"] for t in tests]
    print("variant".ljust(42) + " ".join(n.rjust(4) for n in numbers) + "  causes named")
    for v in corpus:
        cells = []
        for n in numbers:
            f = graded[v["name"]][n][0]
            cells.append("   ." if f >= 1 else "   x" if f <= 0 else "   ~")
        r = report[v["name"]]
        mark = "" if v["kind"] == "correct" else ("" if r["recalled"] else " MISSED") + ("" if r["precise"] else " WRONG")
        label = f"{v['kind'][0]} {v['file'].split('/')[-1][:-3]}:{v['name']}"[:41].ljust(42)
        print(label + " ".join(cells) + "  " + (", ".join(r["told"]) or "-") + mark)
    print("\n. full marks   ~ partial   x zero   (c = correct variant, w = wrong variant)")
    wrong, recall, precision = figures(corpus, report)
    failing = {n: r["problems"] for n, r in report.items() if r["problems"]}
    for name, problems in failing.items():
        print(f"GATE {name}: " + "; ".join(problems))
    imprecise = [f"{v['name']} (told {', '.join(report[v['name']]['told'])})" for v in wrong if not report[v["name"]]["precise"]]
    if imprecise:
        print("\ncauses named that are not the variant's: " + "; ".join(imprecise))
    missed = [v["name"] for v in wrong if not report[v["name"]]["recalled"]]
    if missed:
        print("\nwrong variants not told their cause: " + ", ".join(missed))
    cannot_fail, cannot_hold = ([], []) if only else claim_coverage(corpus, tests, graded)
    for number, site in cannot_fail:
        print(f"CLAIM {number} {site}: fails for no wrong variant")
    for number, site in cannot_hold:
        print(f"CLAIM {number} {site}: holds neither for the reference nor for a correct variant")
    print(f"\n{len(corpus)} variants ({len(wrong)} wrong); precision {precision:.0%} (gate {PRECISION:.0%}), "
          f"recall {recall:.0%} (gate {RECALL:.0%}); {len(failing)} variants break the gate; "
          f"{len(cannot_fail) + len(cannot_hold)} claims not covered")
    return 1 if failing or recall < RECALL or precision < PRECISION or cannot_fail or cannot_hold else 0
