"""Grade one submission: python -m autograder grade PATH [--results FILE]

The judge: it reads the upload, lays the graded files over a clean handout in a scratch folder, starts
the sandboxed worker, runs every test of config.yaml (each check asks the worker for data and
decides on it), and writes results.json in every case.
"""
import hashlib
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from autograder import cgroup, results, sandbox, submission, suite
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import FlakyFailure

from autograder.config import check_function, load_config
from autograder.timing import Profile
from autograder.selfcheck.surface import GRADED_FILES
from autograder.checks.inputs import GoldenError
from autograder.faults import GraderFault, SubmissionStopped
from autograder.messages import BUDGET_SPENT, GLOBAL_NOTE, GRADER_FAILED, NEXT_STEP, NOT_REPEATABLE, allocation_note, next_step
from autograder.sandbox.ground import Ground
from autograder.redaction import student_text
from autograder.selfcheck.expect import CheckFailed, StudentError, recording
from autograder.selfcheck.public.common import backward_failed, not_written, raised_or_returned, returned_text

PACKAGE = Path(__file__).resolve().parent
SOURCE = PACKAGE.parent
HANDOUT = SOURCE / "student_template"
def protect_sources():
    """Without Landlock, as root: the worker's user must not read the checks, goldens, reference or
    tests, so everything at the top of the source folder but the Python environment becomes owner-only."""
    if sandbox.worker_account() is None:
        return
    for entry in SOURCE.iterdir():
        if entry.name != ".venv" and not entry.is_symlink():
            os.chmod(entry, os.stat(entry).st_mode & 0o700)


def seed_for(test):
    return int.from_bytes(hashlib.sha256(test["number"].encode()).digest()[:4], "little")


def log(message):
    """For staff (Gradescope keeps run_autograder's output for instructors): never in a test's output,
    which gradescope-utils' runner builds from what the test prints."""
    print(message, file=sys.__stdout__, flush=True)


MIN_TEST_S = 5   # a test is not started with less of the time budget left than this


def run_test(test, ground, found, budget, measured=None):
    """(fraction, message, grader_failed) of one test: a grader fault is retried once on fresh ground."""
    file = test["file"]
    if file not in found:
        return 0.0, f"{file} was not found in your submission, so this test could not run. " + NEXT_STEP["missing"], False
    why = None
    for attempt in (1, 2):
        left = budget.left()
        if left < MIN_TEST_S:
            if budget.spent_by_student:
                return 0.0, BUDGET_SPENT.format(budget=budget.total), False
            why = why or "the grading's time budget ran out"
            break
        try:
            fraction, message, timed_out = attempt_test(test, ground.worker, min(test["timeout_s"], left), budget,
                                                        measured)
            budget.spent_by_student |= timed_out
            return fraction, message, False
        except GraderFault as fault:
            why = str(fault)
            log(f"grader: test {test['number']}, attempt {attempt}: {why}")
            ground.renew()   # the next attempt (and test) runs on a fresh scratch folder and worker
    log(f"grader: test {test['number']} reported as the grader's failure: {why}")
    return 0.0, GRADER_FAILED.format(why=why), True


def attempt_test(test, worker, limit_s, budget, measured=None):
    """(fraction, message, timed_out) charged to the submission, or GraderFault."""
    file = test["file"]
    oom_before = cgroup.oom_kills()
    if worker.process is None:
        try:
            worker.start(wall_end=budget.deadline)
        except GraderFault as fault:
            raise GraderFault(oom_reason(oom_before) or str(fault)) from None
        budget.spent_by_student |= worker.import_seconds > MIN_TEST_S
    if file in worker.import_errors:
        module = file[:-3].replace("/", ".")
        return 0.0, worker.import_errors[file].rstrip() + "\n" + NEXT_STEP["import"].format(module=module), False
    clock = sandbox.Clock(limit_s, wall_s=min(sandbox.BACKSTOP * limit_s, max(budget.left(), limit_s)))
    faults, timeouts = [], []

    def run(probe, **inputs):
        if faults:   # the worker died of something not the submission's: nothing after it counts
            raise GraderFault(faults[0])
        try:
            if clock.left_s() <= 0:
                raise SubmissionStopped(sandbox.TIMED_OUT, timed_out=True)
            return worker.call(probe, inputs, seed_for(test), clock)
        except GraderFault as fault:
            faults.append(str(fault))
            raise
        except SubmissionStopped as stopped:
            timeouts.append(stopped.timed_out)
            raise

    run.measured = {} if measured is None else measured   # leaderboard values the checks compute
    run.device = worker.device   # the training checks' device (grade --device)
    run.memory_mb = worker.limits["worker_memory_mb"]   # what a failed allocation is measured against
    try:
        fraction, message = judge(test, run)
    except GraderFault as fault:
        raise GraderFault(oom_reason(oom_before) or str(fault)) from None
    damage = worker.scratch.damage()   # a verdict reached on a damaged scratch folder is no verdict
    for reason in (oom_reason(oom_before), damage, *faults):
        if reason:
            raise GraderFault(reason)
    if worker.has_children():
        worker.stop()   # processes it left must not answer the next test
    if fraction < 1 and worker.global_changes:
        message += "\n" + "\n".join(GLOBAL_NOTE.format(file=f, changes=c) for f, c in worker.global_changes.items())
    return fraction, message, any(timeouts)


