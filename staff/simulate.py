"""Grade a submission exactly as Gradescope does: python -m staff simulate SUBMISSION [options]

Gradescope's contract (gradescope/autograder_samples, docs/specs.md): the autograder zip is extracted
into /autograder/source; setup.sh runs there as root once, when the image is built; run_autograder
is copied to /autograder/run_autograder and that copy runs with /autograder as its working folder;
the upload is extracted into /autograder/submission; the result is /autograder/results/results.json.
Here ROOT plays /autograder (AUTOGRADER_ROOT tells run_autograder so); the extracted package and its
set-up are kept per package checksum and reused. The grading runs inside a memory cgroup with
Gradescope's limit where this machine allows one, and the cgroup's peak is printed.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from autograder import cgroup, results

CACHE = Path("/var/tmp/autograder-simulate")


def extract_package(zip_path, source):
    """Unzip with the modes the zip stores (Gradescope keeps setup.sh and run_autograder executable)."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = archive.extract(info, source)
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not info.is_dir():
                os.chmod(target, mode)


def place_submission(upload, folder):
    """Gradescope extracts an uploaded zip into /autograder/submission; a folder is copied as it is."""
    shutil.rmtree(folder, ignore_errors=True)
    upload = Path(upload)
    if upload.is_dir():
        shutil.copytree(upload, folder, symlinks=True)
    else:
        folder.mkdir(parents=True)
        if zipfile.is_zipfile(upload):
            with zipfile.ZipFile(upload) as archive:
                archive.extractall(folder)
        else:
            shutil.copy2(upload, folder / upload.name)


def set_up(zip_path, root, venv=None):
    """ROOT/source extracted and set up by its own setup.sh (once per package); seconds it took."""
    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()
    marker = root / ".simulate-setup-done"
    if marker.exists() and marker.read_text().strip() == f"{digest} {venv or ''}":
        print(f"simulate: reusing {root / 'source'} (set up before for this package)")
        return 0.0
    shutil.rmtree(root / "source", ignore_errors=True)
    marker.unlink(missing_ok=True)
    extract_package(zip_path, root / "source")
    env = dict(os.environ)
    if venv:   # the project's tests: skip the pip install (the pristine-image script does it for real)
        (root / "source" / ".venv").symlink_to(Path(venv).resolve())
        env.update(SKIP_PIP="1", SKIP_APT="1")
    started = time.monotonic()
    print(f"simulate: running setup.sh in {root / 'source'} as Gradescope does (once per package) ...", flush=True)
    done = subprocess.run(["bash", "./setup.sh"], cwd=root / "source", env=env, capture_output=True, text=True)
    (root / "setup.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"setup.sh failed (status {done.returncode}); its output is in {root / 'setup.log'}:\n"
                           + (done.stdout + done.stderr)[-3000:])
    marker.write_text(f"{digest} {venv or ''}\n")
    return time.monotonic() - started


def run_graded(root, memory_mb):
    """Run ROOT/run_autograder from ROOT, in a memory cgroup when possible; (status, peak MB or None, note)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "PYTEST_"))}
    env["AUTOGRADER_ROOT"] = str(root)
    limit, note = None, "no memory limit requested"
    if memory_mb:
        try:
            limit = cgroup.Limited(memory_mb)
            note = f"inside a {memory_mb} MB memory cgroup (cgroup v{limit.version})"
        except OSError as error:
            note = f"NO memory limit: this machine does not let us create a memory cgroup ({error})"
    command = ["./run_autograder"] if limit is None else \
        ["sh", "-c", f'echo $$ > "{limit.path}/cgroup.procs" && exec ./run_autograder']
    try:
        status = subprocess.run(command, cwd=root, env=env).returncode
        peak = limit.peak_mb() if limit else None
        if limit and limit.oom_kills():
            note += f"; the kernel's OOM killer struck {limit.oom_kills()} time(s)"
    finally:
        if limit:
            limit.remove()
    return status, peak, note


def simulate(submission, package_zip=None, memory_mb=768, root=None, venv=None):
    if os.geteuid() != 0:
        print("simulate: run as root, as Gradescope runs setup.sh and run_autograder (the worker users "
              "and the memory cgroup need it)")
        return 2
    with tempfile.TemporaryDirectory(prefix="simulate-package-") as tmp:
        if package_zip is None:
            from staff.package import PackageRefused, package
            try:
                # this checkout as it is, uncommitted edits included; the simulation grades with it
                package_zip = package(Path(tmp) / "autograder.zip", allow_dirty=True, grade=False)
            except PackageRefused as refused:
                print(f"simulate: {refused}")
                return 1
        digest = hashlib.sha256(Path(package_zip).read_bytes()).hexdigest()[:12]
        root = Path(root) if root else CACHE / digest
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)   # /autograder is world-traversable: the worker users reach the interpreter
        with open(root / ".simulate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # one simulation at a time per root
            setup_s = set_up(package_zip, root, venv)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    place_submission(submission, root / "submission")
    shutil.rmtree(root / "results", ignore_errors=True)
    started = time.monotonic()
    status, peak, note = run_graded(root, memory_mb)
    elapsed = time.monotonic() - started
    try:
        outcome = json.loads((root / "results" / "results.json").read_text())
    except (OSError, ValueError) as error:
        print(f"simulate: no readable results.json ({error}); run_autograder exited with status {status}")
        return 1
    print(results.summary(outcome))
    print(f"simulate: root {root}; setup.sh {setup_s:.0f} s; run_autograder {elapsed:.1f} s, exit status {status}; "
          f"{note}; memory peak " + (f"{peak:.0f} MB" if peak is not None else "not measured"))
    return 0 if status == 0 else 1
