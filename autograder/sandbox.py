"""The sandboxed worker: student code runs here, never in the judge.

The worker is a separate Python process, started as the unprivileged user (when the judge runs as
root), in its own session, with resource limits, a scrubbed environment and a scratch folder that
holds only public code. The judge talks to it over two pipes with the data-only channel; it enforces
a deadline on every reply, watches the memory of the worker's processes, and kills them all (the
session, and every process of the worker's user) when a call fails or grading ends.
"""
import ctypes
import fcntl
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.selfcheck import channel
from autograder.selfcheck.expect import StudentError
from autograder.selfcheck.surface import GRADED_FILES
from autograder.worker import limits as worker_limits

WORKER_USERS = ["gradeworker"] + [f"gradeworker{i}" for i in range(1, 8)]   # one per parallel grading slot
SELFCHECK = Path(__file__).resolve().parent / "selfcheck"
WORKER = Path(__file__).resolve().parent / "worker"


def landlock_abi():
    """The kernel's Landlock ABI (0: none). With it, the worker is confined to its scratch folder and
    the interpreter; without it, only file modes keep it from the grader's files."""
    from autograder.worker.landlock import abi_version
    return abi_version()


class WorkerDied(StudentError):
    """The worker exited, hung, ran out of memory or was killed: `message` for the student, `reason` in
    short. `student`: the evidence pins it on the submission (its time, memory or process limit, its
    own exit, its forged replies); otherwise it is the grader's or the machine's fault."""

    def __init__(self, message, reason=None, *, student=True, timed_out=False):
        super().__init__(message)
        self.reason = reason or message
        self.student, self.timed_out = student, timed_out


TIMED_OUT = "it did not finish within the time limit and was stopped (an infinite loop, or very slow code?)"


def worker_account(slot=0):
    """(uid, gid) of the slot's worker user when the judge is root and the user exists, else None.
    Parallel gradings use different slots, so that killing one worker's user kills no other."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(WORKER_USERS[slot])
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


# One lock file per worker user, shared by every grading on this machine (whatever checkout it runs
# from): a grading holds its slot's lock for its whole life, so killing "every process of the slot's
# user" can never hit another grading's worker.
SLOT_LOCKS = Path("/run/lock/autograder-slots") if Path("/run/lock").is_dir() else Path("/var/lock/autograder-slots")


class SlotsBusy(Exception):
    """Every worker slot is held by another grading and none freed up in time."""


class Slot:
    """A worker slot held exclusively by this process (as root), or slot 0 without a lock when the
    worker runs as the judge's own user (no user to kill, nothing to share)."""

    def __init__(self, number, lock_fd=None):
        self.number, self._fd = number, lock_fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)   # closing the file drops the flock
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


