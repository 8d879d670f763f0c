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
from autograder.outputs import change_counts, max_score, write_changed, write_feedback, write_histogram, write_scores
from autograder.grade import grade, load_config
from autograder.version import describe, grader_version

MARKER = ".autograder-regrade"
OUTPUTS = ("scores.csv", "changed.csv", "feedback.csv", "scores.png", "report.md", "tests.png", "mistakes.png",
           "results")
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
