"""The worker's main loop: import the homework, then answer probe requests until the channel closes.

    python serve.py FD_IN FD_OUT ROOT CLEAN_ROOT AVOID_JSON

Runs as the unprivileged user, in a scratch folder that holds this package, the clean handout and
the submission laid over it. Everything it sends goes through the data-only channel.
"""
import ctypes
import io
import json
import os
import sys
import traceback


class CappedText(io.TextIOBase):
    """Student prints go nowhere but cost nothing: the first 64 KB are kept, the rest dropped."""

    def __init__(self, limit=1 << 16):
        self.kept, self.limit = [], limit

    def writable(self):
        return True

    def write(self, text):
        if sum(map(len, self.kept)) < self.limit:
            self.kept.append(str(text)[: self.limit])
        return len(text)


def describe(error, root=""):
    """The error and the student's frames (paths relative to the homework), not the probes'."""
    if isinstance(error, NotImplementedError):
        return f"NotImplementedError: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    prefix = str(root).rstrip("/") + "/"
    mine = [f for f in frames if root and f.filename.startswith(prefix)]
    where = "".join(f"  {f.filename[len(prefix):]}, line {f.lineno}, in {f.name}: {(f.line or '').strip()}\n"
                    for f in mine[-3:])
    return f"{type(error).__name__}: {error}" + (f"\n{where.rstrip()}" if where else "")


def main():
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    root, clean_root, avoid = sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from selfcheck import channel

    sys.stdout = sys.stderr = CappedText()
    channel.send(fd_out, {"event": "starting"})
    import torch
    torch.set_num_threads(1)
    from selfcheck.homework import Homework
    from selfcheck.probes import PROBES

    announce = lambda file: channel.send(fd_out, {"event": "importing", "file": file})
    hw = Homework(root, clean_root, avoid, on_import=announce)
    channel.send(fd_out, {"event": "ready", "import_errors": hw.import_errors})
    while True:
        try:
            request = channel.receive(fd_in)
        except EOFError:
            return
        try:
            torch.manual_seed(int(request["seed"]))
            reply = {"result": PROBES[request["probe"]](hw, **request["inputs"])}
        except BaseException as error:  # SystemExit and KeyboardInterrupt from student code too
            reply = {"error": describe(error, root), "kind": type(error).__name__}
        reply["id"] = request.get("id")   # the judge matches replies to requests
        try:
            channel.send(fd_out, reply)
        except channel.ChannelError as error:
            channel.send(fd_out, {"error": f"your code returned something that is not plain data ({error})",
                                  "kind": "ChannelError", "id": request.get("id")})
        del request, reply
        release_memory()


def release_memory():
    """Hand freed heap pages back to the system between requests: Gradescope's memory limit counts
    what the process holds, not what it uses."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


if __name__ == "__main__":
    main()
