"""Regrade throughput: N copies of one submission (default: 100 of the reference) on this machine.

    .venv/bin/python benchmarks/regrade_benchmark.py [--copies 100] [--jobs 2] [SUBMISSION]

Runs `python -m autograder regrade` as course staff would (as root: one worker slot and one worker
template per job) and prints the wall time, the time per submission, and the scores seen.
Prints figures; asserts nothing.
"""
import argparse
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO, copy_graded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(REPO / "reference"))
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="regrade-benchmark-"))
    try:
        folder = tmp / "submissions"
        for k in range(args.copies):
            copy_graded(args.submission, folder / f"s{k:03d}")
        started = time.monotonic()
        done = subprocess.run([PYTHON, "-m", "autograder", "regrade", str(folder),
                               "--jobs", str(args.jobs), "--out", str(tmp / "out")], cwd=REPO,
                              capture_output=True, text=True)
        wall = time.monotonic() - started
        rows = list(csv.DictReader((tmp / "out" / "scores.csv").open())) if (tmp / "out" / "scores.csv").exists() else []
        scores = sorted({float(r["score"]) for r in rows})
        print(f"{args.copies} copies, {args.jobs} jobs, {os.cpu_count()} CPUs: {wall:.0f} s "
              f"({wall / max(1, len(rows)):.2f} s per submission), {len(rows)} rows, scores {scores}, "
              f"exit {done.returncode}")
        print("\n".join(done.stdout.strip().splitlines()[-4:]))
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
