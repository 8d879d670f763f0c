"""Grade one submission: python -m autograder grade PATH [--results FILE]

The judge: it reads the upload, lays the five files over a clean handout in a scratch folder, starts
the sandboxed worker, runs every test of config.yaml (each check asks the worker for data and
decides on it), and writes results.json in every case.
"""
import hashlib
import importlib
import os
import re
import subprocess
import tempfile
import time
import traceback
from pathlib import Path

import yaml

from autograder import results, sandbox, submission
from autograder.checks.inputs import GoldenError
from autograder.selfcheck.expect import CheckFailed, StudentError

PACKAGE = Path(__file__).resolve().parent
SOURCE = PACKAGE.parent
HANDOUT = SOURCE / "student_template"
NEXT_STEP = {
    "missing": "Add the file with this exact path and upload again.",
    "import": "Fix the error above (run `python -c 'import {module}'` in your handout folder to see it), then upload again.",
    "failed": "Run `pytest` in your handout folder for the public checks, reread the docstring, and upload again.",
}


UNREADABLE = "The grader could not interpret what your code returned"
NUMBER_RUN = re.compile(r"(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?[\s,;\[\]()]+){4,}", re.I)


def redact(message, line_limit=300, total_limit=2000):
    """A student's error message without long runs of numbers (hidden inputs it may have printed)."""
    lines = [NUMBER_RUN.sub("[numbers hidden] ", line)[:line_limit] for line in message.splitlines()]
    return "\n".join(lines)[:total_limit]


def load_config(path=PACKAGE / "config.yaml"):
    config = yaml.safe_load(Path(path).read_text())
    for t in config["tests"]:
        t["number"] = str(t["number"])
    return config


def check_function(dotted):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(f"autograder.{module}"), name)


def protect_sources():
    """As root: the worker's user must not read the checks, goldens, reference or tests. Everything
    at the top of the source folder but the Python environment becomes owner-only."""
    if sandbox.worker_account() is None:
        return
    for entry in SOURCE.iterdir():
        if entry.name != ".venv" and not entry.is_symlink():
            os.chmod(entry, os.stat(entry).st_mode & 0o700)


def remove_scratch(path):
    """rm -rf: whatever the worker left (a 3,000-deep tree, odd modes) must not break grading."""
    if subprocess.run(["rm", "-rf", "--one-file-system", str(path)], capture_output=True).returncode != 0:
        print(f"grade: could not remove {path} completely", flush=True)


def seed_for(test):
    return int.from_bytes(hashlib.sha256(test["number"].encode()).digest()[:4], "little")


def run_test(test, worker, found):
    """(fraction, message) of one test."""
    file = test["file"]
    if file not in found:
        return 0.0, f"{file} was not found in your submission, so this test could not run. " + NEXT_STEP["missing"]
    if worker.process is None:
        try:
            worker.start()
        except sandbox.WorkerDied as died:
            return 0.0, f"Your code could not be loaded: {died}. " + NEXT_STEP["failed"]
    if file in worker.import_errors:
        module = file[:-3].replace("/", ".")
        return 0.0, worker.import_errors[file].rstrip() + "\n" + NEXT_STEP["import"].format(module=module)
    deadline = time.monotonic() + test["timeout_s"]

    def run(probe, **inputs):
        left = deadline - time.monotonic()
        if left <= 0:
            raise sandbox.WorkerDied(sandbox.TIMED_OUT)
        return worker.call(probe, inputs, seed_for(test), left)

    fraction, message = judge(test, run)
    if message.startswith(UNREADABLE) or worker.has_children():
        worker.stop()   # what produced unreadable data, or processes it left, must not answer the next test
    return fraction, message


def judge(test, run):
    """(fraction, message) of the test's check given a `run` (the worker's, or local_run's)."""
    try:
        outcome = check_function(test["check"])(run)
    except sandbox.WorkerDied as died:
        return 0.0, f"Your code was stopped: {died}. " + NEXT_STEP["failed"]
    except StudentError as error:
        return 0.0, f"Your code raised an error:\n{redact(str(error))}\n" + NEXT_STEP["failed"]
    except CheckFailed as failed:
        return 0.0, f"{failed}\n" + NEXT_STEP["failed"]
    except GoldenError:
        raise
    except Exception as error:  # data the check could not interpret: forged or malformed replies
        return 0.0, (f"{UNREADABLE} ({type(error).__name__}). "
                     "Return exactly what the docstring asks for. " + NEXT_STEP["failed"])
    if outcome is None:
        return 1.0, "Passed."
    return outcome.fraction, outcome.message + "\n" + NEXT_STEP["failed"]


def grade(upload, results_path=None, *, config=None, quiet=False, slot=None):
    """Grade `upload` (a zip or folder); write results_path if given; return the results dict.
    `slot`: a sandbox.Slot this process already holds (regrade's workers keep one); by default a free
    slot is taken for this grading and released after it."""
    if slot is None:
        try:
            held = sandbox.acquire_slot()
        except (sandbox.SlotsBusy, OSError, RuntimeError) as error:
            return _finish(results.harness_failure((config or load_config())["tests"], 0.0, str(error)),
                           results_path, quiet)
        with held:
            return grade(upload, results_path, config=config, quiet=quiet, slot=held)
    started = time.monotonic()
    config = config or load_config()
    limits, tests = config["limits"], config["tests"]
    try:
        protect_sources()
        scratch = Path(tempfile.mkdtemp(prefix="grading-"))
        try:
            (scratch / "upload").mkdir(mode=0o700)   # other slots' workers must not read this upload
            try:
                found, notes = submission.collect(upload, scratch / "upload")
            except submission.SubmissionError as error:
                found, notes = {}, [str(error)]
            base = sandbox.prepare(scratch, HANDOUT, found, slot.number)
            graded = []
            with sandbox.Worker(base, limits, slot.number) as worker:
                for test in tests:
                    fraction, message = run_test(test, worker, found)
                    cap = limits["output_cap_kb"] * 1024
                    graded.append(results.test_result(test, fraction, message[:cap]))
                    sandbox.release_memory()
        finally:
            remove_scratch(scratch)
        output = "\n".join(["Submission notes:"] + [f"- {n}" for n in notes]) if notes else "All five files found."
        outcome = results.build(graded, output, time.monotonic() - started)
    except Exception:
        # The harness failed: a valid results file anyway; the traceback goes to the staff's log only.
        traceback.print_exc()
        outcome = results.harness_failure(tests, time.monotonic() - started, traceback.format_exc(limit=3))
    return _finish(outcome, results_path, quiet)


def _finish(outcome, results_path, quiet):
    if results_path:
        results.write(outcome, results_path)
    if not quiet:
        print(results.summary(outcome))
    return outcome
