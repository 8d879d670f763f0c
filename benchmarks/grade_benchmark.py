"""Wall time, CPU time and peak memory of grading one submission (default: the reference).

    .venv/bin/python benchmarks/grade_benchmark.py [SUBMISSION] [--repeat N]

CPU time is the whole process tree's (judge + worker, user + system, from getrusage of the waited
children). Peak memory is the largest sum of resident memory over the tree, sampled every 20 ms,
and the largest single process (the worker, which holds torch). Prints figures; asserts nothing.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tree_rss_mb(root_pid):
    children, rss = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            children.setdefault(int(fields[1]), []).append(pid)
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
        except (OSError, ValueError, IndexError):
            continue
    total, largest, stack = 0.0, 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0.0)
        largest = max(largest, rss.get(pid, 0.0))
        stack.extend(children.get(pid, []))
    return total, largest


def measure(submission):
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(submission),
                                    "--results", f"{tmp}/results.json"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        peak = [0.0, 0.0]

        def sample():
            while process.poll() is None:
                total, largest = tree_rss_mb(process.pid)
                peak[0], peak[1] = max(peak[0], total), max(peak[1], largest)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        output = process.communicate()[0]
        sampler.join()
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    score = [line for line in output.splitlines() if line.startswith("score:")]
    return wall, cpu, peak[0], peak[1], score[0] if score else "no score printed"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(REPO / "reference"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"grading {args.submission} {args.repeat} times on {os.cpu_count()} CPUs (uid {os.geteuid()})")
    for k in range(args.repeat):
        wall, cpu, tree, largest, score = measure(args.submission)
        print(f"run {k + 1}: wall {wall:5.1f} s  cpu {cpu:5.1f} s  peak tree RSS {tree:6.0f} MB  "
              f"largest process {largest:6.0f} MB  {score}")


if __name__ == "__main__":
    main()
