"""Grade every submission in a folder, for course staff:

    python -m autograder regrade FOLDER|EXPORT.zip [--jobs N] [--out DIR]

Each entry of FOLDER (a sub-folder or a .zip) is one submission, named after the entry. Gradescope's
"Export Submissions" (its zip, or the zip extracted) is read as it comes: with its
submission_metadata.yml (autograder/export.py), each row also names the submitters and the score
Gradescope holds. DIR (default: FOLDER-regrade beside FOLDER) receives
  scores.csv                 one row per submission: submission, [submission_id, submitted_at, names,
                             emails, sids, old_score,] score, [difference,] max_score, one column per
                             test (its score), grader_failure (yes/no), grader_failed_tests, notes
  changed.csv                (an export only) the submissions whose score changed, old and new
  feedback.csv               one row per submission and test: the feedback the student saw
  scores.png                 a histogram of the scores
  report.md, tests.png, mistakes.png   the class report (autograder/report.py)
  results/NAME/results.json  what Gradescope would have received
An existing DIR must be a previous regrade output (it holds .autograder-regrade, which also names
the grader's version); its outputs are replaced, anything else in it is left alone. The grader's
version is printed at the start; the summary (and the submissions to grade again because the
grader, not the submission, failed) at the end.
"""
import concurrent.futures
import csv
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from autograder import export, report, results, sandbox
from autograder.grade import grade, load_config
from autograder.version import describe, grader_version

MARKER = ".autograder-regrade"
OUTPUTS = ("scores.csv", "changed.csv", "feedback.csv", "scores.png", "report.md", "tests.png", "mistakes.png",
           "results")
CHANGED = 0.005   # a score that differs from Gradescope's by more has changed (it shows two decimals)
_slot = _zygote = None
# The judges' numpy multiplies small matrices: OpenBLAS's threads (one per CPU unless told) spin while
# they wait, at 10-20x the CPU of one thread, against the other jobs and their workers.
POOL_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1"}


def _init():
    global _slot, _zygote
    _slot = sandbox.acquire_slot()   # held for this pool process's life, released when it exits
    _zygote = _template()


def _template():
    """A worker template (torch imported once) for this pool process, or None (a fresh interpreter per
    worker) where it cannot start. It exits when this process does: its control socket closes."""
    try:
        return sandbox.Zygote(load_config()["limits"])
    except Exception as error:
        print(f"regrade: no worker template ({error}); each worker imports torch itself", flush=True)
        return None


def _grade(job):
    global _zygote
    name, upload, results_path, tests = job
    if _zygote is not None and _zygote.process.poll() is not None:   # it died: a new one, or none
        _zygote.close()
        _zygote = _template()
    try:
        return grade(upload, results_path, quiet=True, slot=_slot, zygote=_zygote)
    except Exception:   # grade() writes results in every case; should it not, the row is still there
        return _failed(tests, results_path, traceback.format_exc(limit=3))


def _failed(tests, results_path, detail):
    outcome = results.harness_failure(tests, 0.0, detail)
    results.write(outcome, results_path)
    return outcome


def submissions(folder):
    """{name: path} of the sub-folders and .zip files of `folder` (hidden entries and __MACOSX skipped)."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))
                     and (p.is_dir() or (p.is_file() and p.suffix.lower() == ".zip")))
    names = [p.stem if p.is_file() else p.name for p in entries]
    if len(set(names)) < len(names):   # alice/ and alice.zip: keep the suffix
        names = [p.name for p in entries]
    return dict(zip(names, entries))


def job_count(asked, submissions):
    """Parallel gradings: at most one per worker slot and one per submission."""
    return max(1, min(asked, len(sandbox.WORKER_USERS), submissions))


def refusal(folder, out):
    """Why regrade must not run (one line), or None."""
    if not folder.is_dir():
        return f"{folder} is not a folder of submissions"
    if not submissions(folder):
        return f"no submissions (sub-folders or .zip files) in {folder}"
    if out.resolve() == folder.resolve() or folder.resolve() in out.resolve().parents:
        return f"the output folder {out} must not be inside the submissions folder {folder}"
    if out.exists() and not (out / MARKER).is_file() and (not out.is_dir() or any(out.iterdir())):
        return f"{out} exists and is not the output of a previous regrade; choose another --out or remove it"
    return None


def prepare(out, folder, version=None):
    """An empty output folder: a previous regrade's outputs (only those) are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (out / MARKER).write_text(f"regrade of {folder.resolve()} started {datetime.now().isoformat(timespec='seconds')}"
                              + (f" with grader {describe(version)}" if version else "") + "\n")


