"""The students' self-check: `pytest` in a handout folder holding the reference's graded files.

    .venv/bin/python benchmarks/selfcheck_benchmark.py [--repeat 5] [SUBMISSION]

Copies the handout (student_template/) into a temporary folder, puts SUBMISSION's graded files in it
(default: the reference), and times `python -m pytest` there, as a student runs it.
Prints figures; asserts nothing.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO, copy_graded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(REPO / "reference"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="selfcheck-benchmark-"))
    try:
        root = tmp / "hw"
        shutil.copytree(REPO / "student_template", root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
        copy_graded(args.submission, root)
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")}
        walls, last = [], None
        for _ in range(args.repeat):
            started = time.monotonic()
            last = subprocess.run([PYTHON, "-m", "pytest"], cwd=root, env=env,
                                  capture_output=True, text=True)
            walls.append(time.monotonic() - started)
        print(f"pytest in the handout, {args.repeat} runs on {os.cpu_count()} CPUs: median {statistics.median(walls):.1f} s, "
              f"min {min(walls):.1f} s, max {max(walls):.1f} s; last: {last.stdout.strip().splitlines()[-1]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
