"""Grading cost: regrade's jobs run the judge's numpy on one OpenBLAS thread (its threads spin at
10-20x the CPU of one on the small products the checks compute), and the benchmarks' cost breakdown
counts every process of a grading."""
import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from helpers import PYTHON, REFERENCE, REPO

from autograder import regrade


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


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
