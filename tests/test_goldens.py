"""The committed golden files are what the reference computes, and damage to them is detected."""
import os
import shutil
import subprocess

import numpy as np
import pytest

from helpers import OTHER_CPUS, PYTHON, REPO
from autograder.checks import inputs


def test_committed_goldens_match_the_reference():
    result = subprocess.run([PYTHON, "-m", "staff", "goldens", "--check"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.mark.parametrize("cpu", OTHER_CPUS)
def test_committed_goldens_match_the_reference_computed_with_another_cpu_s_kernels(cpu):
    """The sums round differently there (measured: up to 3.8 epsilons of an array's scale, against the
    64 allowed; a 0.1% change is about 8,000)."""
    env = {**os.environ, **OTHER_CPUS[cpu]}
    probe = subprocess.run([PYTHON, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip() == OTHER_CPUS[cpu]["ATEN_CPU_CAPABILITY"].upper(), probe.stdout + probe.stderr
    result = subprocess.run([PYTHON, "-m", "staff", "goldens", "--check"], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and "up to date" in result.stdout, result.stdout + result.stderr


def test_goldens_hold_no_pickles_and_load_without_them():
    manifest = __import__("json").loads((inputs.GOLDENS / "manifest.json").read_text())
    paths = sorted(inputs.GOLDENS.glob("*.npz"))
    assert sorted(p.name for p in paths) == sorted(manifest["files"])
    for path in paths:
        with np.load(path, allow_pickle=False) as npz:   # an object array would raise here
            assert sorted(npz.files) == manifest["files"][path.name]["keys"]
            assert all(npz[k].dtype.kind in "biuf" for k in npz.files), path.name


def test_a_pickled_golden_would_be_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))
    with np.load(tmp_path / "evil.npz", allow_pickle=False) as npz, pytest.raises(ValueError):
        npz["x"]


@pytest.fixture
def goldens_copy(tmp_path, monkeypatch):
    copy = tmp_path / "goldens"
    shutil.copytree(inputs.GOLDENS, copy)
    monkeypatch.setattr(inputs, "GOLDENS", copy)
    return copy


def test_a_tampered_golden_fails_its_checksum(goldens_copy):
    path = goldens_copy / "fisher.npz"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(inputs.GoldenError, match="checksum"):
        inputs.golden("fisher")


def test_a_missing_golden_says_how_to_regenerate(goldens_copy):
    (goldens_copy / "diffusion.npz").unlink()
    with pytest.raises(inputs.GoldenError, match="python -m staff goldens"):
        inputs.golden("diffusion")


def test_the_judge_s_recomputation_agrees_with_the_reference_goldens():
    """The numpy formulas the judge trusts and the reference's torch outputs agree on the golden inputs."""
    from autograder.checks import numeric
    case = inputs.golden("vae_bound")
    i, e = case["inputs"], case["expected"]
    nelbo, kl, rec = numeric.vae_bound(i["state"], i["x"].astype(np.float64), i["eps"].astype(np.float64))
    assert np.allclose([nelbo, kl, rec], [e["nelbo"], e["kl"], e["rec"]], rtol=1e-5)
    case = inputs.golden("fisher")
    expected = numeric.small_net_fisher(case["inputs"]["state"], case["inputs"]["x"].astype(np.float64), case["inputs"]["y"])
    for k, v in expected.items():
        assert np.allclose(case["expected"]["fisher"][k], v, rtol=1e-4, atol=1e-9)


def test_the_golden_comparison_allows_rounding_from_another_cpu_but_not_a_changed_result():
    from staff.goldens import agrees
    g = np.random.default_rng(0)
    grads = g.normal(scale=0.3, size=(300, 784)).astype(np.float32)
    scale = float(np.abs(grads).max())
    rounded = grads + (g.integers(-8, 9, grads.shape) * np.finfo(np.float32).eps * scale).astype(np.float32)
    assert not np.array_equal(rounded, grads) and agrees(grads, rounded)
    # measured between two CPUs (AVX2 vs AVX-512): VAE gradients up to 2.4e-7 apart
    assert agrees(grads, grads + np.float32(2.4e-7))
    assert not agrees(grads, grads * np.float32(1.001))            # a changed result, 0.1%
    assert not agrees(grads, grads.astype(np.float64))               # a changed dtype
    assert not agrees(np.arange(5), np.arange(5) + 1)                # integers are exact
    nan = np.array([1.0, np.nan, np.inf], np.float32)
    assert agrees(nan, nan.copy()) and not agrees(nan, np.array([1.0, 0.0, np.inf], np.float32))
