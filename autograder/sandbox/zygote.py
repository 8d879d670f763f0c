"""The worker template (regrade), seen from the judge: a process (worker/zygote.py) that has imported
torch and forks each submission's worker, which then becomes a worker exactly as a started one."""
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.sandbox.cleanup import kill_session
from autograder.sandbox.scratch import WORKER, gradings_root
from autograder.sandbox.scratch import worker_environment
from autograder.worker import limits as worker_limits


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
        fd, self.log = tempfile.mkstemp(prefix="zygote-", suffix=".log", dir=gradings_root())   # 0600: for staff
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-I", str(WORKER / "zygote.py"), str(theirs.fileno())],
                                            env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log, start_new_session=True,
                                            preexec_fn=worker_limits.die_with_parent)
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
