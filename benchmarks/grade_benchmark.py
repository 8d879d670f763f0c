"""Cost of grading one submission (default: the reference), beside the cost of importing torch.

    .venv/bin/python benchmarks/grade_benchmark.py [SUBMISSION] [--repeat N] [--cores 1] [--cold]

Each run is `python -m autograder grade` in a child memory cgroup (as root): wall seconds, CPU seconds
of the whole tree (judge + worker), the cgroup's memory peak (what Gradescope's limit counts: shared
library pages once, page cache included), and a breakdown by phase (median over the runs) from
`grade --profile`: wall and CPU seconds, the judge's and the worker's anonymous memory. Each grading
is paired with a bare `python -c "import torch"` run just before it (the ratio the issue asks about,
per pair and as medians), with the load average, since a shared machine's load moves both. `--cores 1`
pins everything to one core (taskset), as the issue's figures were taken; `--cold` drops the page
cache before each run (root), as on a fresh Gradescope container.
Prints figures; asserts nothing.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import PYTHON, REPO

from autograder import cgroup


def pinned(command, cores):
    return (["taskset", "-c", ",".join(map(str, range(cores)))] if cores else []) + command


def timed(command, memory_mb=None, cold=False):
    """(wall s, CPU s of the tree, cgroup peak MB or None, stdout) of one command."""
    if cold:
        subprocess.run(["sync"])
        Path("/proc/sys/vm/drop_caches").write_text("1")
    limit = None
    if os.geteuid() == 0:
        try:
            limit = cgroup.Limited(memory_mb or 1 << 20)
        except OSError:
            limit = None
    wrapped = command if limit is None else ["sh", "-c", f'echo $$ > "{limit.path}/cgroup.procs" && exec "$@"', "sh", *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(wrapped, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = limit.peak_mb() if limit else None
    if limit:
        limit.remove()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak, done.stdout + done.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submission", nargs="?", default=str(REPO / "reference"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cores", type=int, default=0, help="pin to this many cores (0: no pinning)")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each run (root)")
    parser.add_argument("--memory-mb", type=int, default=0, help="run inside this memory limit (0: none)")
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs, pinned to {args.cores or 'all'} core(s); {args.repeat} runs each; "
          f"page cache {'dropped' if args.cold else 'warm'}; memory limit {args.memory_mb or 'none'} MB")

    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    # Paired: each grading right after its own `import torch`, so that both see the same load.
    imports, runs, profiles = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):
            imports.append(timed(pinned([PYTHON, "-c", "import torch"], args.cores), cold=args.cold))
            command = pinned([PYTHON, "-m", "autograder", "grade", args.submission, "--results", f"{tmp}/r.json",
                              "--profile", f"{tmp}/profile.json"], args.cores)
            wall, cpu, peak, output = timed(command, args.memory_mb, args.cold)
            score = next((line for line in output.splitlines() if line.startswith("score:")), "no score printed")
            runs.append((wall, cpu, peak))
            profiles.append(json.loads(Path(f"{tmp}/profile.json").read_text()))
            print(f"pair {k + 1}: import torch {imports[-1][0]:4.2f} s; grading wall {wall:5.2f} s "
                  f"(= {wall / imports[-1][0]:.2f} x)  CPU {cpu:5.2f} s  cgroup peak "
                  + (f"{peak:4.0f} MB" if peak is not None else "n/a") + f"  {score}  [load {os.getloadavg()[0]:.1f}]")
    torch_wall = statistics.median(w for w, *_ in imports)
    wall = statistics.median(w for w, _, _ in runs)
    ratios = sorted(g[0] / i[0] for g, i in zip(runs, imports))
    peaks = [p for *_, p in runs if p is not None]
    print(f"python -c 'import torch': median wall {torch_wall:.2f} s, CPU {statistics.median(c for _, c, *_ in imports):.2f} s")
    print(f"grading: median wall {wall:.2f} s = {wall / torch_wall:.2f} x import torch (median of the pairs' ratios "
          f"{statistics.median(ratios):.2f}, {ratios[0]:.2f}-{ratios[-1]:.2f}); median CPU "
          f"{statistics.median(c for _, c, _ in runs):.2f} s; cgroup peak "
          + (f"{max(peaks):.0f} MB (max of runs)" if peaks else "not measured (needs root)")
          + f"; load average {os.getloadavg()[0]:.1f} at the end")

    print("\nphase (median of runs)                          wall s  judge CPU s  worker CPU s  "
          "judge anon MB  worker anon MB (at the phase's end)")
    for i, phase in enumerate(profiles[0]):
        pick = lambda key: statistics.median(p[i].get(key, 0.0) for p in profiles)
        print(f"{phase['phase']:<46} {pick('wall_s'):7.2f} {pick('judge_cpu_s'):11.2f} {pick('worker_cpu_s'):12.2f}  "
              f"{pick('judge_anon_mb'):13.0f}  {pick('worker_anon_mb'):14.0f}")


if __name__ == "__main__":
    main()
