"""Where a grading's time and memory go: wall and CPU seconds of each phase (judge start, worker start,
each test, cleanup), the judge's CPU and the worker's separately, and each one's anonymous memory at the
end of the phase (RssAnon: its own heap, not the shared library pages). Written with
`grade --profile FILE` for benchmarks/grade_benchmark.py; costs four /proc reads per phase."""
import json
import os
import resource
import time

TICKS = os.sysconf("SC_CLK_TCK")


def process_age_s():
    """Seconds since this process started (the judge's start: interpreter and imports)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / TICKS


def cpu_s(pid=None):
    """CPU seconds (user + system) of this process, or of `pid` (0 once it is gone)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def anon_mb(pid=None):
    """Anonymous resident memory (MB) of this process, or of `pid` (0 once it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid or 'self'}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))
        return kb / 1024
    except (OSError, StopIteration, ValueError):
        return 0.0


class Profile:
    def __init__(self):
        self.phases = [{"phase": "judge start", "wall_s": process_age_s(), "judge_cpu_s": cpu_s(), "worker_cpu_s": 0.0,
                        "judge_anon_mb": anon_mb(), "worker_anon_mb": 0.0}]
        self._mark = None

    def start(self, worker_pid=None):
        self._mark = (time.monotonic(), cpu_s(), worker_pid, cpu_s(worker_pid) if worker_pid else 0.0)

    def stop(self, phase, worker_pid=None):
        wall, judge, before_pid, worker = self._mark
        # A worker (re)started during the phase: all of its CPU counts; one that was replaced is lost
        # to this count (it is small next to a start).
        worker_cpu = cpu_s(worker_pid) - (worker if worker_pid == before_pid else 0.0) if worker_pid else 0.0
        self.phases.append({"phase": phase, "wall_s": time.monotonic() - wall, "judge_cpu_s": cpu_s() - judge,
                            "worker_cpu_s": max(0.0, worker_cpu), "judge_anon_mb": anon_mb(),
                            "worker_anon_mb": anon_mb(worker_pid) if worker_pid else 0.0})

    def write(self, path):
        with open(path, "w") as f:
            json.dump(self.phases, f, indent=1)
