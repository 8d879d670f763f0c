"""One worker process, seen from the judge: start it (a new interpreter, or a fork of the template),
ask it to run probes, and stop it. Every wait has a limit; every failure is raised as the kind the
evidence supports (autograder.faults)."""
import json
import os
import select
import subprocess
import sys
import time

from autograder.faults import GraderFault, SubmissionStopped
from autograder.sandbox.clock import BACKSTOP, TICK_S, Clock, charging
from autograder.sandbox.cleanup import end_processes
from autograder.sandbox.scratch import worker_environment
from autograder.sandbox.watch import Watch, worker_cgroup
from autograder.selfcheck import channel
from autograder.selfcheck.expect import StudentError, input_shapes
from autograder.selfcheck.surface import GRADED_FILES
from autograder.worker import limits as worker_limits

MB = 1 << 20
MAX_TEST_BYTES = 256 << 20   # what the worker may send the judge in one test, all messages together


class Worker:
    """One worker process at a time for one scratch folder; `start` before `call`. A context manager."""

    def __init__(self, scratch, limits, account=None, confined=True, zygote=None, guardian=None, device="cpu"):
        self.scratch, self.limits, self.account, self.zygote = scratch, limits, account, zygote
        self.device = device       # the training checks' device: auto | cpu | cuda (grade --device)
        self.confined = confined   # Landlock is required of the worker (the judge relies on it)
        self.guardian = guardian
        self.avoid = {}            # graded file -> why it is not imported from the submission
        self.import_errors, self.global_changes = {}, {}
        self.unconfined = []       # what of its confinement the kernel refused (logged for staff)
        self.spawned = {}          # graded file -> note: it started processes at import (stopped)
        self.import_seconds = 0.0  # the graded files' own import time at the last start (the submission's)
        self.process = self.watch = None
        self.requests = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    # -- start --------------------------------------------------------------------------------------

    def start(self, wall_end=None):
        """Start a worker. A graded file that hangs at import, exits at import or kills the process each
        time it is imported is avoided (its tests say why); any other failure is the grader's."""
        died_importing = {}
        for _ in range(2 * len(GRADED_FILES) + 2):
            verdict = self._spawn(wall_end)
            if verdict is None:
                return
            kind, file, why = verdict
            if kind == "avoid" or died_importing.get(file):
                self.avoid[file] = why if kind == "avoid" else f"the process running it died each time it was imported ({why})"
            else:
                died_importing[file] = why   # once may be the machine: import it once more before blaming it
        raise GraderFault("the worker could not start")

    def _spawn(self, wall_end):
        self.stop()
        base = self.scratch.base
        config = {"base": str(base), "root": str(base / "submission"), "clean_root": str(base / "clean"),
                  "avoid": self.avoid, "landlock": "required" if self.confined else "optional", "device": self.device}
        env = worker_environment(base, self.device)
        memory = worker_cgroup(self.limits["worker_rss_mb"])
        try:
            if self.zygote is not None:
                try:
                    self.process, self.from_worker = self.zygote.fork(config, env, self.account, self.limits)
                except (OSError, ValueError, KeyError) as error:
                    raise GraderFault(f"the worker template failed ({error})") from None
                self.to_worker = os.dup(self.from_worker)
            else:
                self._exec(config, env)
        except BaseException:
            if memory is not None:
                memory.remove()
            raise
        if memory is not None:
            try:
                memory.enter(self.process.pid)   # before it imports anything of the submission
            except OSError:
                memory.remove()
                memory = None
        if self.guardian is not None:
            self.guardian.worker(self.process.pid)
            if memory is not None:
                self.guardian.cgroup(memory.path)
        self.watch = Watch(self.process.pid, self.account[0] if self.account else None, self.limits, self.scratch, memory)
        os.set_blocking(self.to_worker, False)
        return self._await_ready(wall_end)

    def _exec(self, config, env):
        """A new interpreter: serve.py as the slot's user, in its own session, with its limits."""
        from_judge, to_worker = os.pipe()
        from_worker, to_judge = os.pipe()
        base = self.scratch.base
        args = [sys.executable, "-I", str(base / "worker" / "serve.py"), str(from_judge), str(to_judge),
                json.dumps(config)]
        limits, account = self.limits, self.account

        def restrict():  # runs in the child before exec, after it became the slot's user
            worker_limits.apply(limits, own_user=bool(account))
            worker_limits.die_with_parent()

        log = open(os.open(self.scratch.path / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
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

    def _await_ready(self, wall_end):
        """None once the worker has imported the homework, else (avoid|died, graded file, why)."""
        limit = self.limits["startup_timeout_s"]
        clock = Clock(limit, BACKSTOP * limit)
        cut = wall_end is not None and wall_end < clock.wall_end   # the grading's budget ends first
        clock.wall_end = min(clock.wall_end, wall_end) if cut else clock.wall_end
        importing, since, spent = None, None, 0.0
        while True:
            try:
                event = self._receive(clock)
            except (SubmissionStopped, GraderFault) as failure:
                self.stop()
                graded = importing if importing in GRADED_FILES else None
                if isinstance(failure, GraderFault) and cut and time.monotonic() >= clock.wall_end:
                    raise GraderFault("the grading's time budget ran out while the worker started") from None
                if graded is None:
                    raise GraderFault(f"the worker failed to start ({failure})") from None
                if isinstance(failure, SubmissionStopped):   # its time, memory, exit... at import: its own
                    return "avoid", graded, f"{graded} did not finish importing: {failure}"
                return "died", graded, str(failure)
            if not isinstance(event, dict):
                continue
            if event.get("event") == "exit" and importing in GRADED_FILES:
                self.stop()
                return "avoid", importing, (f"{importing} ended the process while it was imported ({event.get('how')}): "
                                            "do not call sys.exit or os._exit in the graded files")
            if event.get("event") == "failed":   # it could not confine itself: no student code ran
                self.stop()
                raise GraderFault(f"the worker failed to start ({event.get('why')})")
            if event.get("event") == "importing":
                now = time.monotonic()
                if importing in GRADED_FILES:
                    spent += now - since
                importing, since = event.get("file"), now
            elif event.get("event") == "ready":
                for file, names in _strings(event.get("tampered")).items():   # the worker cannot be believed
                    self.stop()
                    return "avoid", file, (f"{file} changed the grader's own code or the library functions it relies on "
                                           f"when it was imported ({names[:300]}), so nothing the worker reported about "
                                           "it could be believed; its tests earn nothing")
                for file, size in _strings(event.get("wrote")).items():   # its own limit, at import
                    if int(float(size)) > self.limits["worker_scratch_mb"] * MB:
                        self.stop()
                        return "avoid", file, (f"{file} wrote {int(float(size)) >> 20} MB of files when it was "
                                               f"imported, more than the {self.limits['worker_scratch_mb']} MB allowed")
                self.spawned = {f: (f"{f} started {n} process(es) when it was imported; the grader stopped them "
                                    "(the graded files need none)") for f, n in _strings(event.get("spawned")).items()}
                if importing in GRADED_FILES:
                    spent += time.monotonic() - since
                self.import_seconds = spent
                self.import_errors = {**self.avoid, **_strings(event.get("import_errors"))}
                self.global_changes = _strings(event.get("global_changes"))
                unconfined = event.get("unconfined")
                self.unconfined = [str(u)[:200] for u in unconfined][:4] if isinstance(unconfined, list) else []
                return None

    # -- calls --------------------------------------------------------------------------------------

    def call(self, probe, inputs, seed, clock):
        """The probe's result; StudentError when the student's code raised; SubmissionStopped or
        GraderFault when the worker had to be stopped."""
        if self.process is None:   # stopped by an earlier call of the same test (its exit, its limit)
            self.start(wall_end=clock.wall_end)
        self.requests += 1
        self._send({"probe": probe, "inputs": inputs, "seed": seed, "id": self.requests}, clock)
        reply = self._receive(clock)
        try:
            self.watch.check(every_s=0.1)   # also after quick replies, not only while the judge waits
        except SubmissionStopped:
            self.stop()
            raise
        if isinstance(reply, dict) and reply.get("event") == "exit":
            self.stop()
            raise SubmissionStopped(f"your code ended the process running it ({reply.get('how', 'an exit')}): do not "
                                    "call sys.exit or os._exit in the graded files")
        if isinstance(reply, dict) and reply.get("id") == self.requests and "fault" in reply:
            raise GraderFault(f"the grader's request did not fit its worker: {reply['fault']}")
        if isinstance(reply, dict) and reply.get("id") == self.requests and isinstance(reply.get("tampered"), list):
            self.stop()   # what it changed stays changed in that process
            names = ", ".join(str(n)[:80] for n in reply["tampered"][:5])
            raise SubmissionStopped(f"your code changed the grader's own code or the library functions it relies on "
                                    f"({names}), so what the worker reported cannot be believed; this test earns nothing")
        if not isinstance(reply, dict) or reply.get("id") != self.requests or not ("result" in reply or "error" in reply):
            reply = None  # not kept alive by the exception's traceback
            self.stop()   # a forged or stale reply: the next request gets a fresh worker
            raise SubmissionStopped("the worker's reply did not answer the request (did your code write to the "
                                    "grader's channel?)")
        if "error" in reply:
            raise StudentError(str(reply["error"]), input_shapes(inputs))
        return reply["result"]

    def _send(self, message, clock):
        """Write a request with a deadline: a worker that stops reading must not block the judge."""
        data = memoryview(channel.encode(message))
        try:
            with charging(clock, self.watch) as expired:
                while data:
                    expired()
                    _, writable, _ = select.select([], [self.to_worker], [], TICK_S)
                    if writable:
                        data = data[os.write(self.to_worker, data[: 1 << 16]):]
        except OSError:
            self.stop()
            raise GraderFault("the worker had exited before the request") from None
        except (SubmissionStopped, GraderFault):
            self.stop()
            raise

    def _receive(self, clock):
        def read(fd, n):
            if clock.received + n > MAX_TEST_BYTES:
                raise SubmissionStopped(f"your code sent the grader more than {MAX_TEST_BYTES >> 20} MB in one test")
            clock.received += n
            return self._read(fd, n, expired)

        try:
            with charging(clock, self.watch) as expired:
                return channel.receive(self.from_worker, read=read)
        except (SubmissionStopped, GraderFault):
            self.stop()
            raise
        except (channel.ChannelError, EOFError, OSError) as error:
            self.stop()
            raise SubmissionStopped(f"your code wrote to the grader's channel: {error}") from None

    def _read(self, fd, n, expired):
        chunks, remaining = [], n
        while remaining:
            expired()
            ready, _, _ = select.select([fd], [], [], TICK_S)
            if not ready:
                self.watch.check()
                if self.process.poll() is not None:
                    raise self.watch.why_ended(self.process.returncode)
                continue
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                self.process.wait()
                raise self.watch.why_ended(self.process.returncode)
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def has_children(self):
        """Whether the worker left other processes (forked or background ones)."""
        return self.watch is not None and len(self.watch.processes()) > 1

    def stop(self):
        """Kill the worker's session and, when it runs as its own user, every process of that user."""
        if self.process is None:
            return
        for fd in (self.to_worker, self.from_worker):
            try:
                os.close(fd)
            except OSError:
                pass
        end_processes([self.process.pid], None)
        self.process.wait()
        if self.account:
            end_processes([], self.account[0])
        if self.watch is not None and self.watch.cgroup is not None:
            self.watch.cgroup.kill_all()
            self.watch.cgroup.remove()
        self.process = self.watch = None
        self.scratch.empty_writable()   # what it wrote must not count against the next worker


def _strings(value):
    """A {str: str} the worker sent, kept only as far as it is one."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if k in GRADED_FILES}
