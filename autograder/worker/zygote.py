"""A worker template for regrading: it imports torch once, then forks one fresh worker per submission.

    python -I zygote.py CONTROL_FD

Started by the judge (as root where gradings run as root) with the workers' scrubbed environment. It
never runs student code and never changes after start-up: each request forks a child that becomes a
worker exactly as a freshly started one would be (its own session, the slot's user, its rlimits,
its scratch folder, Landlock) before it imports anything of the submission. So a submission sees
nothing of the one before it, as with a new process, without paying torch's import again.

Control messages (SOCK_SEQPACKET, JSON): {"op": "fork", "config", "env", "account", "limits"} with
the child's channel socket attached -> {"pid"}; {"op": "poll"|"wait", "pid"} -> {"status": exit code
as subprocess reports it (negative: the signal), or null while it runs}.
"""
import gc
import json
import os
import socket
import sys
import tempfile

gc.disable()   # torch's import runs ~25% faster without the cyclic collector (serve.freeze_the_start)
import torch  # noqa: E402  (what the template is for)
import torch._dynamo  # noqa: E402,F401  (serve imports it before its integrity snapshot: once per template)

# worker.* from autograder/, imported before any fork (children cannot read them later); autograder/
# leaves sys.path again, so that none of its modules shadows a library's import in a worker.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from worker import integrity, landlock, limits, seccomp, serve  # noqa: E402,F401  (serve imports them in the child)
del sys.path[0]

torch.set_num_threads(1)
serve.warm_meta_device()   # once for every worker forked from here
serve.freeze_the_start()   # also keeps the collector from writing to (copying) the children's shared pages


def become_worker(channel, request):
    """In the child: drop to the worker's user and limits, then serve. Never returns."""
    try:
        os.setsid()
        os.dup2(channel, 3)
        os.set_blocking(3, True)   # as a pipe from a fresh start would be
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(4, 1 << 16)   # the control socket and anything else of the template's
        account = request["account"]
        limits.apply(request["limits"], own_user=bool(account))
        if account:
            os.setgroups([])
            os.setgid(account[1])
            os.setuid(account[0])
        limits.die_with_parent()    # the template's death (and so the judge's) ends this worker
        os.chdir(request["config"]["root"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None     # recomputed from this worker's TMPDIR
        serve.serve(3, 3, request["config"])
    finally:
        os._exit(0)


def status(pid, block):
    try:
        done, code = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -9   # already reaped: only a killed worker is asked twice
    if done == 0:
        return None
    return -os.WTERMSIG(code) if os.WIFSIGNALED(code) else os.WEXITSTATUS(code)


def main():
    control = socket.socket(fileno=int(sys.argv[1]))
    control.setblocking(True)   # the judge's process may have a default socket timeout (non-blocking fds)
    if len(os.listdir("/proc/self/task")) != 1:   # fork copies one thread: the others' locks would hang
        control.send(json.dumps({"ready": False, "why": "the template has more than one thread"}).encode())
        return
    control.send(json.dumps({"ready": True}).encode())
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        if not message:
            return   # the judge closed the control socket
        request = json.loads(message)
        if request["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                control.close()
                become_worker(fds[0], request)
            os.close(fds[0])
            reply = {"pid": pid}
        else:
            for fd in fds:
                os.close(fd)
            reply = {"status": status(request["pid"], block=request["op"] == "wait")}
        control.send(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
