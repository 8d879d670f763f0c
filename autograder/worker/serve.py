"""The worker's main loop: confine itself, import the homework, then answer probe requests until the
channel closes.

    python serve.py FD_IN FD_OUT CONFIG_JSON    (base, root, clean_root, avoid, landlock: required|optional)

Runs as the unprivileged user, in a scratch folder BASE that holds worker/ (this code), selfcheck/,
the clean handout and the submission laid over it. Before any student code (and before torch starts
a thread), Landlock limits it to reading the interpreter, system files and BASE, and to writing its
home/ and tmp/. Everything it sends goes through the data-only channel.
"""
import ctypes
import inspect
import io
import json
import os
import sys


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


def gpu_files(device):
    """The NVIDIA device files CUDA opens (read-write), unless the worker's device is the CPU."""
    import glob
    return [] if device == "cpu" else sorted(glob.glob("/dev/nvidia*"))


def confine(base, required, device="cpu"):
    """Landlock the process to what grading needs; the ABI used, 0 where the kernel offers none."""
    from worker import landlock
    try:
        abi = landlock.confine(
            [*landlock.default_read_paths(), *(os.path.join(base, d) for d in ("worker", "selfcheck", "clean", "submission"))],
            [os.path.join(base, "home"), os.path.join(base, "tmp"), *landlock.default_write_paths(), *gpu_files(device)])
    except OSError as error:
        if required:
            raise
        return f"0 ({error})"
    if required and not abi:
        raise OSError("Landlock is not available to the worker")
    return abi


def warm_meta_device():
    """The device claim (selfcheck/devices.py) computes on torch's meta device, whose first operation
    imports its Python kernels and torch._dynamo: 1-2 s on an idle machine, over 10 s on a loaded one.
    Paid here, in the start's time limit, not in the first test's (the zygote pays it once)."""
    import torch
    torch.empty(1, device="meta") + 1


def main():
    serve(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]))


def serve(fd_in, fd_out, config):
    """The request loop (also entered by a child of the zygote, which has imported torch already)."""
    root, clean_root, avoid, base = config["root"], config["clean_root"], config["avoid"], config["base"]
    sys.path.insert(0, base)
    from selfcheck import channel

    sys.stdout = sys.stderr = CappedText()
    channel.send(fd_out, {"event": "starting"})
    try:
        confined = confine(base, config["landlock"] == "required", config.get("device", "cpu"))
    except OSError as error:
        channel.send(fd_out, {"event": "failed", "why": f"the worker could not confine itself ({error})"})
        return
    import torch
    torch.set_num_threads(1)
    warm_meta_device()
    if config.get("device") == "cuda" and not torch.cuda.is_available():   # grade --device cuda
        channel.send(fd_out, {"event": "failed", "why": "the device cuda was asked for, and torch in the worker sees no CUDA device"})
        return
    from selfcheck.homework import Homework, describe
    from selfcheck import hidden_probes  # noqa: F401  (registers the hidden tests' probes)
    from selfcheck.probes import PROBES

    announce = lambda file: channel.send(fd_out, {"event": "importing", "file": file})
    hw = Homework(root, clean_root, avoid, on_import=announce)
    channel.send(fd_out, {"event": "ready", "import_errors": hw.import_errors, "confined": confined})
    while True:
        try:
            request = channel.receive(fd_in)
        except EOFError:
            return
        fault = misfit(PROBES, request, hw)
        if fault:   # the judge asked for something the worker does not offer: the grader's bug
            reply = {"fault": fault}
        else:
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


def misfit(probes, request, hw):
    """Why the request cannot be run whatever the submission holds (an unknown probe, arguments that do
    not fit its signature), or None. Checked before any student code runs."""
    function = probes.get(request.get("probe"))
    if function is None:
        return f"unknown probe {request.get('probe')!r}"
    try:
        inspect.signature(function).bind(hw, **request.get("inputs", {}))
        int(request["seed"])
    except (TypeError, KeyError, ValueError) as error:
        return f"probe {request['probe']!r} cannot take this request ({error})"
    return None


def release_memory():
    """Hand freed heap pages back to the system between requests: Gradescope's memory limit counts
    what the process holds, not what it uses."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


if __name__ == "__main__":
    main()
