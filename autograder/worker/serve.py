"""The worker's main loop: confine itself, import the homework, then answer probe requests until the
channel closes.

    python serve.py FD_IN FD_OUT CONFIG_JSON    (base, root, clean_root, avoid, landlock: required|optional)

Runs as the unprivileged user, in a scratch folder BASE that holds worker/ (this code), hidden/, selfcheck/,
the clean handout and the submission laid over it. Before any student code (and before torch starts
a thread), Landlock limits it to reading the interpreter, system files and BASE, and to writing its
home/ and tmp/. Everything it sends goes through the data-only channel.
"""
import gc
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
    """Landlock the process to what grading needs, and refuse it every socket (seccomp). Returns what
    could not be applied (the judge logs it as a warning), [] when everything holds."""
    from worker import landlock, seccomp
    missing = []
    try:
        abi = landlock.confine(
            [*landlock.default_read_paths(), *(os.path.join(base, d) for d in ("worker", "hidden", "selfcheck", "clean", "submission"))],
            [os.path.join(base, "home"), os.path.join(base, "tmp"), *landlock.default_write_paths(), *gpu_files(device)])
    except OSError as error:
        if required:
            raise
        abi = 0
        missing.append(f"Landlock ({error})")
    if required and not abi:
        raise OSError("Landlock is not available to the worker")
    if not abi and not missing:
        missing.append("Landlock (this kernel has none)")
    try:
        seccomp.confine()
    except OSError as error:
        missing.append(f"seccomp: sockets are not refused ({error})")
    return missing


def torch_globals(torch):
    """torch's process-wide settings that change what the probes compute."""
    device = getattr(torch, "get_default_device", None)
    return {"default dtype": torch.get_default_dtype(), "grad mode": torch.is_grad_enabled(),
            "inference mode": torch.is_inference_mode_enabled(),
            "deterministic algorithms": torch.are_deterministic_algorithms_enabled(),
            "anomaly detection": torch.is_anomaly_enabled(), "threads": torch.get_num_threads(),
            "default device": str(device()) if device else "cpu"}


def restore_torch_globals(torch, saved):
    """Put torch's settings back as the homework expects them (a graded file may have changed them)."""
    if torch_globals(torch) == saved:
        return
    torch.set_default_dtype(saved["default dtype"])
    torch.set_grad_enabled(saved["grad mode"])
    torch.use_deterministic_algorithms(saved["deterministic algorithms"])
    torch.autograd.set_detect_anomaly(saved["anomaly detection"])
    torch.set_num_threads(saved["threads"])
    if hasattr(torch, "set_default_device"):
        torch.set_default_device(None if saved["default device"] == "cpu" else saved["default device"])


def stop_children():
    """SIGKILL (and reap) the processes this one has started that are still alive, whatever session they
    moved to; how many there were."""
    import signal
    me, pids = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        pids.append(int(entry))
            except (OSError, IndexError):
                continue
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return len(pids)


def written(base, limit=10_000):
    """Bytes allocated under the worker's own folders (home/, tmp/); counting stops past `limit` entries."""
    total, count, stack = 0, 0, [os.path.join(base, "home"), os.path.join(base, "tmp")]
    while stack and count < limit:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            count += 1
            try:
                total += entry.stat(follow_symlinks=False).st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
            except OSError:
                continue
    return total


def reported_exits(fd_out, channel):
    """os._exit that tells the judge first: an exit the submission called is then told apart from a
    worker that died of something else."""
    import posix
    original, worker = posix._exit, os.getpid()

    def _exit(status=0):
        try:
            if os.getpid() == worker:   # a forked child's _exit (fork, then exit) ends only that child
                channel.send(fd_out, {"event": "exit", "how": f"os._exit({status})"})
        finally:
            original(status)

    os._exit = posix._exit = _exit


def warm_meta_device():
    """The device claim (selfcheck/devices.py) computes on torch's meta device, whose first operation
    imports its Python kernels and torch._dynamo: 1-2 s on an idle machine, over 10 s on a loaded one.
    Paid here, in the start's time limit, not in the first test's (the zygote pays it once)."""
    import torch
    torch.empty(1, device="meta") + 1


def main():
    gc.disable()   # until serve() freezes what the start made (a fresh worker; the zygote does the same)
    serve(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]))


