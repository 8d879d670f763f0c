"""The judge's watch over a running worker: its processes' memory and number, what it wrote into its
scratch folder, and the time the machine (not the submission) kept it waiting for a CPU.

Where the worker has a user of its own (the judge is root), every process of that user is the
grading's (the slot is locked): they are counted and summed by user, whatever session they moved to.
Otherwise, by the worker's session. Where this process may create memory cgroups (root, a writable
v1 or v2 hierarchy), the worker and all its descendants also run in a cgroup of their own whose limit
the kernel enforces; its OOM kills are the submission's (it exceeded its memory), unlike those of the
machine's cgroup above it.
"""
import os
import time

from autograder import cgroup
import signal

from autograder.faults import GraderFault, SubmissionStopped
from autograder.sandbox.cleanup import all_pids, user_processes

MB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def session_processes(session_id):
    pids = []
    for pid in all_pids():
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) == session_id:   # field 6: the session
                    pids.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return pids


def memory_mb(pids):
    """Proportional resident memory (PSS: shared pages counted once) of the processes, in MB."""
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total_kb += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return total_kb / 1024


def resident_mb(pids):
    """Resident memory (RSS, shared pages counted in full) of the processes, in MB: an upper bound of
    their PSS that costs 0.01 ms a process against smaps_rollup's 5-12 ms."""
    pages = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                pages += int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return pages * PAGE / MB


def memory_over(pids, limit_mb):
    """The processes' PSS in MB when it exceeds limit_mb, else None; PSS is read only when RSS, its upper
    bound, exceeds the limit (a torch worker holds ~500 MB RSS, ~320 MB PSS, against 2,000 allowed)."""
    if resident_mb(pids) <= limit_mb:
        return None
    pss = memory_mb(pids)
    return pss if pss > limit_mb else None


def run_delay_s(pid):
    """Seconds `pid` has spent runnable but waiting for a CPU (/proc/PID/schedstat); 0 where unknown."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """utime + stime + cutime + cstime of `pid` in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def worker_cgroup(limit_mb):
    """A memory cgroup for one worker with this limit, or None where this machine allows none."""
    try:
        return cgroup.Limited(limit_mb)
    except OSError:
        return None


class Watch:
    """Checks one worker against its limits; `check()` raises SubmissionStopped when one is exceeded."""

    DISK_EVERY_S = 0.25   # walking the scratch folder costs more than reading /proc
    MEMORY_EVERY_S = 0.5  # RSS first, smaps_rollup (5-12 ms) only above the limit; RLIMIT_DATA bounds each process between

    def __init__(self, pid, uid, limits, scratch, memory_cgroup=None):
        self.pid, self.uid, self.limits, self.scratch, self.cgroup = pid, uid, limits, scratch, memory_cgroup
        self._checked = self._disk_checked = self._memory_checked = 0.0

    def processes(self):
        return user_processes(self.uid) if self.uid is not None else session_processes(self.pid)

    def check(self, every_s=0.0):
        """Raise SubmissionStopped at a limit; with every_s, at most that often (a few ms of /proc each)."""
        if time.monotonic() - self._checked < every_s:
            return
        self._checked = time.monotonic()
        limits = self.limits
        pids = self.processes()
        if len(pids) > limits["worker_processes"]:
            raise SubmissionStopped(f"it started {len(pids)} processes (a fork storm?) and was stopped")
        if time.monotonic() - self._memory_checked >= self.MEMORY_EVERY_S:
            self._memory_checked = time.monotonic()
            pss = memory_over(pids, limits["worker_rss_mb"])
            if pss is not None:
                raise SubmissionStopped(f"it used more than {limits['worker_rss_mb']} MB of memory ({pss:.0f} MB) "
                                        "and was stopped")
        if time.monotonic() - self._disk_checked > self.DISK_EVERY_S:
            self._disk_checked = time.monotonic()
            used, files = self.scratch.usage(limits["worker_scratch_files"])
            if files > limits["worker_scratch_files"] or used > limits["worker_scratch_mb"] * MB:
                raise SubmissionStopped(f"it wrote more than {limits['worker_scratch_mb']} MB or "
                                        f"{limits['worker_scratch_files']} files into its folders and was stopped")

    def out_of_memory(self):
        """Whether the kernel killed a process of the worker's own cgroup for exceeding that cgroup's own
        limit (a kill under the machine's limit above it is not the submission's doing)."""
        return self.cgroup is not None and self.cgroup.oom_kills() > 0 and self.cgroup.hit_own_limit()

    def run_delay_s(self):
        return run_delay_s(self.pid)

    def cpu_s(self):
        """CPU seconds of the worker's processes (their own and their reaped children's), all together."""
        return sum(cpu_s(pid) for pid in self.processes())

    def why_ended(self, code):
        """Why the worker ended by itself. What its own limits say (a file too large, its own memory
        cgroup's OOM kill) is the submission's doing; any other end is not pinned on it."""
        if code is not None and code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            if name == "SIGXFSZ":
                return SubmissionStopped("the process running your code wrote too large a file and was stopped")
            if name == "SIGKILL" and self.out_of_memory():
                return SubmissionStopped(f"it used more than {self.limits['worker_rss_mb']} MB of memory and was stopped")
            if name == "SIGKILL" and self.cgroup is not None and self.cgroup.oom_kills() > 0:
                return GraderFault("the machine's memory limit was reached: the kernel's OOM killer stopped the worker")
            return GraderFault(f"the worker was terminated by {name} while under its memory and process limits")
        return GraderFault(f"the worker exited (status {code}) without saying why")
