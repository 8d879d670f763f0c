"""A grading's scratch folder: its own, under a folder only its owner can list, never in a shared,
world-writable place where another grading, a test run or a TA's clean-up could delete it.

    <gradings root>/grading-XXXXXXXX/     0711: the worker's user may pass, nobody else may list
        worker/                           0750 root:<slot group>: selfcheck/, hidden/, worker/, clean/, submission/
            home/ tmp/                    the only folders the worker may write (its user's, 0700)

The gradings root is `$AUTOGRADER_SCRATCH`, or `autograder-gradings-<uid>` in the system's temporary
folder (created 0711, refused when someone else owns it or may write it). The read-only part is
recorded when it is laid out, so that a change from outside (a file deleted, replaced) is seen and
blamed on the machine, never on the submission.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent          # autograder/
SELFCHECK, HIDDEN, WORKER = SOURCE / "selfcheck", SOURCE / "hidden", SOURCE / "worker"
SCRATCH_ENV = "AUTOGRADER_SCRATCH"
WRITABLE = ("home", "tmp")


def gradings_root():
    """This user's private folder for gradings' scratch folders, created if needed."""
    root = Path(os.environ.get(SCRATCH_ENV) or Path(tempfile.gettempdir()) / f"autograder-gradings-{os.geteuid()}")
    try:
        root.mkdir(mode=0o711, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(root)
    if not os.path.isdir(root) or os.path.islink(root) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{root} is not a folder of this user's that only it may write; remove it")
    os.chmod(root, 0o711)
    return root


class Scratch:
    """One scratch folder, laid out for one worker: `base` holds the worker's view of the grading."""

    def __init__(self, handout, submitted, account=None):
        """handout: the clean handout folder; submitted: {graded file: bytes}; account: (uid, gid) of the
        slot's user, or None (the worker runs as the judge's user)."""
        self.path = Path(tempfile.mkdtemp(prefix="grading-", dir=gradings_root()))
        os.chmod(self.path, 0o711)
        self.base = self.path / "worker"
        self._lay_out(handout, submitted, account)
        self._recorded = self._read_only_state()

    def _lay_out(self, handout, submitted, account):
        base = self.base
        ignore = shutil.ignore_patterns("__pycache__", "selfcheck", "data", "runs", "*.pyc")
        shutil.copytree(SELFCHECK, base / "selfcheck", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(HIDDEN, base / "hidden", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(WORKER, base / "worker", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(handout, base / "clean", ignore=ignore)
        shutil.copytree(handout, base / "submission", ignore=ignore)
        for graded, data in submitted.items():
            (base / "submission" / graded).write_bytes(data)
        for name in WRITABLE:
            (base / name).mkdir()
        for path in [base, *base.rglob("*")]:   # the code is read-only to the worker: it cannot rewrite probes
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        if account:
            # Only this slot's user may enter (group), and only home/ and tmp/ are its own.
            os.chown(base, 0, account[1])
            os.chmod(base, 0o750)
            for name in WRITABLE:
                os.chown(base / name, *account)
                os.chmod(base / name, 0o700)

    def _read_only_state(self):
        state, stack = {}, [self.base]
        while stack:
            folder = stack.pop()
            for entry in os.scandir(folder):
                if folder == self.base and entry.name in WRITABLE:
                    continue
                info = entry.stat(follow_symlinks=False)
                state[entry.path] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
        return state

    def damage(self):
        """None while the laid-out code is as it was written, else what changed (from outside: the
        worker cannot write there)."""
        try:
            now = self._read_only_state()
        except OSError as error:
            return f"the grading's scratch folder is damaged ({error.strerror}: {error.filename})"
        changed = sorted(p for p in set(now) | set(self._recorded) if now.get(p) != self._recorded.get(p))
        if changed:
            return f"the grading's scratch folder was changed from outside ({len(changed)} entries, e.g. {changed[0]})"
        return None

    def usage(self, max_files):
        """(bytes, files) the worker has written into its folders; counting stops past max_files. Walks with
        directory descriptors and a stack, not paths or recursion: a 3,000-deep tree costs 3,000 lookups."""
        total, count, stack = 0, 0, []
        for name in WRITABLE:
            try:
                stack.append(os.open(self.base / name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
            except OSError:
                continue
        try:
            while stack and count <= max_files:
                folder = stack.pop()
                try:
                    with os.scandir(folder) as entries:
                        for entry in entries:
                            count += 1
                            try:
                                total += entry.stat(follow_symlinks=False).st_blocks * 512
                                if entry.is_dir(follow_symlinks=False):
                                    stack.append(os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                                                         dir_fd=folder))
                            except OSError:
                                continue
                finally:
                    os.close(folder)
        finally:
            for folder in stack:
                os.close(folder)
        return total, count

    def empty_writable(self):
        """Empty the worker's own folders (between workers: its processes are dead by now)."""
        for name in WRITABLE:
            folder = self.base / name
            for entry in list(os.scandir(folder)) if folder.is_dir() else []:
                subprocess.run(["rm", "-rf", "--one-file-system", entry.path], capture_output=True)

    def remove(self):
        """rm -rf: whatever the worker left (a 3,000-deep tree, odd modes) must not break grading."""
        result = subprocess.run(["rm", "-rf", "--one-file-system", str(self.path)], capture_output=True)
        if result.returncode != 0 and self.path.exists():
            print(f"grade: could not remove {self.path} completely", flush=True)


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
