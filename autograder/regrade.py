"""Grade every submission in a folder, for course staff:

    python -m autograder regrade FOLDER [--jobs N] [--out DIR]

Each entry of FOLDER (a sub-folder or a .zip; e.g. Gradescope's "Export Submissions") is one
submission, named after the entry. DIR (default: FOLDER-regrade beside FOLDER) receives
  scores.csv                 one row per submission: submission, score, max_score, one column per test
                             (its score), grader_failure (yes/no), grader_failed_tests, notes
  feedback.csv               one row per submission and test: the feedback the student saw
  scores.png                 a histogram of the scores
  results/NAME/results.json  what Gradescope would have received
An existing DIR must be a previous regrade output (it holds .autograder-regrade); its outputs are
replaced, anything else in it is left alone. The summary (and the submissions to grade again because
the grader, not the submission, failed) is printed at the end.
"""
import concurrent.futures
import csv
import multiprocessing
import shutil
import statistics
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from autograder import results, sandbox
from autograder.grade import grade, load_config

MARKER = ".autograder-regrade"
OUTPUTS = ("scores.csv", "feedback.csv", "scores.png", "results")
_slot = _zygote = None


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


def prepare(out, folder):
    """An empty output folder: a previous regrade's outputs (only those) are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (out / MARKER).write_text(f"regrade of {folder.resolve()} started {datetime.now().isoformat(timespec='seconds')}\n")


def grade_all(work, jobs, tests):
    """{name: results} of every (name, upload, results_path); a pool process that dies costs its rows
    nothing: they are reported as the grader's failure."""
    graded = {}
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


def write_scores(path, graded, tests):
    numbers = [t["number"] for t in tests]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "score", "max_score", *numbers, "grader_failure", "grader_failed_tests", "notes"])
        for name, outcome in sorted(graded.items()):
            score_of = {t["number"]: t["score"] for t in outcome["tests"]}
            failed = results.grader_failures(outcome)
            flagged = bool(failed) or outcome.get("extra_data", {}).get("grader_failure", False)
            writer.writerow([name, outcome["score"], max_score(outcome), *(score_of.get(n, "") for n in numbers),
                             "yes" if flagged else "no", " ".join(failed), notes(outcome["output"])])


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


def summary(graded):
    """The lines printed at the end: statistics, and which submissions to grade again."""
    scores = [o["score"] for o in graded.values()]
    top = max(max_score(o) for o in graded.values())
    lines = [f"{len(scores)} submissions: mean {statistics.mean(scores):.1f}, median {statistics.median(scores):.1f}, "
             f"min {min(scores):g}, max {max(scores):g} (of {top:g})"]
    failed = {name: results.grader_failures(o) for name, o in sorted(graded.items())
              if results.grader_failures(o) or o.get("extra_data", {}).get("grader_failure")}
    lines.append(f"grader failures: {len(failed)}")
    if failed:
        lines.append("re-run these: " + ", ".join(f"{name} (tests {' '.join(t)})" if t else name
                                                  for name, t in failed.items()))
    return lines


def regrade(folder, jobs=2, out=None):
    folder = Path(folder)
    out = Path(out) if out else folder.parent / f"{folder.resolve().name}-regrade"
    why = refusal(folder, out)
    if why:
        print(f"regrade: {why}", file=sys.stderr)
        return 2
    found, tests = submissions(folder), load_config()["tests"]
    jobs = job_count(jobs, len(found))
    prepare(out, folder)
    print(f"regrade: {len(found)} submissions from {folder}, {jobs} at a time; outputs in {out}", flush=True)
    started = time.monotonic()
    work = [(name, upload, out / "results" / name / "results.json") for name, upload in found.items()]
    graded = grade_all(work, jobs, tests)
    write_scores(out / "scores.csv", graded, tests)
    write_feedback(out / "feedback.csv", graded)
    write_histogram(out / "scores.png", graded)
    print("\n".join(summary(graded)))
    print(f"regrade: done in {time.monotonic() - started:.0f} s; outputs in {out}: "
          "scores.csv, feedback.csv, scores.png, results/NAME/results.json")
    return 0
