"""Grade every submission in a folder: python -m autograder regrade FOLDER [--jobs N] [--csv FILE]

Each entry of FOLDER (a sub-folder or a .zip) is one submission. Its results.json is written into
FOLDER/../regrade-results/<name>/, and the CSV gets one row per submission and test plus a total row.
"""
import csv
import multiprocessing
from pathlib import Path

from tqdm import tqdm

from autograder.grade import grade
from autograder.sandbox import acquire_slot

_slot = None


def _init():
    global _slot
    _slot = acquire_slot()   # held for this pool process's life, released when it exits


def _grade(job):
    name, path, results_path = job
    return name, grade(path, results_path, quiet=True, slot=_slot)


def regrade(folder, jobs=2, csv_path="scores.csv"):
    folder = Path(folder)
    if not folder.is_dir():
        print(f"regrade: {folder} is not a folder of submissions")
        return 2
    entries = sorted(p for p in folder.iterdir() if p.is_dir() or p.suffix == ".zip")
    if not entries:
        print(f"regrade: no submissions (sub-folders or .zip files) in {folder}")
        return 2
    out = folder.parent / "regrade-results"
    jobs = max(1, min(jobs, 8, len(entries)))
    work = [(p.stem if p.suffix == ".zip" else p.name, p, out / (p.stem if p.suffix == ".zip" else p.name) / "results.json")
            for p in entries]
    context = multiprocessing.get_context("spawn")
    rows = []
    with context.Pool(jobs, initializer=_init) as pool:
        for name, results in tqdm(pool.imap_unordered(_grade, work), total=len(work), desc="grading", unit="submission"):
            for t in results["tests"]:
                rows.append([name, t["number"], t["name"], t["score"], t["max_score"], t["status"]])
            rows.append([name, "total", "", results["score"], sum(t["max_score"] for t in results["tests"]), ""])
    rows.sort(key=lambda r: (r[0], r[1] == "total"))
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "test", "name", "score", "max_score", "status"])
        writer.writerows(rows)
    print(f"graded {len(work)} submissions with {jobs} jobs; scores in {csv_path}, results files in {out}")
    return 0