def prepare(scratch, handout, submitted, slot=0):
    """Lay out scratch/worker: selfcheck/, clean/ (the handout's code), submission/ (clean + files)."""
    base = Path(scratch) / "worker"
    ignore = shutil.ignore_patterns("__pycache__", "selfcheck", "data", "runs", "*.pyc")
    shutil.copytree(SELFCHECK, base / "selfcheck", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(WORKER, base / "worker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(handout, base / "clean", ignore=ignore)
    shutil.copytree(handout, base / "submission", ignore=ignore)
    for graded, path in submitted.items():
        shutil.copyfile(path, base / "submission" / graded)
    for name in ("home", "tmp"):
        (base / name).mkdir()
    account = worker_account(slot)
    os.chmod(scratch, 0o711)
    for path in [base, *base.rglob("*")]:   # the code is read-only to the worker: it cannot rewrite probes
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    if account:
        # Only this slot's user may enter (group), and only home/ and tmp/ are its own.
        os.chown(base, 0, account[1])
        os.chmod(base, 0o750)
        for name in ("home", "tmp"):
            os.chown(base / name, *account)
            os.chmod(base / name, 0o700)
    return base


class Worker:
    """One worker process; `call` restarts it when needed. Use as a context manager."""

    def __init__(self, base, limits, slot=0, confined=True, zygote=None, device="cpu"):
        self.base, self.limits, self.zygote = Path(base), limits, zygote
        self.device = device       # the training checks' device: auto | cpu | cuda (grade --device)
        self.confined = confined   # Landlock is required of the worker (the judge relies on it)
        self.account = worker_account(slot)
        self.avoid = {}            # graded file -> why it is not imported from the submission
        self.import_errors = {}
        self.process = None
        self.requests = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self, deadline=None):
        """Start a worker; a graded file that hangs or kills the process at import is avoided next time."""
        for _ in range(8):
            importing = self._spawn(deadline)
            if importing is None:
                return
            self.avoid[importing["file"]] = importing["why"]
        raise WorkerDied("the worker could not start", student=False)

    def _spawn(self, budget_deadline=None):
        self.stop()
        base = self.base
        config = {"base": str(base), "root": str(base / "submission"), "clean_root": str(base / "clean"),
                  "avoid": self.avoid, "landlock": "required" if self.confined else "optional", "device": self.device}
        env = worker_environment(base, self.device)
        if self.zygote is not None:
            try:
                self.process, channel = self.zygote.fork(config, env, self.account, self.limits)
            except (OSError, ValueError, KeyError) as error:
                raise WorkerDied(f"the worker template failed ({error})", student=False) from None
            self.to_worker, self.from_worker = os.dup(channel), channel
        else:
            self._exec(config, env)
        os.set_blocking(self.to_worker, False)
        return self._await_ready(budget_deadline)

    def _exec(self, config, env):
        """A new interpreter: serve.py as the slot's user, in its own session, with its limits."""
        from_judge, to_worker = os.pipe()
        from_worker, to_judge = os.pipe()
        base = self.base
        args = [sys.executable, "-I", str(base / "worker" / "serve.py"), str(from_judge), str(to_judge),
                json.dumps(config)]
        limits = self.limits
        account = self.account

        def restrict():  # runs in the child before exec
            worker_limits.apply(limits, own_user=bool(account))

        log = open(os.open(base.parent / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        try:
            self.process = subprocess.Popen(
                args, cwd=base / "submission", env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(from_judge, to_judge), start_new_session=True, preexec_fn=restrict,
                user=account[0] if account else None, group=account[1] if account else None,
                extra_groups=[] if account else None)
        finally:
            log.close()
            os.close(from_judge)
            os.close(to_judge)
        self.to_worker, self.from_worker = to_worker, from_worker

    def _await_ready(self, budget_deadline):
        """None once the worker has imported the homework, or {file, why} of a graded file to avoid."""
        deadline = time.monotonic() + self.limits["startup_timeout_s"]
        cut = budget_deadline is not None and budget_deadline < deadline   # the grading's budget ends first
        deadline = min(deadline, budget_deadline) if cut else deadline
        importing = None
        while True:
            try:
                event = self._receive(deadline)
            except WorkerDied as death:
                self.stop()
                if cut and death.timed_out:   # not the file's fault: the time left was shorter than a start
                    raise WorkerDied("the grading's time budget ran out while the worker started", student=False,
                                     reason="the grading's time budget ran out while the worker started") from None
                graded = importing if importing in GRADED_FILES and death.student else None
                if graded is None:
                    raise WorkerDied(f"the worker failed to start ({death.reason})", student=False) from None
                return {"file": graded, "why": f"{graded} did not finish importing: {death.reason}"}
            if event.get("event") == "failed":   # it could not confine itself: no student code ran
                self.stop()
                raise WorkerDied(f"the worker failed to start ({event.get('why')})", student=False)
            if event.get("event") == "importing":
                importing = event.get("file")
            elif event.get("event") == "ready":
                self.import_errors = {**self.avoid, **event.get("import_errors", {})}
                return None

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    def has_children(self):
        """Whether the worker's session holds more than the worker (forked or background processes)."""
        return self.process is not None and session_memory(self.process.pid)[1] > 1

    def stop(self):
        """Kill the worker's session and, when it runs as its own user, every process of that user."""
        if self.process is None:
            return
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        kill_session(self.process.pid)
        self.process.wait()
        if self.account:
            kill_user_processes(self.account[0])
            remove_user_files(self.account[0])
        self.process = None

    # -- calls --------------------------------------------------------------------------------------

    def call(self, probe, inputs, seed, timeout):
        if self.process is None:
            self.start()
        deadline = time.monotonic() + timeout
        self.requests += 1
        self._send({"probe": probe, "inputs": inputs, "seed": seed, "id": self.requests}, deadline)
        reply = self._receive(deadline)
        if isinstance(reply, dict) and reply.get("id") == self.requests and "fault" in reply:
            raise WorkerDied(f"the grader sent a request its worker cannot run ({reply['fault']})",
                             reason=f"the grader's request did not fit its worker: {reply['fault']}", student=False)
        if not isinstance(reply, dict) or reply.get("id") != self.requests or not ("result" in reply or "error" in reply):
            self.stop()   # a forged or stale reply: the next request gets a fresh worker
            raise WorkerDied("the worker's reply did not answer the request (did your code write to the grader's pipes?)")
        if "error" in reply:
            raise StudentError(str(reply["error"]))
        return reply["result"]

    def _send(self, message, deadline):
        """Write a request with a deadline: a worker that stops reading must not block the judge."""
        data = memoryview(channel.encode(message))
        try:
            while data:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WorkerDied(TIMED_OUT, reason="it stopped reading requests", timed_out=True)
                _, writable, _ = select.select([], [self.to_worker], [], min(left, 0.25))
                if writable:
                    data = data[os.write(self.to_worker, data[: 1 << 16]):]
        except OSError:
            self.stop()
            raise WorkerDied("the worker process had exited before it could run your code",
                             reason="the worker had exited before the request", student=False) from None
        except WorkerDied:
            self.stop()
            raise

    def _receive(self, deadline):
        try:
            return channel.receive(self.from_worker, read=lambda fd, n: self._read(fd, n, deadline))
        except WorkerDied:
            self.stop()
            raise
        except (channel.ChannelError, EOFError, OSError) as error:
            self.stop()
            raise WorkerDied(f"the worker's reply could not be read ({error})") from None

    def _read(self, fd, n, deadline):
        chunks, remaining = [], n
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerDied(TIMED_OUT, reason="it ran past the time limit", timed_out=True)
            ready, _, _ = select.select([fd], [], [], min(left, 0.25))
            if not ready:
                rss, count = session_memory(self.process.pid, self.limits["worker_processes"])
                if count > self.limits["worker_processes"]:
                    raise WorkerDied(f"it started {count} processes (a fork storm?) and was stopped",
                                     reason="too many processes")
                if rss > self.limits["worker_rss_mb"]:
                    raise WorkerDied(f"it used more than {self.limits['worker_rss_mb']} MB of memory "
                                     f"({rss:.0f} MB) and was stopped", reason="out of memory")
                if self.process.poll() is not None:
                    raise died(self.process.returncode)
                continue
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                self.process.wait()
                raise died(self.process.returncode)
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


# Which CPU instructions torch's and MKL's kernels may use: staff (and the tests) set these to grade
# as a machine with another CPU would; Gradescope sets neither.
KERNEL_SETTINGS = ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")


def worker_environment(base, device="cpu"):
    """The worker's whole environment: nothing of the judge's but the kernel settings (and, unless the
    device is the CPU, which GPUs it may see), one thread, its own folders. With device "cpu" it sees
    no GPU."""
    gpus = {"CUDA_VISIBLE_DEVICES": ""} if device == "cpu" else {
        k: os.environ[k] for k in ("CUDA_VISIBLE_DEVICES",) if k in os.environ}
    return {"PATH": "/usr/bin:/bin", "HOME": str(base / "home"), "TMPDIR": str(base / "tmp"),
            "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **gpus,
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLCONFIGDIR": str(base / "tmp"),
            **{k: os.environ[k] for k in KERNEL_SETTINGS if k in os.environ}}


class Zygote:
    """A worker template (worker/zygote.py) that has imported torch: regrade forks each submission's
    worker from it instead of starting an interpreter. Owned by one grading process (one slot)."""

    def __init__(self, limits):
        self.limits = limits
        self._start()

    def _start(self):
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        theirs.setblocking(True)   # whatever socket.setdefaulttimeout this process was given
        env = worker_environment(Path("/nonexistent"))
        fd, self.log = tempfile.mkstemp(prefix="autograder-zygote-", suffix=".log")   # 0600: for staff
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-I", str(WORKER / "zygote.py"), str(theirs.fileno())],
                                            env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True)
        theirs.close()
        self.control = control
        control.settimeout(self.limits["startup_timeout_s"])
        hello = self._receive()
        if not hello.get("ready"):
            self.close()
            raise OSError(f"the worker template could not start: {hello.get('why')}")

    def _receive(self):
        message = self.control.recv(1 << 16)
        if not message:
            raise OSError("the worker template exited")
        return json.loads(message)

    def ask(self, request, fds=()):
        socket.send_fds(self.control, [json.dumps(request).encode()], list(fds))
        return self._receive()

    def fork(self, config, env, account, limits):
        """(a Popen-like handle, the judge's end of the channel) of a new worker; a template that has
        died since the last fork is started again first (its log stays for staff)."""
        if self.process.poll() is not None:
            print(f"sandbox: the worker template exited ({self.process.returncode}; log {self.log}); starting "
                  "another", file=sys.__stdout__, flush=True)
            self.close()
            self._start()
        judge_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        worker_end.setblocking(True)
        try:
            reply = self.ask({"op": "fork", "config": config, "env": env, "account": account, "limits": dict(limits)},
                             [worker_end.fileno()])
        finally:
            worker_end.close()
        return Forked(self, reply["pid"]), judge_end.detach()

    def close(self):
        self.control.close()
        kill_session(self.process.pid)
        self.process.wait()


class Forked:
    """subprocess.Popen's pid / poll / wait / returncode for a worker forked by the template."""

    def __init__(self, zygote, pid):
        self.zygote, self.pid, self.returncode = zygote, pid, None

    def poll(self):
        if self.returncode is None:
            self.returncode = self.zygote.ask({"op": "poll", "pid": self.pid})["status"]
        return self.returncode

    def wait(self):
        if self.returncode is None:
            self.returncode = self.zygote.ask({"op": "wait", "pid": self.pid})["status"]
        return self.returncode


def kill_session(pid):
    """SIGKILL the session `pid` leads, and `pid` itself should it not lead one yet."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def release_memory():
    """Hand the judge's freed heap back to the system between tests (the machine's memory limit
    counts what each process holds)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


def died(code):
    """The WorkerDied for a worker that ended by itself with this status. Its own exit and a file over
    RLIMIT_FSIZE are the submission's doing; a kill or crash it did not ask for (the kernel's OOM
    killer under the machine's memory limit, a segfault in a library) is not pinned on it."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        if name == "SIGXFSZ":
            return WorkerDied("the process running your code wrote too large a file and was stopped")
        return WorkerDied(f"the process running your code was terminated by {name}",
                          reason=f"the worker was terminated by {name} while under its memory and process limits",
                          student=False)
    return WorkerDied(f"the process running your code exited (status {code}): do not call sys.exit/os._exit "
                      "in the graded files")


def _processes():
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            yield int(entry.name)


def session_memory(session_id, max_processes=32):
    """(MB of proportional resident memory (PSS: shared pages counted once), number of processes)
    of the session. Memory is not summed past max_processes: that many is a failure already."""
    pids = []
    for pid in _processes():
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) == session_id:   # field 6: the session
                    pids.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    if len(pids) > max_processes:
        return 0.0, len(pids)
    total_kb = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total_kb += next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except (OSError, ValueError, IndexError, StopIteration):
            continue
    return total_kb / 1024, len(pids)


SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


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


def user_processes(uid):
    pids = []
    for pid in _processes():
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