def grade_all(work, jobs, tests):
    """{name: results} of every (name, upload, results_path); a pool process that dies costs its rows
    nothing: they are reported as the grader's failure."""
    graded = {}
    for key, value in POOL_ENVIRONMENT.items():   # the pool's processes are spawned: read before numpy is
        os.environ.setdefault(key, value)
    pool = concurrent.futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_init)
    try:
        futures = {pool.submit(_grade, (name, upload, path, tests)): (name, path) for name, upload, path in work}
        for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="grading",
                           unit="submission"):
            name, path = futures[future]
            try:
                graded[name] = future.result()
            except Exception as error:   # BrokenProcessPool: the pool process was killed
                graded[name] = _failed(tests, path, f"regrade: the grading process failed: {error!r}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return graded


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


def summary(graded, metadata=None):
    """The lines printed at the end: statistics, score changes, and which submissions to grade again."""
    scores = [o["score"] for o in graded.values()]
    top = max(max_score(o) for o in graded.values())
    lines = [f"{len(scores)} submissions: mean {statistics.mean(scores):.1f}, median {statistics.median(scores):.1f}, "
             f"min {min(scores):g}, max {max(scores):g} (of {top:g})"]
    if metadata is not None:
        changed, up, down, unknown = change_counts(graded, metadata)
        lines.append(f"score changed: {changed} ({up} up, {down} down; changed.csv)"
                     + (f"; no previous score: {unknown}" if unknown else ""))
    failed = {name: results.grader_failures(o) for name, o in sorted(graded.items())
              if results.grader_failures(o) or o.get("extra_data", {}).get("grader_failure")}
    lines.append(f"grader failures: {len(failed)}")
    if failed:
        lines.append("re-run these: " + ", ".join(f"{name} (tests {' '.join(t)})" if t else name
                                                  for name, t in failed.items()))
    return lines


def regrade(folder, jobs=2, out=None):
    folder = Path(folder)
    is_zip = folder.is_file() and folder.suffix.lower() == ".zip"
    out = Path(out) if out else folder.parent / f"{folder.stem if is_zip else folder.resolve().name}-regrade"
    if not is_zip:
        return _regrade(folder, folder, jobs, out)
    with tempfile.TemporaryDirectory(prefix="regrade-export-") as tmp:
        try:
            extracted = export.extract(folder, tmp)
        except export.ExportError as error:
            print(f"regrade: {error}", file=sys.stderr)
            return 2
        return _regrade(extracted, folder, jobs, out)


def _regrade(folder, given, jobs, out):
    """Grade the submissions of `folder` (`given`: what staff named, the export's zip or this folder)."""
    why = refusal(folder, out)
    if why:
        print(f"regrade: {why.replace(str(folder), str(given))}", file=sys.stderr)
        return 2
    root = export.root_of(folder) or folder
    try:
        metadata = export.read(root) if (root / export.METADATA).is_file() else None
    except export.ExportError as error:
        print(f"regrade: {error}", file=sys.stderr)
        return 2
    found, tests, version = submissions(root), load_config()["tests"], grader_version()
    if not found:
        print(f"regrade: no submissions (sub-folders or .zip files) beside {export.METADATA} in {given}", file=sys.stderr)
        return 2
    jobs = job_count(jobs, len(found))
    prepare(out, given, version)
    print(f"regrade: {len(found)} submissions from {given}, {jobs} at a time; outputs in {out}", flush=True)
    print(f"regrade: grader {describe(version)}", flush=True)
    if metadata is not None:
        unlisted = sorted(set(found) - set(metadata))
        print(f"regrade: Gradescope export: {len(metadata)} submissions in {export.METADATA}"
              + (f"; not in it (graded without names): {', '.join(unlisted)}" if unlisted else ""), flush=True)
    started = time.monotonic()
    work = [(name, upload, out / "results" / name / "results.json") for name, upload in found.items()]
    graded = grade_all(work, jobs, tests)
    write_scores(out / "scores.csv", graded, tests, metadata)
    if metadata is not None:
        write_changed(out / "changed.csv", graded, metadata)
    write_feedback(out / "feedback.csv", graded)
    write_histogram(out / "scores.png", graded)
    report.write(out, graded, tests, version, change_counts(graded, metadata) if metadata is not None else None)
    print("\n".join(summary(graded, metadata)))
    print(f"regrade: done in {time.monotonic() - started:.0f} s; outputs in {out}: scores.csv, "
          + ("changed.csv, " if metadata is not None else "")
          + "feedback.csv, scores.png, report.md (tests.png, mistakes.png), results/NAME/results.json")
    return 0
