"""The memory cgroup this process runs in (v1 or v2): its OOM-kill counter, and child cgroups with a
memory limit for staff tools that reproduce Gradescope's limit.

The judge reads `oom_kills()` before and after a test: a worker killed while the counter moved was
killed by the machine's memory limit, not by anything the submission can be charged with.
"""
import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def memory_cgroup(pid="self"):
    """(path of the process's memory cgroup, version 1 or 2), or (None, 0) when there is none."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None, 0
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = ROOT / "memory" / path.lstrip("/")
            if folder.is_dir():
                return folder, 1
    for line in lines:
        if line.startswith("0::"):
            folder = ROOT / line[3:].lstrip("/")
            if (folder / "memory.events").exists():
                return folder, 2
    return None, 0


def oom_kills(pid="self"):
    """How many processes the kernel's OOM killer has killed in this cgroup (and below); None if unknown."""
    folder, version = memory_cgroup(pid)
    name = {1: "memory.oom_control", 2: "memory.events"}.get(version)
    try:
        text = (folder / name).read_text() if name else ""
    except OSError:
        return None
    counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
    return int(counts["oom_kill"]) if "oom_kill" in counts else None


class Limited:
    """A child cgroup of ours with a memory limit (no swap beyond it); `enter(pid)` moves a process in,
    `peak_mb()` is the most memory it ever charged (shared library pages counted once, page cache
    included, as the kernel counts toward the limit). Needs write access to our cgroup (root)."""

    def __init__(self, limit_mb):
        parent, self.version = memory_cgroup()
        if parent is None:
            raise OSError("this machine has no memory cgroup to create a limit in")
        self.path = parent / f"autograder-limit-{uuid.uuid4().hex[:8]}"
        self.path.mkdir()
        limit = str(int(limit_mb) << 20)
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(limit)
            try:
                (self.path / "memory.memsw.limit_in_bytes").write_text(limit)
            except OSError:
                pass   # no swap accounting: without swap the memory limit is the limit
        else:
            (self.path / "memory.max").write_text(limit)
            (self.path / "memory.swap.max").write_text("0")

    def enter(self, pid):
        (self.path / "cgroup.procs").write_text(str(pid))

    def peak_mb(self):
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int((self.path / name).read_text()) / (1 << 20)
        except OSError:
            return None

    def oom_kills(self):
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        counts = dict(line.split() for line in (self.path / name).read_text().splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))

    def hit_own_limit(self):
        """Whether usage ever reached this cgroup's own limit (not only a limit above it): v1's failcnt,
        v2's "max" events. An OOM kill of ours without it was the machine's limit, not ours."""
        try:
            if self.version == 1:
                return int((self.path / "memory.failcnt").read_text()) > 0
            counts = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            return int(counts.get("max", 0)) > 0
        except (OSError, ValueError):
            return False

    def kill_all(self, wait_s=2.0):
        """SIGKILL every process in the cgroup, and wait (briefly) until it is empty."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass
