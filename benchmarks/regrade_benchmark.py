"""Regrade throughput and where a regraded submission's CPU time goes, beside a standalone grading's.

    .venv/bin/python benchmarks/regrade_benchmark.py [--copies 100] [--jobs 2] [--breakdown 3] [SUBMISSION]

1. `python -m autograder regrade` of N copies of one submission (default: 100 of the reference), as
   course staff run it (as root: one worker slot and one worker template per job): wall seconds, and
   CPU seconds per submission counted two ways: every process regrade started (a cpuacct cgroup of
   its own: the judges, the templates, the workers they fork, whatever user or session those move
   to) and the whole machine (/proc/stat, so other work on a shared machine is counted too; it is
   the figure to quote only when the machine was otherwise idle). /usr/bin/time would miss the
   forked workers: they are the templates' children, not regrade's.
2. With --breakdown K (default 3): benchmarks/breakdown.py's table of CPU seconds by process and
   phase, K standalone gradings (`python -m autograder grade`, each a new judge and a new worker
   interpreter) beside K gradings by one regrade job (a warm judge, workers forked from its template).
   The job's start-up (judge, template) is spread over the N / jobs submissions each job grades.
   Then what the worker does around each probe request (the integrity snapshot checked before and
   after, torch's settings restored, the seed, the heap trimmed), per request and per grading.
Prints figures; asserts nothing.
"""
import argparse
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

import breakdown
from common import PYTHON, REPO, CpuCgroup, copy_graded, machine_cpu_s


def regrade(submission, copies, jobs):
    """(wall s, cgroup CPU s or None, machine CPU s, rows, scores, exit code, last lines) of one regrade."""
    tmp = Path(tempfile.mkdtemp(prefix="regrade-benchmark-"))
    try:
        folder = tmp / "submissions"
        for k in range(copies):
            copy_graded(submission, folder / f"s{k:03d}")
        group = CpuCgroup()   # this process and all it starts: regrade and everything regrade starts
        machine, started = machine_cpu_s(), time.monotonic()
        done = subprocess.run([PYTHON, "-m", "autograder", "regrade", str(folder), "--jobs", str(jobs),
                               "--out", str(tmp / "out")], cwd=REPO, capture_output=True, text=True)
        wall, machine = time.monotonic() - started, machine_cpu_s() - machine
        cgroup_cpu = group.cpu_s()
        group.remove()
        scores_csv = tmp / "out" / "scores.csv"
        rows = list(csv.DictReader(scores_csv.open())) if scores_csv.exists() else []
        return (wall, cgroup_cpu, machine, len(rows), sorted({float(r["score"]) for r in rows}), done.returncode,
                done.stdout.strip().splitlines()[-4:])
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(REPO / "reference"))
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--breakdown", type=int, default=3, help="gradings of each kind in the table (0: no table)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the start")
    wall, cgroup_cpu, machine, rows, scores, code, tail = regrade(args.submission, args.copies, args.jobs)
    n = max(1, rows)
    print(f"regrade: {args.copies} copies, {args.jobs} jobs: {wall:.0f} s wall ({wall / n:.2f} s per submission), "
          f"{rows} rows, scores {scores}, exit {code}")
    print("CPU seconds per submission: "
          + (f"{cgroup_cpu / n:.2f} by regrade's processes (cgroup, {cgroup_cpu:.0f} s in all); " if cgroup_cpu else "")
          + f"{machine / n:.2f} by the whole machine ({machine:.0f} s in {wall:.0f} s on {os.cpu_count()} CPUs: "
          f"{machine / (wall * os.cpu_count()):.0%} busy); load average {os.getloadavg()[0]:.1f} at the end")
    print("\n".join(tail))
    if args.breakdown:
        standalone = breakdown.measure("standalone", args.submission, args.breakdown)
        regraded = breakdown.measure("template", args.submission, args.breakdown)
        breakdown.print_side_by_side(standalone, regraded, per_job=max(1, args.copies // args.jobs))
        breakdown.print_requests(breakdown.measure_requests(), breakdown.summary(regraded)["requests"])


if __name__ == "__main__":
    main()
