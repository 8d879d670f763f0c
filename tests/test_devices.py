"""Issue 20: devices. The device claim (selfcheck/devices.py, probe on_device) charges a tensor made on a
fixed device and nothing else; `grade --device`; the worker's environment per device. (The corpus
holds the five fixed-device mistakes, tests/corpus/accuracy/*.yaml `device_*`: test_corpus.py.)"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from helpers import HANDOUT, PYTHON, REFERENCE, REPO, submission_from

from autograder import sandbox
from autograder.selfcheck import devices
from autograder.selfcheck.expect import Claims, recording
from autograder.selfcheck.local import local_run


def variant(tmp_path, file, old, new):
    """The reference with one line of `file` replaced (old must occur in it)."""
    shutil.copytree(HANDOUT, tmp_path / "submission", ignore=shutil.ignore_patterns("selfcheck", "__pycache__", "data"))
    root = submission_from(REFERENCE, tmp_path / "submission")
    source = (REFERENCE / file).read_text()
    assert old in source
    (root / file).write_text(source.replace(old, new))
    return root


def device_claim(root, file):
    run = local_run(root, clean_root=HANDOUT)
    claims = Claims()
    with recording() as record:
        held = devices.claim(run, claims, file)
        outcome = claims.outcome()
    return held, (outcome.message if outcome else ""), record["keys"]


@pytest.mark.parametrize("file", ["utils.py", "models/vae.py", "models/gan.py", "diffusion.py", "ewc.py"])
def test_the_reference_keeps_its_inputs_device_on_meta(file):
    held, message, keys = device_claim(REFERENCE, file)
    assert held and not message and not keys


def test_noise_drawn_on_the_cpu_is_charged_and_named(tmp_path):
    root = variant(tmp_path, "utils.py", "torch.randn_like(m)", "torch.randn(m.shape, dtype=m.dtype)")
    held, message, keys = device_claim(root, "utils.py")
    assert not held and keys == {"device_fixed"}
    assert "sample_gaussian" in message and "fixed device (the CPU)" in message and "meta" in message


def test_a_fisher_accumulated_on_the_cpu_is_charged_by_the_device_it_returns(tmp_path):
    """`cpu_zeros += meta_grad` does not raise on meta (it would on CUDA): the result's device is the evidence."""
    root = variant(tmp_path, "ewc.py", "torch.zeros_like(p)", "torch.zeros(p.shape)")
    held, message, keys = device_claim(root, "ewc.py")
    assert not held and keys == {"device_fixed"} and "fisher_diagonal returned a tensor on cpu" in message


def test_a_correct_function_the_meta_device_cannot_run_is_charged_nothing(tmp_path):
    """torch.distributions validates its arguments with .item(), which meta tensors refuse: not a device error."""
    root = variant(tmp_path, "utils.py", "    eps = torch.randn_like(m)\n    return m + v.sqrt() * eps",
                   "    return torch.distributions.Normal(m, v.sqrt()).rsample()")
    run = local_run(root, clean_root=HANDOUT)
    out = run("on_device", file="utils.py", device="meta")
    assert "cannot be called on meta tensors" in out["calls"]["sample_gaussian"]["error"]
    held, message, keys = device_claim(root, "utils.py")
    assert held and not message and not keys


def test_a_zero_dim_cpu_result_is_not_charged(tmp_path):
    """A 0-dim CPU tensor meets tensors on any device (torch allows it): a variance of 0 at t = 1 may be one."""
    root = variant(tmp_path, "diffusion.py", "torch.ones((), dtype=ab.dtype, device=ab.device)",
                   "torch.ones((), dtype=ab.dtype)")
    held, _, _ = device_claim(root, "diffusion.py")
    assert held


@pytest.mark.parametrize("error, charged", [
    ("RuntimeError: Tensor on device cpu is not on the expected device meta!", True),
    ("RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!", True),
    ("RuntimeError: Tensor.item() cannot be called on meta tensors", False),
    ("NotImplementedError: Cannot copy out of meta tensor; no data!", False),
    ("NotImplementedError: sample_gaussian", False),
    ("ValueError: Expected parameter loc of distribution Normal to satisfy the constraint Real()", False),
])
def test_only_a_device_mismatch_is_evidence(error, charged):
    report = {"calls": {"f": {"error": error, "devices": None}}}
    assert bool(devices.mistakes(report, "meta")) == charged


def test_the_worker_sees_no_gpu_on_the_cpu_and_the_judge_s_gpus_otherwise(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert sandbox.worker_environment(Path("/x"), "cpu")["CUDA_VISIBLE_DEVICES"] == ""
    assert sandbox.worker_environment(Path("/x"), "auto")["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert "CUDA_VISIBLE_DEVICES" not in sandbox.worker_environment(Path("/x"), "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_grade_device_cuda_without_cuda_says_so_and_grades_nothing(tmp_path):
    results = tmp_path / "results.json"
    done = subprocess.run([PYTHON, "-m", "autograder", "grade", str(REFERENCE), "--device", "cuda", "--results",
                           str(results)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--device cuda" in done.stderr and "no CUDA device" in done.stderr
    assert not results.exists()


def test_grade_device_cpu_notes_the_training_device_in_results_and_log(tmp_path):
    results = tmp_path / "results.json"
    done = subprocess.run([PYTHON, "-m", "autograder", "grade", str(REFERENCE), "--device", "cpu", "--results",
                           str(results)], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    tests = {t["number"]: t for t in json.loads(results.read_text())["tests"]}
    assert {n for n, t in tests.items() if "device" in t.get("extra_data", {})} == {"2.4", "3.4", "5.4"}
    assert all(tests[n]["extra_data"]["device"] == "cpu" and tests[n]["score"] == tests[n]["max_score"]
               for n in ("2.4", "3.4", "5.4"))
    for n in ("2.4", "3.4", "5.4"):
        assert f"grader: test {n} trained on cpu" in done.stdout
