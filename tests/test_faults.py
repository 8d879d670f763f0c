"""The grader's and the machine's faults are never charged to a student: a worker killed from outside,
a check that raises, a cgroup too small for torch; a time budget for the whole grading; exclusive
worker slots across gradings. Through the real sandboxed worker (as root where the suite runs)."""
import json
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest

from helpers import PYTHON, REFERENCE, REPO, submission_from

from autograder import cgroup, grade as grading, results, sandbox
from autograder.grade import grade, load_config

NOT_A_VERDICT = "this is not a verdict on your code"
YOUR_CODE = ("Your code", "your submission")   # how messages charge the student


def kill_worker_on_call(monkeypatch, probe, calls):
    """SIGKILL the real worker (as the kernel's OOM killer would) just before its calls number `calls`
    (1-based) of `probe`."""
    original, seen = sandbox.Worker.call, [0]

    def call(self, name, inputs, seed, clock):
        if name == probe:
            seen[0] += 1
            if seen[0] in calls and self.process is not None:
                os.kill(self.process.pid, signal.SIGKILL)
        return original(self, name, inputs, seed, clock)

    monkeypatch.setattr(sandbox.Worker, "call", call)


def test_a_worker_killed_once_mid_hypothesis_is_retried_and_the_student_loses_nothing(tmp_path, monkeypatch, capfd):
    kill_worker_on_call(monkeypatch, "vae_bound", calls={3})   # test 2.1 makes call 1; call 3 is 2.2's second example
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    assert outcome["score"] == 100, [t["output"] for t in outcome["tests"] if t["status"] != "passed"]
    assert results.grader_failures(outcome) == [] and not outcome["extra_data"]["grader_failure"]
    assert "attempt 1: the worker had exited before the request" in capfd.readouterr().out   # the staff's log


def test_a_worker_killed_on_every_attempt_is_the_grader_s_failure_never_the_student_s(tmp_path, monkeypatch):
    kill_worker_on_call(monkeypatch, "gan_losses", calls=range(1, 1000))
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    hit = {t["number"] for t in outcome["tests"] if t["status"] != "passed"}
    assert hit and hit <= {"3.1", "3.2"}
    for t in outcome["tests"]:
        if t["number"] in hit:
            assert NOT_A_VERDICT in t["output"] and not any(w in t["output"] for w in YOUR_CODE), t["output"]
            assert t["extra_data"] == {"grader_failure": True}
    assert results.grader_failures(outcome) == sorted(hit) and outcome["extra_data"]["grader_failure"]


def test_an_exception_in_the_judge_s_own_check_is_the_grader_s_failure(tmp_path, monkeypatch):
    def broken(run):
        run("diffusion", betas=np.linspace(1e-4, 0.02, 10).astype("float32"), x0=np.ones(3, "float32"),
            xt=np.ones(3, "float32"), t=2)
        return {}["missing key"]   # a bug of ours
    real = grading.check_function
    monkeypatch.setattr(grading, "check_function", lambda dotted: broken if dotted.endswith("diffusion.alpha_bars") else real(dotted))
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    by_number = {t["number"]: t for t in outcome["tests"]}
    assert NOT_A_VERDICT in by_number["4.1"]["output"] and "KeyError" in by_number["4.1"]["output"]
    assert results.grader_failures(outcome) == ["4.1"] and outcome["score"] == 100 - 4


def test_a_request_the_worker_cannot_run_is_the_grader_s_failure(tmp_path, monkeypatch):
    real = grading.check_function
    unknown = lambda run: run("alpha_bars_v2", betas=np.ones(3, "float32"))
    monkeypatch.setattr(grading, "check_function", lambda dotted: unknown if dotted.endswith("diffusion.alpha_bars") else real(dotted))
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    by_number = {t["number"]: t for t in outcome["tests"]}
    assert NOT_A_VERDICT in by_number["4.1"]["output"] and "alpha_bars_v2" in by_number["4.1"]["output"]
    assert results.grader_failures(outcome) == ["4.1"]


def test_a_student_s_own_failure_is_still_charged_with_its_evidence(tmp_path):
    sub = submission_from(REFERENCE, tmp_path / "sub")
    text = (sub / "diffusion.py").read_text().replace("def alpha_bars(betas):", "def alpha_bars(betas):\n    import os; os._exit(3)", 1)
    (sub / "diffusion.py").write_text(text)
    outcome = grade(sub, None, quiet=True)
    t = {t["number"]: t for t in outcome["tests"]}["4.1"]
    assert t["score"] == 0 and "os._exit(3)" in t["output"] and "extra_data" not in t
    assert results.grader_failures(outcome) == []