def freeze_the_start():
    """Move everything the start made (torch, the grader's modules) out of the cyclic collector's
    reach and turn it back on for the homework. Each full collection would otherwise walk torch's
    ~10^6 objects (~0.1-0.2 s each); with the collector off, torch's and torch._dynamo's imports run
    ~25% faster (benchmarks/grade_benchmark.py). The submission's own objects are collected as usual."""
    gc.freeze()
    gc.enable()


def serve(fd_in, fd_out, config):
    """The request loop (also entered by a child of the zygote, which has imported torch already)."""
    root, clean_root, avoid, base = config["root"], config["clean_root"], config["avoid"], config["base"]
    sys.path.insert(0, base)
    from selfcheck import channel

    sys.stdout = sys.stderr = CappedText()
    channel.send(fd_out, {"event": "starting"})
    try:
        unconfined = confine(base, config["landlock"] == "required", config.get("device", "cpu"))
    except OSError as error:
        channel.send(fd_out, {"event": "failed", "why": f"the worker could not confine itself ({error})"})
        return
    import torch
    import torch._dynamo  # noqa: F401  (its import rewraps torch functions: before the integrity snapshot, not
    torch.set_num_threads(1)  # during a student's first torch.func call)
    warm_meta_device()
    if config.get("device") == "cuda" and not torch.cuda.is_available():   # grade --device cuda
        channel.send(fd_out, {"event": "failed", "why": "the device cuda was asked for, and torch in the worker sees no CUDA device"})
        return
    from selfcheck.homework import Homework, describe
    from selfcheck import homework, probes
    from hidden import probes as hidden_probes  # noqa: F401  (registers the hidden tests' probes)
    from selfcheck.probes import PROBES
    from worker import integrity, limits

    reported_exits(fd_out, channel)
    settings = torch_globals(torch)
    snapshot = integrity.Snapshot([*probes.MODULES, hidden_probes, homework, channel, integrity, sys.modules[__name__]],
                                  tables=[("PROBES", PROBES)])
    changes, tampered, spawned, importing = {}, {}, {}, []
    wrote, written_before = {}, [written(base)]

    def announce(file):   # before each file's import: what the one before it changed
        note_changes()
        importing[:] = [file]
        channel.send(fd_out, {"event": "importing", "file": file})

    def note_changes():   # after each file's import: the settings it changed, the grader's code it patched
        now = torch_globals(torch)
        if importing and now != settings:
            changes[importing[0]] = ", ".join(f"{k} ({settings[k]} -> {now[k]})" for k in settings if now[k] != settings[k])
        restore_torch_globals(torch, settings)
        patched = snapshot.changed()
        if importing and patched and not tampered:
            tampered[importing[0]] = ", ".join(patched)
        started = stop_children()   # the homework never needs a process started at import
        if importing and started:
            spawned[importing[0]] = started
        now_written = written(base)
        if importing and now_written > written_before[0]:
            wrote[importing[0]] = now_written - written_before[0]
        written_before[0] = now_written

    freeze_the_start()
    hw = Homework(root, clean_root, avoid, on_import=announce)
    note_changes()
    channel.send(fd_out, {"event": "ready", "import_errors": hw.import_errors, "global_changes": changes,
                          "tampered": tampered, "spawned": spawned, "wrote": wrote,
                          "unconfined": unconfined})
    while True:
        try:
            request = channel.receive(fd_in)
        except EOFError:
            return
        fault = misfit(PROBES, request, hw)
        tampered = snapshot.changed()
        if fault:   # the judge asked for something the worker does not offer: the grader's bug
            reply = {"fault": fault}
        elif tampered:
            reply = {"tampered": tampered}
        else:
            try:
                restore_torch_globals(torch, settings)
                torch.manual_seed(int(request["seed"]))
                reply = {"result": PROBES[request["probe"]](hw, **request["inputs"])}
            except BaseException as error:  # SystemExit and KeyboardInterrupt from student code too
                reply = {"error": describe(error, root), "kind": type(error).__name__}
            tampered = snapshot.changed()
            if tampered:
                reply = {"tampered": tampered}
        reply["id"] = request.get("id")   # the judge matches replies to requests
        try:
            channel.send(fd_out, reply)
        except channel.ChannelError as error:
            channel.send(fd_out, {"error": f"your code returned something that is not plain data ({error})",
                                  "kind": "ChannelError", "id": request.get("id")})
        del request, reply
        limits.release_memory()


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


if __name__ == "__main__":
    main()
