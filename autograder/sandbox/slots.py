"""Worker slots: one unprivileged user per parallel grading, held through a lock for the grading's life,
so that killing "every process of the slot's user" can never reach another grading's worker."""
import fcntl
import os
import pwd
import subprocess
import time
from pathlib import Path

WORKER_USERS = ["gradeworker"] + [f"gradeworker{i}" for i in range(1, 8)]   # one per parallel grading slot

# One lock file per worker user, shared by every grading on this machine (whatever checkout it runs from).
SLOT_LOCKS = Path("/run/lock/autograder-slots") if Path("/run/lock").is_dir() else Path("/var/lock/autograder-slots")


def worker_account(slot=0):
    """(uid, gid) of the slot's worker user when the judge is root and the user exists, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(WORKER_USERS[slot])
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


class SlotsBusy(Exception):
    """Every worker slot is held by another grading and none freed up in time."""


class Slot:
    """A worker slot held exclusively by this process (as root), or slot 0 without a lock when the
    worker runs as the judge's own user (no user to kill, nothing to share)."""

    def __init__(self, number, lock_fd=None):
        self.number, self._fd = number, lock_fd
        self.account = worker_account(number) if lock_fd is not None else None

    @property
    def fds(self):
        """The lock's descriptor (a guardian keeps it open until it has cleaned up), or ()."""
        return () if self._fd is None else (self._fd,)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)   # closing the file drops the flock (a guardian still holding it keeps it)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def _lock_folder():
    """The root-owned lock folder; a folder anyone else could have planted is refused."""
    SLOT_LOCKS.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = os.lstat(SLOT_LOCKS)
    if info.st_uid != 0 or info.st_mode & 0o022 or not os.path.isdir(SLOT_LOCKS) or os.path.islink(SLOT_LOCKS):
        raise RuntimeError(f"{SLOT_LOCKS} is not a root-owned folder writable only by root; remove it")
    return SLOT_LOCKS


def acquire_slot(wait_s=3600.0, say=print):
    """A free worker slot: the first whose lock is free; waits (saying so once) while all are busy."""
    if os.geteuid() != 0 or worker_account(0) is None:
        return Slot(0)
    folder = _lock_folder()
    deadline, said = time.monotonic() + wait_s, False
    while True:
        for number, name in enumerate(WORKER_USERS):
            if worker_account(number) is None:
                continue
            fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Slot(number, fd)
        if time.monotonic() > deadline:
            raise SlotsBusy(f"all {len(WORKER_USERS)} worker slots are busy with other gradings")
        if not said:
            say(f"grade: all {len(WORKER_USERS)} worker slots are busy with other gradings on this machine; waiting")
            said = True
        time.sleep(0.5)


def install_user():
    """Create the workers' users (no login, no home, no groups); safe to run twice."""
    for slot, name in enumerate(WORKER_USERS):
        if worker_account(slot) is None:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                           check=True)
    print("worker users: " + ", ".join(f"{n} ({pwd.getpwnam(n).pw_uid})" for n in WORKER_USERS))
