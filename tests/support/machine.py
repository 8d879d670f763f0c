"""What a grading must leave as it found: the workers' users' processes, the source tree (contents
and modes), the world-writable folders and canary files. Used by test_hostile.py."""
import hashlib
import signal
import os
import pwd
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


from autograder.sandbox import WORKER_USERS

SOURCE = Path(__file__).resolve().parent.parent.parent


def worker_uids():
    """The uids of the workers' users (one per grading slot)."""
    uids = set()
    for name in WORKER_USERS:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            pass
    return uids


BOOT_TIME = next(int(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
TICKS = os.sysconf("SC_CLK_TCK")


def worker_processes(scratch_parent, since, uid=None):
    """{pid: description} of the workers' users' processes that belong to this test's grading: of its
    slot's user (`uid`, when known), and either naming this test's scratch parent in their working folder
    or environment, or started during the grading and naming no other grading's scratch (other gradings
    may run on this machine at the same time)."""
    uids, found = ({uid} if uid is not None else worker_uids()), {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(entry.path).st_uid not in uids:
                continue
            with open(f"{entry.path}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{entry.path}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
            try:
                cwd = os.readlink(f"{entry.path}/cwd")
            except OSError:
                cwd = ""
            try:
                with open(f"{entry.path}/environ", "rb") as f:
                    environ = f.read().decode(errors="replace")
            except OSError:
                environ = ""
        except (OSError, IndexError):
            continue
        started = BOOT_TIME + int(fields[19]) / TICKS
        named = str(scratch_parent) in cwd or str(scratch_parent) in environ
        elsewhere = "/grading-" in cwd + environ
        if named or (started >= since - 1 and not elsewhere):
            found[int(entry.name)] = f"pid {entry.name} state {fields[0]} cwd {cwd}: {cmdline}"
    return found


def settled_worker_processes(scratch_parent, since, wait_s=5.0, uid=None):
    """This grading's processes still alive (zombies are dead: an orphan the judge killed stays a zombie
    until pid 1 reaps it, and a process just killed takes a moment to become one)."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = {pid: d for pid, d in worker_processes(scratch_parent, since, uid).items() if " state Z " not in d}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def kill_processes(scratch_parent, since, uid=None):
    """Kill what this test's grading left alive (so that the next case starts clean)."""
    for _ in range(50):
        alive = settled_worker_processes(scratch_parent, since, wait_s=0, uid=uid)
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


def tree_snapshot(root, skip=("__pycache__", ".hypothesis", ".git")):
    """{path: (mtime_ns, size, mode)} of everything under root but `skip` folders."""
    out, stack = {}, [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name in skip:
                continue
            st = e.stat(follow_symlinks=False)
            out[e.path] = (st.st_mtime_ns, st.st_size, stat.S_IMODE(st.st_mode))
            if stat.S_ISDIR(st.st_mode):
                stack.append(e.path)
    return out


def world_writable_dirs():
    found = []
    for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue"):
        try:
            st = os.stat(d)
        except OSError:
            continue
        if st.st_mode & 0o002:
            found.append(d)
    return found


def shared_listing():
    """{path: owner uid} of the entries at the top of every world-writable folder."""
    out = {}
    for d in world_writable_dirs():
        for e in os.scandir(d):
            try:
                out[e.path] = e.stat(follow_symlinks=False).st_uid
            except OSError:
                pass
    return out


def new_shared_entries(before, after, uid=None):
    """Entries that appeared in /tmp & co owned by this grading's worker user (`uid`; any worker user's
    when unknown). The judge itself puts nothing there (its scratch folders are in a private root); new
    root-owned entries are other programs on this machine, and other gradings' workers cannot write there."""
    uids = {uid} if uid is not None else worker_uids()
    return sorted(p for p, owner in after.items() if p not in before and owner in uids)


def remove(paths):
    """Remove what this test's hostile submission left behind (after it was reported), so that the next
    case starts clean: only entries of this grading's worker user, found by new_shared_entries."""
    for p in paths:
        path = Path(p)
        if path.is_dir() and not path.is_symlink():
            subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
        else:
            path.unlink(missing_ok=True)


def run_root():
    """This test run's own temporary root (tests/conftest.py), or the system's temporary folder."""
    scratch = os.environ.get("AUTOGRADER_SCRATCH")
    return str(Path(scratch).parent) if scratch else None


# Per test run: a second run on the same machine has canaries of its own.
CANARIES = [Path("/tmp") / f"hostile-canary-{os.getpid()}", Path("/root") / f"hostile-canary-{os.getpid()}"]


@pytest.fixture(scope="module")
def machine():
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(WORKER_USERS[0])
        except KeyError:
            subprocess.run([str(SOURCE / ".venv" / "bin" / "python"), "-m", "autograder", "install-user"],
                           cwd=SOURCE, check=True)
    # What an interrupted earlier run of this module left behind (the corpus names its litter hostile-*).
    uids = worker_uids()
    remove([p for p, owner in shared_listing().items() if owner in uids and Path(p).name.lstrip(".").startswith("hostile")])
    for canary in CANARIES:
        canary.write_text("canary: nothing may change this file\n")
        canary.chmod(0o644)
    state = {"source": tree_snapshot(SOURCE)}
    yield state
    for canary in CANARIES:
        canary.unlink(missing_ok=True)


@pytest.fixture
def scratch_parent():
    """This grading's gradings root ($AUTOGRADER_SCRATCH), so that its processes and folders are told
    apart from other gradings' on the same machine; the worker's user may pass through it."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-issue6-", dir=run_root()))
    folder.chmod(0o711)
    yield folder
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)   # rmtree recurses: deep trees defeat it


@pytest.fixture
def gradescope_root():
    """Like Gradescope's /autograder: a root-owned folder anyone may pass through (so that only the
    grader's own care keeps the worker out of results/, not pytest's private tmp folder)."""
    folder = Path(tempfile.mkdtemp(prefix="hostile-issue6-root-", dir=run_root()))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["rm", "-rf", "--one-file-system", str(folder)], check=False)


def canary_state():
    return {str(c): (c.stat().st_mtime_ns, c.stat().st_size, c.stat().st_mode,
                     hashlib.sha256(c.read_bytes()).hexdigest()) if c.exists() else None for c in CANARIES}


def diff(before, after):
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    return changed
