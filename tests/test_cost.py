"""Grading cost: regrade's jobs run the judge's numpy on one OpenBLAS thread (its threads spin at
10-20x the CPU of one on the small products the checks compute), the benchmarks' cost breakdown
counts every process of a grading, and what was made cheaper still sees what it saw."""
import json
import multiprocessing
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from helpers import PYTHON, REFERENCE, REPO

from autograder import regrade
from autograder.checks import training
from autograder.checks.inputs import GoldenError, golden
from autograder.worker import integrity


def _judge_threads():
    """Threads of a fresh judge process once it has imported the checks (numpy) and multiplied."""
    import numpy as np

    import autograder.grade  # noqa: F401  (what a regrade job imports)
    np.ones((64, 300)) @ np.ones((300, 300))
    return len(os.listdir("/proc/self/task"))


def _spawned_threads(environment):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_judge_threads)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="OpenBLAS starts one thread per CPU: needs two")
def test_regrade_jobs_run_the_judges_numpy_on_one_thread(monkeypatch):
    plain = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    assert _spawned_threads(plain) > 1   # the control: left alone, OpenBLAS starts a thread per CPU
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    regrade.grade_all([], 1, [])          # what it sets before its (spawned) pool starts
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert _spawned_threads({**plain, **regrade.POOL_ENVIRONMENT}) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="the cpuacct cgroup and the worker's users need root")
def test_breakdown_counts_every_process_of_a_regraded_grading(tmp_path):
    """The breakdown's rows add up to what the grading's cgroup counted (judge, guardian, template,
    forked worker), so no process's CPU is missed or counted twice."""
    out = tmp_path / "template.json"
    subprocess.run([PYTHON, str(REPO / "benchmarks" / "breakdown.py"), "template", str(REFERENCE), str(out),
                    "--copies", "1"], cwd=REPO / "benchmarks", check=True, capture_output=True, timeout=600,
                   env={**os.environ, **regrade.POOL_ENVIRONMENT})
    grading = json.loads(out.read_text())["gradings"][0]
    assert grading["score"] == 100
    rows = sum(seconds for process, phase, seconds in grading["phases"] if phase != "whole life")
    rest = dict(((p, n), s) for p, n, s in grading["phases"])[("worker", "whole life")] - sum(
        s for p, n, s in grading["phases"] if p == "worker" and n != "whole life")
    counted = grading["cgroup_cpu_s"]
    assert counted > 1.0
    assert abs(rows + rest - counted) < 0.1 * counted + 0.1, (rows, rest, counted)


PROBE_MODULE = """
class Optimizer:
    def step(self):
        return 1

def probe(x, scale=2, *, shift=0):
    return x * scale + shift
"""


def test_the_integrity_checks_fast_path_misses_no_kind_of_change():
    """Snapshot.unchanged() (identity tests mapped per namespace) must see every change the named
    comparison sees: a name rebound, deleted or added back as another object, a class attribute, a
    function's code or defaults, a probe table's entry, a builtin."""
    import builtins
    module = types.ModuleType("fake_probes")
    exec(PROBE_MODULE, module.__dict__)
    table = {"probe": module.probe}
    snapshot = integrity.Snapshot([module], tables=[("TABLE", table)])
    assert snapshot.unchanged() and snapshot.changed() == []
    probe, step = module.probe, module.Optimizer.step
    code, defaults, kwdefaults, original_len = probe.__code__, probe.__defaults__, probe.__kwdefaults__, builtins.len
    changes = [   # (the label changed() names, the change, its undoing: the very objects put back)
        ("fake_probes.probe", lambda: setattr(module, "probe", lambda x: x), lambda: setattr(module, "probe", probe)),
        ("fake_probes.probe", lambda: delattr(module, "probe"), lambda: setattr(module, "probe", probe)),
        ("fake_probes.Optimizer.step", lambda: setattr(module.Optimizer, "step", lambda self: 0),
         lambda: setattr(module.Optimizer, "step", step)),
        ("fake_probes.probe (its code)", lambda: setattr(probe, "__code__", (lambda x, scale=2, *, shift=0: x).__code__),
         lambda: setattr(probe, "__code__", code)),
        ("fake_probes.probe (its code)", lambda: setattr(probe, "__defaults__", (3,)),
         lambda: setattr(probe, "__defaults__", defaults)),
        ("fake_probes.probe (its code)", lambda: setattr(probe, "__kwdefaults__", {"shift": 1}),
         lambda: setattr(probe, "__kwdefaults__", kwdefaults)),
        ("TABLE.probe", lambda: table.update(probe=print), lambda: table.update(probe=probe)),
        ("builtins.len", lambda: setattr(builtins, "len", lambda x: 0), lambda: setattr(builtins, "len", original_len)),
    ]
    for label, change, undo in changes:
        change()
        try:
            assert not snapshot.unchanged(), label
            assert label in snapshot.changed(), (label, snapshot.changed())
        finally:
            undo()
        assert snapshot.unchanged() and snapshot.changed() == [], label
    table["another"] = print   # a name the recording never had is no change to what it recorded
    assert snapshot.unchanged() and snapshot.changed() == []


def test_the_nelbo_the_feedback_quotes_for_a_correct_bound_is_the_references():
    """Test 2.4's message quotes VAE_REFERENCE_NELBO as what a correct bound reaches at VAE_STEPS: it
    must be what the reference reaches with the check's sizes, so resizing the check moves it too."""
    from autograder.selfcheck.local import local_run
    run = local_run(REFERENCE, clean_root=REPO / "student_template")
    run.measured = {}
    assert training.vae(run) is None
    assert abs(run.measured["held-out NELBO"] - training.VAE_REFERENCE_NELBO) < 0.5, run.measured


def test_the_judges_ewc_baseline_is_read_once_and_cannot_be_altered():
    first = training.ewc_baseline()
    assert training.ewc_baseline() is first
    after_a, naive, xb, batches_b, perm = first
    with pytest.raises(ValueError):
        naive["out.weight"][0, 0] = 0.0
    with pytest.raises(ValueError):
        batches_b[0, 0] = 0


def test_the_ewc_baseline_golden_is_the_judges_own_training_at_the_checks_sizes(monkeypatch):
    """A grading reads test 5.4's baseline from goldens/ewc_baseline.npz instead of training it: it must be
    what the judge's numpy training gives now, and a check resized since the golden was written must
    refuse it (a grader's fault, regenerate) rather than compare with a baseline of other sizes."""
    after_a, naive, *_ = training.ewc_baseline()
    fresh_a, fresh_naive = training.train_ewc_baseline(golden("digits")["inputs"])
    for ours, fresh in ((after_a, fresh_a), (naive, fresh_naive)):
        assert sorted(ours) == sorted(fresh)
        assert all(np.allclose(ours[k], fresh[k], rtol=1e-5, atol=1e-6) for k in ours)
    monkeypatch.setattr(training, "EWC_STEPS", training.EWC_STEPS + 1)
    training.ewc_baseline.cache_clear()
    try:
        with pytest.raises(GoldenError, match="regenerate"):
            training.ewc_baseline()
    finally:
        training.ewc_baseline.cache_clear()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
