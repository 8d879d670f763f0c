"""The class report of a regrade (report.md, tests.png, mistakes.png): what staff would otherwise
compile by hand before a discussion section.

Per test, the share of full, partial and zero scores (a test the grader failed on is counted apart,
not as a zero); the mistakes the grader diagnosed, counted over the class from the diagnosis keys each
test's message named (results.json, `tests[].extra_data.diagnosed`; the keys and their meaning are
autograder/selfcheck/diagnoses.py's DIAGNOSES), the most common first; the grader's failures. A
submission that lost points without a named cause is counted as such: the grader names a cause only
when its evidence establishes it.
"""
import statistics
from collections import Counter, defaultdict

from autograder import results
from autograder.selfcheck.expect import DIAGNOSES
from autograder.version import describe

FULL, PARTIAL, ZERO, FAILED = "full", "partial", "zero", "grader failed"


def outcome_of(test):
    if test.get("extra_data", {}).get("grader_failure"):
        return FAILED
    if test["score"] >= test["max_score"]:
        return FULL
    return ZERO if test["score"] <= 0 else PARTIAL


def tally(graded, tests):
    """The report's numbers: {'per_test': {number: Counter of outcomes}, 'mistakes': [(key, submissions,
    tests)], 'unexplained': submissions that lost points with no cause named, 'failed': names}."""
    per_test = {t["number"]: Counter() for t in tests}
    told = defaultdict(set)          # key -> submissions told it
    where = defaultdict(set)         # key -> tests that named it
    unexplained, failed = [], []
    for name, outcome in sorted(graded.items()):
        named_any, lost_points = False, False
        for test in outcome["tests"]:
            kind = outcome_of(test)
            per_test.setdefault(test["number"], Counter())[kind] += 1
            lost_points |= kind in (PARTIAL, ZERO)
            for key in test.get("extra_data", {}).get("diagnosed", []):
                told[key].add(name)
                where[key].add(test["number"])
                named_any = True
        if lost_points and not named_any:
            unexplained.append(name)
        if results.grader_failures(outcome) or outcome.get("extra_data", {}).get("grader_failure"):
            failed.append(name)
    mistakes = sorted(((key, len(names), sorted(where[key])) for key, names in told.items()),
                      key=lambda m: (-m[1], m[0]))
    return {"per_test": per_test, "mistakes": mistakes, "unexplained": unexplained, "failed": failed}


def _cell(text):
    """Text for a markdown table cell (a test's name may hold '|')."""
    return str(text).replace("|", "\\|")


def _share(count, total):
    return f"{100 * count / total:.0f}% ({count})" if total else "-"


def markdown(graded, tests, version, changes=None):
    """report.md's text. `changes`: (changed, up, down, without a previous score) from the export."""
    numbers = tally(graded, tests)
    n = len(graded)
    scores = [o["score"] for o in graded.values()]
    lines = [f"# Class report: {n} submissions", "",
             f"Grader {describe(version)}. Scores: mean {statistics.mean(scores):.1f}, "
             f"median {statistics.median(scores):.1f}, min {min(scores):g}, max {max(scores):g}.", ""]
    if changes:
        changed, up, down, unknown = changes
        lines += [f"Against the scores Gradescope holds: {changed} changed ({up} up, {down} down)"
                  + (f"; {unknown} had no previous score" if unknown else "") + " (changed.csv).", ""]
    lines += ["## Tests", "", "| test | name | points | full | partial | zero | grader failed |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in tests:
        c = numbers["per_test"].get(t["number"], Counter())
        lines.append(f"| {t['number']} | {_cell(t['name'])} | {t['points']:g} | {_share(c[FULL], n)} | "
                     f"{_share(c[PARTIAL], n)} | {_share(c[ZERO], n)} | {c[FAILED]} |")
    lines += ["", "## Diagnosed mistakes", "",
              "Each counts the submissions whose feedback named that cause (once per submission, whichever "
              "tests named it). The grader names a cause only when the submission's output matches what "
              "that mistake computes and nothing else does.", ""]
    if numbers["mistakes"]:
        lines += ["| submissions | share | mistake | key | tests |", "| --- | --- | --- | --- | --- |"]
        for key, count, where in numbers["mistakes"]:
            lines.append(f"| {count} | {100 * count / n:.0f}% | {_cell(DIAGNOSES.get(key, '(unknown key)'))} | "
                         f"`{key}` | {' '.join(where)} |")
    else:
        lines.append("No cause was named to any submission.")
    lines += ["", f"Lost points with no cause named: {len(numbers['unexplained'])} submission(s)"
              + (f" ({', '.join(numbers['unexplained'])})" if numbers["unexplained"] else "") + ".", "",
              "## Grader failures", "",
              f"{len(numbers['failed'])} submission(s) with a test the grader (not the submission) failed"
              + (f": {', '.join(numbers['failed'])} (grade them again)" if numbers["failed"] else "") + ".", ""]
    return "\n".join(lines)


def _figure(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # here: the judge never pays for it
    from matplotlib.figure import Figure
    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    return figure


def tests_figure(path, graded, tests):
    """A stacked bar per test: the share of full, partial, zero and grader-failed scores."""
    per_test, n = tally(graded, tests)["per_test"], len(graded)
    figure = _figure((8, 0.35 * len(tests) + 1.2))
    axes = figure.subplots()
    labels = [t["number"] for t in tests][::-1]
    left = [0.0] * len(labels)
    for kind, colour in ((FULL, "#4c9a2a"), (PARTIAL, "#e0b000"), (ZERO, "#c0392b"), (FAILED, "#7f7f7f")):
        shares = [100 * per_test[number][kind] / n for number in labels]
        axes.barh(labels, shares, left=left, color=colour, label=kind)
        left = [a + b for a, b in zip(left, shares)]
    axes.set(xlim=(0, 100), xlabel="% of submissions", title=f"Scores per test ({n} submissions)")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.04), ncol=4, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def mistakes_figure(path, graded, tests, top=15):
    """The most common diagnosed mistakes, as bars of submission counts."""
    mistakes = tally(graded, tests)["mistakes"][:top][::-1]
    figure = _figure((9, 0.4 * max(len(mistakes), 1) + 1.2))
    axes = figure.subplots()
    if mistakes:
        axes.barh([DIAGNOSES.get(key, key)[:60] for key, _, _ in mistakes], [c for _, c, _ in mistakes],
                  color="#2e6da4")
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.text(0.5, 0.5, "no cause named to any submission", ha="center", va="center")
    axes.set(xlabel="submissions", title="Diagnosed mistakes, most common first")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def write(out, graded, tests, version, changes=None):
    """report.md, tests.png and mistakes.png into the folder `out`."""
    (out / "report.md").write_text(markdown(graded, tests, version, changes))
    tests_figure(out / "tests.png", graded, tests)
    mistakes_figure(out / "mistakes.png", graded, tests)