def oom_reason(before):
    """Why, if the machine's memory limit (the kernel's OOM killer in our cgroup) struck since `before`."""
    after = cgroup.oom_kills()
    if before is not None and after is not None and after > before:
        return "the machine's memory limit was reached: the kernel's OOM killer stopped the worker"
    return None


def judge(test, run):
    """(fraction, message) of the test's check given a `run` (the worker's, or local_run's); only what
    the evidence pins on the submission is returned, anything else raises GraderFault."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):   # the judge's own warnings reach nobody
            warnings.simplefilter("ignore")
            outcome = check_function(test["check"])(run)
    except GraderFault:
        raise
    except SubmissionStopped as stopped:
        return 0.0, f"Your code was stopped: {stopped}. " + next_step(test)
    except StudentError as error:
        if not_written(error):   # the handout's stub, untouched
            return 0.0, f"Not written yet: {student_text(str(error))}\n" + NEXT_STEP["unwritten"]
        if returned_text(error) is not None or backward_failed(error):   # a returned value refused, not a raise
            return 0.0, f"Your code {raised_or_returned(error)}.\n" + next_step(test)
        shapes = f"\n({error.inputs})" if getattr(error, "inputs", "") else ""
        memory = allocation_note(error, getattr(run, "memory_mb", None))
        return 0.0, f"Your code raised an error:\n{student_text(str(error))}{shapes}{memory}\n" + next_step(test)
    except CheckFailed as failed:
        return 0.0, f"{failed}\n" + next_step(test)
    except GoldenError as error:
        raise GraderFault(f"a golden file is damaged: {error}") from None
    except FlakyFailure as flaky:   # an example, replayed on a worker seeded the same way, came out otherwise
        causes = [e for e in flaky.exceptions if isinstance(e, (GraderFault, SubmissionStopped))]
        if any(isinstance(e, GraderFault) for e in causes):
            raise GraderFault(str(next(e for e in causes if isinstance(e, GraderFault)))) from None
        if causes:   # the first run was stopped (its limits), the replay on a fresh worker was not
            return 0.0, f"Your code was stopped: {causes[0]}. " + next_step(test)
        return 0.0, NOT_REPEATABLE + "\n" + next_step(test)
    except Exception as error:   # the judge's own code
        detail = traceback.format_exc(limit=-3)
        log(f"grader: test {test['number']}: the check raised\n{detail}")
        raise GraderFault(f"the check raised {type(error).__name__}") from None
    if outcome is None:
        return 1.0, "Passed."
    advice = next_step(test, outcome.message)
    return outcome.fraction, outcome.message + ("\n" + advice if advice else "")


class Budget:
    """The whole grading's time budget (wall-clock, as Gradescope's limit is): tests that cannot start in
    time fail fast, results are always written. `spent_by_student`: an earlier test ran to its time
    limit, or the submission's imports were slow (its doing)."""

    def __init__(self, total):
        self.total, self.deadline, self.spent_by_student = total, time.monotonic() + total, False

    def left(self):
        return self.deadline - time.monotonic()