def test_an_exit_the_submission_did_not_call_is_never_blamed_on_it(tmp_path, monkeypatch):
    """The worker ends with status 0 by itself (here: the judge closes its request pipe under it, as a
    vanished scratch folder or a crash in the grader's code would): no "sys.exit" for code that has none."""
    original, seen = sandbox.Worker.call, [0]

    def call(self, name, inputs, seed, clock):
        if name == "diffusion":
            seen[0] += 1
            if seen[0] == 1:
                os.close(self.to_worker)   # the worker reads EOF and returns from its loop: exit status 0
                self.to_worker = os.open(os.devnull, os.O_WRONLY)
        return original(self, name, inputs, seed, clock)

    monkeypatch.setattr(sandbox.Worker, "call", call)
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    assert outcome["score"] == 100, [t["output"] for t in outcome["tests"] if t["status"] != "passed"]
    assert not any("sys.exit" in t["output"] or "exited" in t["output"] for t in outcome["tests"])


def test_a_scratch_folder_deleted_from_outside_is_retried_on_fresh_ground(tmp_path, monkeypatch, capfd):
    """Another program removes the grading's scratch folder inside test 5.1 (as a careless clean-up of
    a shared temporary folder would): the test runs again on a fresh scratch folder and worker, and the
    student loses nothing; when it happens on every attempt, only grader-failure messages."""
    original, deleted = sandbox.Worker.call, []

    def call(self, name, inputs, seed, clock):
        if name == "fisher" and (not deleted or always):
            deleted.append(self.scratch.path)
            subprocess.run(["rm", "-rf", str(self.scratch.path / "worker" / "submission")], check=True)
        return original(self, name, inputs, seed, clock)

    monkeypatch.setattr(sandbox.Worker, "call", call)
    always = False
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    assert outcome["score"] == 100, [t["output"] for t in outcome["tests"] if t["status"] != "passed"]
    assert "attempt 1: the grading's scratch folder" in capfd.readouterr().out
    assert len(set(deleted)) == 1
    always, deleted[:] = True, []
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub2"), None, quiet=True)
    hit = [t for t in outcome["tests"] if t["status"] != "passed"]
    assert {t["number"] for t in hit} == {"5.1", "5.2"}   # the tests whose probe is `fisher`
    for t in hit:
        assert NOT_A_VERDICT in t["output"] and not any(w in t["output"] for w in YOUR_CODE), t["output"]
    assert len(set(deleted)) >= 4   # 5.1 and 5.2, two attempts each, every attempt on a scratch folder of its own


def test_the_time_budget_ends_a_grading_that_loops_everywhere_with_valid_results(tmp_path):
    sub = submission_from(REFERENCE, tmp_path / "sub")
    for f in ("utils.py", "diffusion.py"):
        (sub / f).write_text((sub / f).read_text().replace("### BEGIN SOLUTION", "while True: pass\n    ### BEGIN SOLUTION"))
    config = load_config()
    config["limits"]["budget_s"] = 40
    for t in config["tests"]:
        t["timeout_s"] = 8
    outcome = grade(sub, tmp_path / "results.json", config=config, quiet=True)
    assert outcome["execution_time"] < 40 + 15
    assert json.loads((tmp_path / "results.json").read_text()) == outcome
    messages = [t["output"] for t in outcome["tests"]]
    assert any("did not finish within the time limit" in m for m in messages)
    assert any("time budget of 40 s was used up by earlier tests" in m for m in messages)
    assert results.grader_failures(outcome) == []   # the loops are the submission's: no grader failure


