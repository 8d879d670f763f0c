"""What the benchmark scripts share: where the project and its Python are, copying a submission, and
counting CPU seconds: of a process tree (a cgroup) and of the whole machine (/proc/stat)."""
import os
import shutil
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
sys.path.insert(0, str(REPO))
from autograder.selfcheck.surface import GRADED_FILES  # noqa: E402

CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuCgroup:
    """A cpuacct cgroup (v1) or a cgroup (v2) holding this process (or `pid`) and all it starts from
    then on: their CPU seconds, whatever session or user they move to (forked workers are no children
    of ours, so getrusage and /usr/bin/time miss them). cpu_s() is None where this machine allows no
    such cgroup (not root)."""

    def __init__(self, pid=None):
        self.path = None
        pid = os.getpid() if pid is None else pid
        for root, usage in ((CPUACCT, "cpuacct.usage"), (Path("/sys/fs/cgroup"), "cpu.stat")):
            if (root / usage).exists() or (root / "cgroup.controllers").exists():
                try:
                    path = root / f"benchmark-{uuid.uuid4().hex[:8]}"
                    path.mkdir()
                    (path / "cgroup.procs").write_text(str(pid))
                    self.path, self.usage = path, usage
                    return
                except OSError:
                    continue

    def cpu_s(self):
        if self.path is None:
            return None
        text = (self.path / self.usage).read_text()
        if self.usage == "cpuacct.usage":
            return int(text) / 1e9
        return int(dict(line.split() for line in text.splitlines())["usage_usec"]) / 1e6

    def remove(self):
        """This process back into the parent cgroup, and the cgroup removed (once its processes ended)."""
        if self.path is None:
            return
        if str(os.getpid()) in (self.path / "cgroup.procs").read_text().split():
            (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
        try:
            self.path.rmdir()
        except OSError:
            pass


def machine_cpu_s():
    """CPU seconds every processor of this machine has spent busy since boot (/proc/stat: all but idle
    and iowait), over the whole machine: other work on it is counted too."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[:7]) - fields[3] - fields[4]   # user nice system idle iowait irq softirq (not steal)
    return busy / os.sysconf("SC_CLK_TCK")


def copy_graded(source, destination):
    """The graded files of `source` into `destination`, keeping their paths."""
    for f in GRADED_FILES:
        (Path(destination) / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(source) / f, Path(destination) / f)
    return Path(destination)
