"""The committed golden files are what the reference computes, and damage to them is detected."""
import shutil
import subprocess

import numpy as np
import pytest

from helpers import PYTHON, REPO
from autograder.checks import inputs


def test_committed_goldens_match_the_reference():
    result = subprocess.run([PYTHON, "-m", "reference.golden", "--check"], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_goldens_hold_no_pickles_and_load_without_them():
    for path in inputs.GOLDENS.glob("*.npz"):
        with np.load(path, allow_pickle=False) as npz:
            assert all(npz[k].dtype != object for k in npz.files)


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
    with pytest.raises(inputs.GoldenError, match="python -m reference.golden"):
        inputs.golden("diffusion")


def test_the_judge_s_recomputation_agrees_with_the_reference_goldens():
    """The numpy formulas the judge trusts and the reference's torch outputs agree on the golden inputs."""
    from autograder.selfcheck import numeric
    case = inputs.golden("vae_bound")
    i, e = case["inputs"], case["expected"]
    nelbo, kl, rec = numeric.vae_bound(i["state"], i["x"].astype(np.float64), i["eps"].astype(np.float64))
    assert np.allclose([nelbo, kl, rec], [e["nelbo"], e["kl"], e["rec"]], rtol=1e-5)
    case = inputs.golden("fisher")
    expected = numeric.small_net_fisher(case["inputs"]["state"], case["inputs"]["x"].astype(np.float64), case["inputs"]["y"])
    for k, v in expected.items():
        assert np.allclose(case["expected"]["fisher"][k], v, rtol=1e-4, atol=1e-9)