@pytest.mark.skipif(os.geteuid() != 0, reason="a child memory cgroup needs root")
def test_the_reference_under_a_memory_limit_too_small_for_torch_gets_only_grader_failures(tmp_path):
    limit = cgroup.Limited(200)
    try:
        script = ("from autograder.grade import grade; "
                  f"grade({str(submission_from(REFERENCE, tmp_path / 'sub'))!r}, {str(tmp_path / 'r.json')!r}, quiet=True)")
        done = subprocess.run(["sh", "-c", f'echo $$ > "{limit.path}/cgroup.procs" && exec "$0" -c "$1"', str(PYTHON), script],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
    finally:
        limit.remove()
    outcome = json.loads((tmp_path / "r.json").read_text())
    assert outcome["score"] == 0, done.stdout[-2000:]
    for t in outcome["tests"]:
        assert NOT_A_VERDICT in t["output"] and not any(w in t["output"] for w in YOUR_CODE), t["output"]
    assert results.grader_failures(outcome) == [t["number"] for t in load_config()["tests"]]
    assert "the kernel's OOM killer" in outcome["tests"][0]["output"]   # the cause, from the cgroup's counter


@pytest.mark.skipif(os.geteuid() != 0, reason="worker slots are per worker user (root)")
def test_worker_slots_are_exclusive_across_processes():
    held = sandbox.acquire_slot()
    try:
        other = subprocess.run([PYTHON, "-c", "from autograder import sandbox; s = sandbox.acquire_slot(); print(s.number)"],
                               cwd=REPO, capture_output=True, text=True, timeout=60)
        assert other.returncode == 0, other.stderr
        assert int(other.stdout) != held.number
    finally:
        held.release()


def test_an_exception_anywhere_in_the_judge_is_a_flagged_grader_failure_not_a_traceback(tmp_path, monkeypatch):
    real = grading.attempt_test

    def broken(test, *args, **kwargs):
        if test["number"] == "5.3":
            raise RuntimeError("a bug in the judge's loop")
        return real(test, *args, **kwargs)

    monkeypatch.setattr(grading, "attempt_test", broken)
    outcome = grade(submission_from(REFERENCE, tmp_path / "sub"), None, quiet=True)
    t = {t["number"]: t for t in outcome["tests"]}["5.3"]
    assert NOT_A_VERDICT in t["output"] and "Traceback" not in t["output"] and "RuntimeError" not in t["output"]
    assert results.grader_failures(outcome) == ["5.3"]


SPINNER = '''

def _spin_forever():
    """A child that leaves the session, ignores SIGTERM and burns a CPU (as a stray training loop would)."""
    import os
    import signal
    if os.fork() == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            pass


_real_sample_gaussian = sample_gaussian


def sample_gaussian(m, v):
    import time
    _spin_forever()
    time.sleep(2)   # long enough for the test to see the spinner and kill the judge meanwhile
    return _real_sample_gaussian(m, v)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="the slot's user (root) is what the guardian ends")
def test_no_process_of_the_slot_outlives_a_judge_killed_mid_grading(tmp_path):
    """SIGKILL the judge while its worker's stray child spins: within 5 s no process of the slot's user
    is left, and the grading's scratch folder is gone (the guardian's work)."""
    import pwd
    import re
    import time
    sub = submission_from(REFERENCE, tmp_path / "sub")
    (sub / "utils.py").write_text((sub / "utils.py").read_text() + SPINNER)
    scratch = sandbox.gradings_root() / f"killed-judge-{os.getpid()}"   # traversable by the worker's user
    judge = subprocess.Popen([str(PYTHON), "-m", "autograder", "grade", str(sub)], cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                             env={**os.environ, "AUTOGRADER_SCRATCH": str(scratch)})
    line = judge.stdout.readline()
    user = re.search(r"grade: worker slot \d+, user (\S+)", line)
    assert user, line
    uid = pwd.getpwnam(user.group(1)).pw_uid
    deadline = time.monotonic() + 120
    while len(sandbox.cleanup.user_processes(uid)) < 2 and time.monotonic() < deadline:   # worker + spinner
        time.sleep(0.2)
    assert len(sandbox.cleanup.user_processes(uid)) >= 2, "the spinner never started"
    judge.kill()
    judge.wait()
    ended = time.monotonic() + 5
    while sandbox.cleanup.user_processes(uid) and time.monotonic() < ended:
        time.sleep(0.1)
    left = sandbox.cleanup.user_processes(uid)
    sandbox.cleanup.kill_user_processes(uid)   # this test's own mess, should the assertion fail
    assert not left, f"processes of {user.group(1)} alive 5 s after the judge died: {left}"
    while any(scratch.glob("grading-*")) and time.monotonic() < ended + 5:
        time.sleep(0.1)
    assert not any(scratch.glob("grading-*")), list(scratch.iterdir())
    shutil.rmtree(scratch)