def grade(upload, results_path=None, *, config=None, quiet=False, slot=None, profile=None, zygote=None,
          device="auto"):
    """Grade `upload` (a zip or folder); write results_path if given; return the results dict.
    `slot`: a sandbox.Slot this process already holds (regrade's workers keep one); by default a free
    slot is taken for this grading and released after it. `profile`: a Profile to time the phases in.
    `zygote`: a sandbox.Zygote to fork the worker from (regrade: torch imported once per slot).
    `device`: where the training checks run: "auto" (CUDA where the worker has it), "cpu" or "cuda"."""
    if slot is None:
        try:
            held = sandbox.acquire_slot()
        except (sandbox.SlotsBusy, OSError, RuntimeError) as error:
            return _finish(results.harness_failure((config or load_config())["tests"], 0.0, str(error)),
                           results_path, quiet)
        with held:
            return grade(upload, results_path, config=config, quiet=quiet, slot=held, profile=profile, zygote=zygote,
                         device=device)
    profile = profile or Profile()
    started = time.monotonic()
    config = config or load_config()
    limits, tests = config["limits"], config["tests"]
    try:
        confined = sandbox.landlock_abi() > 0
        if not confined:
            print("grade: WARNING: this kernel offers no Landlock; the worker is kept from the grader's files by "
                  "file modes only, and can read other world-readable files of this machine", flush=True)
            protect_sources()
        log(f"grade: worker slot {slot.number}, "
            + (f"user {sandbox.WORKER_USERS[slot.number]}" if slot.account else "the judge's own user"))
        profile.start()
        with sandbox.Guardian(slot.account[0] if slot.account else None, keep_fds=slot.fds) as guardian:
            hypothesis_home = Path(tempfile.mkdtemp(prefix="hypothesis-", dir=sandbox.gradings_root()))
            guardian.scratch(hypothesis_home)
            set_hypothesis_home_dir(hypothesis_home)   # its caches, not into the source folder
            found, notes = submission.read(upload)
            ground = Ground(HANDOUT, found, limits, slot, confined, zygote, guardian, device)
            try:
                outcome = run_suite(tests, limits, ground, found, notes, started, profile)
            finally:
                ground.close()
                shutil.rmtree(hypothesis_home, ignore_errors=True)
        profile.stop("cleanup")
    except Exception:
        # The harness failed: a valid results file anyway; the traceback goes to the staff's log only.
        traceback.print_exc()
        outcome = results.harness_failure(tests, time.monotonic() - started, traceback.format_exc(limit=3))
    return _finish(outcome, results_path, quiet)


def run_suite(tests, limits, ground, found, notes, started, profile):
    """Start the worker, run every test of the suite (gradescope-utils); the results dict."""
    budget = Budget(limits["budget_s"] - (time.monotonic() - started))
    if found:
        profile.start()
        try:
            ground.worker.start(wall_end=budget.deadline)   # here rather than in the first test: its cost is its own
            for problem in ground.worker.unconfined:
                log(f"grade: WARNING: the worker runs without {problem}")
        except GraderFault:
            pass             # the first test starts it again and reports why it cannot
        profile.stop("worker start (torch, the homework)", ground.worker.pid)
        notes = notes + [GLOBAL_NOTE.format(file=f, changes=c) for f, c in ground.worker.global_changes.items()]
        notes = notes + list(ground.worker.spawned.values())

    diagnosed = {}   # test number -> the diagnosis keys its message named (staff's class report)
    trained_on = {}  # test number -> the device its training run reported (extra_data, the log)
    grader_failed = []   # numbers of the tests the grader failed (flagged in results.json)

    def run_one(test, measured):
        profile.start(ground.worker.pid)
        try:
            with recording() as told:
                fraction, message, failed = run_test(test, ground, found, budget, measured)
            if not failed:
                diagnosed[test["number"]] = told["keys"]
        except Exception:   # the judge's own failure: never a traceback in a student's output
            log(f"grader: test {test['number']} failed in the judge:\n{traceback.format_exc()}")
            ground.renew()
            fraction, message, failed = 0.0, GRADER_FAILED.format(why="the judge failed"), True
        if failed:
            grader_failed.append(test["number"])
        if "training device" in measured:
            trained_on[test["number"]] = measured.pop("training device")
            log(f"grader: test {test['number']} trained on {trained_on[test['number']]}")
        sandbox.release_memory()
        profile.stop(f"test {test['number']}", ground.worker.pid)
        return round(test["points"] * fraction, 4), message[: limits["output_cap_kb"] * 1024]

    output = ("\n".join(["Submission notes:"] + [f"- {n}" for n in notes]) if notes
              else f"All {len(GRADED_FILES)} graded files found.")
    entries, board = suite.run(tests, run_one)
    profile.start(ground.worker.pid)
    return results.build(entries, output, time.monotonic() - started, grader_failed=grader_failed,
                         devices=trained_on, diagnosed=diagnosed, leaderboard=board)


def _finish(outcome, results_path, quiet):
    if results_path:
        results.write(outcome, results_path)
    if not quiet:
        print(results.summary(outcome))
    return outcome
