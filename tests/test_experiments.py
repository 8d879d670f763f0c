"""Every experiment smoke-runs for a few iterations, in the reference and in a filled-in handout."""
import json
import shutil
import subprocess

import pytest
from PIL import Image

from helpers import GRADED_FILES, HANDOUT, PYTHON, REFERENCE, submission_from


@pytest.fixture(scope="module")
def filled_handout(tmp_path_factory):
    root = tmp_path_factory.mktemp("filled") / "hw"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
    return submission_from(REFERENCE, root, GRADED_FILES)


def run(folder, *args):
    result = subprocess.run([PYTHON, *args], cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("where", ["reference", "handout"])
def test_vae_experiment_trains_evaluates_and_saves_a_10_by_20_grid(where, filled_handout, tmp_path):
    folder = REFERENCE if where == "reference" else filled_handout
    out = run(folder, "experiment.py", "--model", "vae", "--iter-max", "5", "--seeds", "2",
              "--no-progress", "--out", str(tmp_path))
    assert "offline MNIST" in out and f"outputs in {tmp_path}" in out
    assert "test nelbo:" in out and "+/-" in out
    summary = json.loads((tmp_path / "vae_summary.json").read_text())
    assert summary["nelbo"]["mean"] > 0 and len(summary["runs"]) == 2
    width, height = Image.open(tmp_path / "vae_samples_seed0.png").size
    assert (width, height) == (20 * 30 + 2, 10 * 30 + 2)   # 28-pixel images with 2-pixel padding


def test_gan_experiment_saves_a_grid(tmp_path):
    run(REFERENCE, "experiment.py", "--model", "gan", "--iter-max", "3", "--no-progress", "--out", str(tmp_path))
    assert Image.open(tmp_path / "gan_samples_seed0.png").size == (602, 302)


@pytest.mark.parametrize("where", ["reference", "handout"])
def test_continual_learning_prints_accuracy_after_each_task_and_plots_a_sweep(where, filled_handout, tmp_path):
    folder = REFERENCE if where == "reference" else filled_handout
    out = run(folder, "continual.py", "--arch", "mlp", "--steps", "3", "--fisher-samples", "50",
              "--lam", "1", "10", "--out", str(tmp_path))
    for method in ("naive", "ewc lam=1", "ewc lam=10", "rehearsal"):
        assert f"{method} after task 3:" in out or f"{method.split()[0]} after task 3:" in out
    assert "final accuracy per task" in out
    results = json.loads((tmp_path / "continual_mlp.json").read_text())
    assert set(results) == {"naive", "ewc lam=1", "ewc lam=10", "rehearsal"}
    assert all(len(matrix) == 3 and len(matrix[-1]) == 3 for matrix in results.values())
    assert (tmp_path / "continual_mlp.png").exists()


def test_continual_cnn_smoke(tmp_path):
    out = run(REFERENCE, "continual.py", "--method", "ewc", "--arch", "cnn", "--tasks", "2", "--steps", "2",
              "--fisher-samples", "20", "--out", str(tmp_path))
    assert "ewc after task 2:" in out


def test_missing_data_is_a_clear_error(tmp_path):
    result = subprocess.run([PYTHON, "experiment.py", "--model", "vae", "--dataset", "fashion-mnist",
                             "--iter-max", "1", "--out", str(tmp_path)], cwd=REFERENCE, capture_output=True,
                            text=True, timeout=120, env={"HW_FASHION_DIR": str(tmp_path / "none"), "PATH": "/usr/bin"})
    assert result.returncode != 0 and "dataset-fashion-mnist" in result.stderr
