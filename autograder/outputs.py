"""The tables a regrade writes (scores.csv, changed.csv, feedback.csv, scores.png): one row per submission,
or per submission and test, from the graded results and, for a Gradescope export, its metadata."""
import csv
import statistics

from autograder import export, results

CHANGED = 0.005   # a score that differs from Gradescope's by more has changed (it shows two decimals)


def notes(output):
    """The results' top-level output (the submission notes) on one line."""
    lines = [line.strip().removeprefix("- ") for line in output.splitlines()]
    return "; ".join(line for line in lines if line and line != "Submission notes:")


def max_score(outcome):
    return sum(t["max_score"] for t in outcome["tests"])


def difference(outcome, known):
    """New score minus the one Gradescope holds ('' when it holds none)."""
    old = known.get("old_score")
    return "" if old is None else round(outcome["score"] - old, 4)


def write_scores(path, graded, tests, metadata=None):
    """scores.csv; with an export's `metadata` ({name: export.read row}) each row also carries the
    submitters, the old score and the difference."""
    numbers = [t["number"] for t in tests]
    who = export.FIELDS if metadata is not None else []
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *who, "score", *(["difference"] if who else []), "max_score", *numbers,
                         "grader_failure", "grader_failed_tests", "notes"])
        for name, outcome in sorted(graded.items()):
            known = (metadata or {}).get(name, {})
            score_of = {t["number"]: t["score"] for t in outcome["tests"]}
            failed = results.grader_failures(outcome)
            flagged = bool(failed) or outcome.get("extra_data", {}).get("grader_failure", False)
            writer.writerow([name, *(("" if known.get(k) is None else known[k]) for k in who), outcome["score"],
                             *([difference(outcome, known)] if who else []), max_score(outcome),
                             *(score_of.get(n, "") for n in numbers),
                             "yes" if flagged else "no", " ".join(failed), notes(outcome["output"])])


def changes(graded, metadata):
    """{name: difference} of the submissions whose score changed, and how many had no previous score."""
    changed, unknown = {}, 0
    for name, outcome in graded.items():
        delta = difference(outcome, metadata.get(name, {}))
        if delta == "":
            unknown += 1
        elif abs(delta) > CHANGED:
            changed[name] = delta
    return changed, unknown


def write_changed(path, graded, metadata):
    """changed.csv: the submissions whose new score differs from the one Gradescope holds."""
    changed, _ = changes(graded, metadata)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "submission_id", "names", "emails", "sids", "old_score", "score", "difference"])
        for name in sorted(changed):
            known = metadata[name]
            writer.writerow([name, known["submission_id"], known["names"], known["emails"], known["sids"],
                             known["old_score"], graded[name]["score"], changed[name]])


def write_feedback(path, graded):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "test", "name", "score", "max_score", "status", "output"])
        for name, outcome in sorted(graded.items()):
            for t in outcome["tests"]:
                writer.writerow([name, t["number"], t["name"], t["score"], t["max_score"], t["status"], t["output"]])


def write_histogram(path, graded):
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # here: the judge never pays for it
    from matplotlib.figure import Figure
    scores, top = [o["score"] for o in graded.values()], max(max_score(o) for o in graded.values())
    figure = Figure(figsize=(7, 4))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.hist(scores, bins=20, range=(0, top or 1), edgecolor="black")
    axes.yaxis.get_major_locator().set_params(integer=True)   # counts of submissions
    axes.set(title=f"{len(scores)} submissions, mean {statistics.mean(scores):.1f} / {top:g}",
             xlabel="score", ylabel="submissions")
    figure.savefig(path, dpi=100)


def change_counts(graded, metadata):
    """(changed, up, down, without a previous score) against an export's scores."""
    changed, unknown = changes(graded, metadata)
    return len(changed), sum(d > 0 for d in changed.values()), sum(d < 0 for d in changed.values()), unknown
