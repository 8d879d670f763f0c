"""Ending a worker's processes: its session, every process of its slot's user, what that user left in
the world-writable folders; and a guardian that does so when the judge itself is killed."""
import os
import signal
import subprocess
import sys
import time

SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def kill_session(pid):
    """SIGKILL the session `pid` leads, and `pid` itself should it not lead one yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def all_pids():
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def user_processes(uid):
    pids = []
    for pid in all_pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                pids.append(pid)
        except OSError:
            continue
    return pids


def kill_user_processes(uid, rounds=50):
    """SIGKILL every process of `uid` until none is left. A fork storm refills the process table as
    fast as it is emptied one pid at a time, so a child of ours becomes `uid` and sends kill(-1):
    one call that reaches every process of that user at once."""
    for _ in range(rounds):
        if not user_processes(uid):
            return
        child = os.fork()
        if child == 0:   # pragma: no cover (the child only kills and exits)
            try:
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        time.sleep(0.02)


def remove_user_files(uid):
    """What the worker's user left in the world-writable folders (its processes are dead by now)."""
    for folder in SHARED_WRITABLE:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    subprocess.run(["rm", "-rf", "--one-file-system", entry.path], check=False,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError:
                continue


def start_time(pid):
    """The process's start time (clock ticks since boot) as text, or None: with the pid, its identity."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def end_processes(session_pids, uid):
    """Kill the sessions of `session_pids` and, with a user of the slot's own, every process of it."""
    for pid in session_pids:
        kill_session(pid)
    if uid is not None:
        kill_user_processes(uid)
        remove_user_files(uid)


class Guardian:
    """A process of the judge's user, in a session of its own, that outlives a judge killed by any signal
    (SIGKILL included) just long enough to end the grading's processes and remove its scratch folders.

    The judge tells it each worker it starts and each scratch folder it makes, over a pipe; when the pipe
    closes without "done" (the judge died), it cleans up. It holds the slot's lock (inherited), so the
    slot is not handed to another grading before it has."""

    def __init__(self, uid, keep_fds=()):
        """uid: the slot's user (None: the worker runs as the judge's user, only its sessions are ended);
        keep_fds: what the guardian keeps open (the slot's lock); it closes every other descriptor."""
        read_end, self._pipe = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:   # pragma: no cover (runs in the child)
            try:
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                for fd in map(int, os.listdir("/proc/self/fd")):
                    if fd > 2 and fd not in (read_end, *keep_fds):
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                self._watch(read_end, uid)
            finally:
                os._exit(0)
        os.close(read_end)

    @staticmethod
    def _watch(read_end, uid):
        sessions, folders, cgroups, buffered = set(), set(), set(), b""
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                kind, _, value = line.decode().partition(" ")
                if kind == "done":
                    return
                {"worker": sessions.add, "scratch": folders.add, "cgroup": cgroups.add}[kind](value)
        end_processes([int(pid) for pid, started in map(str.split, sessions) if start_time(int(pid)) == started], uid)
        for folder in folders:
            subprocess.run(["rm", "-rf", "--one-file-system", folder], check=False)
        for folder in cgroups:   # empty once their processes are dead
            for _ in range(50):
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)

    def _tell(self, line):
        try:
            os.write(self._pipe, line.encode() + b"\n")
        except OSError:
            print("sandbox: the guardian of this grading has gone", file=sys.__stdout__, flush=True)

    def worker(self, pid):
        self._tell(f"worker {pid} {start_time(pid)}")   # a pid reused since is not the worker's

    def scratch(self, path):
        self._tell(f"scratch {path}")

    def cgroup(self, path):
        self._tell(f"cgroup {path}")

    def close(self):
        """The grading ended normally (its processes are ended, its folders removed)."""
        self._tell("done")
        os.close(self._pipe)
        os.waitpid(self.pid, 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
