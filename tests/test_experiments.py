"""Every experiment smoke-runs for a few iterations, in the reference and in a filled-in handout; the
experiments' command lines behave (strict JSON, named runs, integer ticks, defaults in --help, threads)."""
import json
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from helpers import GRADED_FILES, HANDOUT, PYTHON, REFERENCE, submission_from

if str(REFERENCE) not in sys.path:   # the experiments' modules, for the in-process tests
    sys.path.insert(0, str(REFERENCE))


@pytest.fixture(scope="module")
def filled_handout(tmp_path_factory):
    root = tmp_path_factory.mktemp("filled") / "hw"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("__pycache__", "data", "runs"))
    return submission_from(REFERENCE, root, GRADED_FILES)


def run(folder, *args):
    result = subprocess.run([PYTHON, *args], cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def strict_loads(text):
    """json.loads that refuses NaN and Infinity (Python's json accepts them; JSON does not)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("where", ["reference", "handout"])
def test_vae_experiment_trains_evaluates_and_saves_a_10_by_20_grid(where, filled_handout, tmp_path):
    folder = REFERENCE if where == "reference" else filled_handout
    out = run(folder, "experiment.py", "--model", "vae", "--iter-max", "5", "--seeds", "2",
              "--no-progress", "--out", str(tmp_path))
    assert "offline MNIST" in out and f"outputs in {tmp_path}" in out
    assert "test nelbo:" in out and "+/-" in out
    summary = strict_loads((tmp_path / "vae_summary.json").read_text())
    assert summary["nelbo"]["mean"] > 0 and summary["nelbo"]["stderr"] >= 0 and len(summary["runs"]) == 2
    width, height = Image.open(tmp_path / "vae_samples_seed0.png").size
    assert (width, height) == (20 * 30 + 2, 10 * 30 + 2)   # 28-pixel images with 2-pixel padding


def test_one_seed_prints_no_standard_error_and_writes_strict_json(tmp_path):
    out = run(REFERENCE, "experiment.py", "--model", "vae", "--iter-max", "2", "--seeds", "1", "--no-progress",
              "--out", str(tmp_path))
    assert "nan" not in out.lower() and "+/-" not in out
    for key in ("nelbo", "kl", "rec"):
        assert f"test {key}: " in out
    summary = strict_loads((tmp_path / "vae_summary.json").read_text())
    assert summary["seeds"] == 1 and len(summary["runs"]) == 1
    for key in ("nelbo", "kl", "rec"):
        assert summary[key]["stderr"] is None and summary[key]["mean"] == summary["runs"][0][key]


def test_strict_json_turns_non_finite_numbers_into_null():
    import experiment
    text = experiment.strict_json({"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -float("inf")}})
    assert strict_loads(text) == {"a": None, "b": [1.5, None], "c": {"d": None}}
    assert experiment.mean_and_stderr([2.0]) == (2.0, None)
    assert experiment.mean_and_stderr([1.0, 3.0]) == (2.0, 1.0)


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_gan_experiment_saves_a_grid(arch, tmp_path):
    argv = ["--gan-arch", arch] if arch == "mlp" else []   # conv is the default
    run(REFERENCE, "experiment.py", "--model", "gan", "--iter-max", "3", *argv, "--no-progress", "--out", str(tmp_path))
    assert Image.open(tmp_path / "gan_samples_seed0.png").size == (602, 302)
    summary = strict_loads((tmp_path / "gan_summary.json").read_text())
    assert summary["gan_arch"] == arch and summary["iter_max"] == 3


def test_gan_experiment_keeps_the_losses_and_d_s_accuracy_and_plots_them(tmp_path):
    """Issue 20: the summary keeps D's and G's losses and D's accuracy over training, the run prints
    their last values, and a plot of them is saved."""
    out = run(REFERENCE, "experiment.py", "--model", "gan", "--gan-arch", "mlp", "--iter-max", "12", "--no-progress",
              "--out", str(tmp_path))
    result = strict_loads((tmp_path / "gan_summary.json").read_text())["runs"][0]
    history, final = result["history"], result["final"]
    assert history["iteration"] == list(range(1, 13))   # fewer iterations than records: every one
    for key in ("d_loss", "g_loss", "d_accuracy_real", "d_accuracy_generated"):
        assert len(history[key]) == 12 and final[key] == history[key][-1]
        assert f"{key} {final[key]:.2f}" in out
    assert all(0 <= a <= 1 for a in history["d_accuracy_real"] + history["d_accuracy_generated"])
    assert all(loss > 0 for loss in history["d_loss"] + history["g_loss"])
    assert Image.open(tmp_path / "gan_training_seed0.png").size == (900, 320)


def test_recording_the_gan_s_history_changes_nothing_of_its_training():
    """D's accuracy is measured on noise of its own and G's batch-norm statistics are put back: the
    weights after training are the same whether the history has 2 records or 20."""
    import torch
    import data
    import train
    from models.gan import GAN
    split, _, _ = data.load("mnist")
    weights, lengths = [], []
    for records in (1, 20):
        torch.manual_seed(0)
        model = GAN(z_dim=8, arch="mlp")
        lengths.append(len(train.train_gan(model, split, iter_max=20, progress=False, records=records)["iteration"]))
        weights.append(model.state_dict())
    assert lengths == [2, 20]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize("threads", [None, 2])
def test_threads_flag_sets_torch_threads(threads, tmp_path):
    argv = [] if threads is None else ["--threads", str(threads)]
    out = run(REFERENCE, "experiment.py", "--model", "gan", "--gan-arch", "mlp", "--iter-max", "1", *argv,
              "--no-progress", "--out", str(tmp_path))
    expected = 1 if threads is None else threads    # one thread by default
    assert f"({expected} torch thread" in out
    # the summary records torch.get_num_threads() read after the flag was applied
    assert strict_loads((tmp_path / "gan_summary.json").read_text())["threads"] == expected


def test_set_threads_is_torch_set_num_threads():
    import torch
    import train
    before = torch.get_num_threads()
    try:
        assert train.set_threads(3) == 3 and torch.get_num_threads() == 3
        assert train.set_threads(0) == 3    # 0 leaves torch's setting alone
        with pytest.raises(ValueError):
            train.set_threads(-1)
    finally:
        torch.set_num_threads(before)


def help_entries(text):
    """{'--option': its help text, on one line} from argparse's --help output."""
    entries, current = {}, None
    for line in text.split("options:", 1)[1].splitlines():
        stripped = line.strip()
        if line.startswith("  -"):
            current = "--help" if stripped.startswith("-h") else stripped.split()[0]
            entries[current] = stripped
        elif current and stripped:
            entries[current] += " " + stripped
    return entries


@pytest.mark.parametrize("script, required, expected", [
    ("experiment.py", {"--model"}, {"--iter-max": "(default: 10000 for vae, 3000 for gan)", "--seed": "(default: 0)",
                                    "--seeds": "(default: 1)", "--threads": "(default: 1)",
                                    "--gan-arch": "(default: conv)", "--dataset": "(default: mnist)",
                                    "--out": "(default: runs)", "--no-progress": "(default: False)"}),
    ("continual.py", set(), {"--lam": "(default: [100.0])", "--steps": "(default: 500)", "--tasks": "(default: 3)",
                             "--threads": "(default: 1)", "--arch": "(default: cnn)",
                             "--method": "(default: ['naive', 'ewc', 'rehearsal'])"}),
])
def test_help_shows_every_default(script, required, expected):
    entries = help_entries(run(REFERENCE, script, "--help"))
    assert set(expected) <= set(entries) and len(entries) >= len(expected) + 1
    for option, text in entries.items():
        if option == "--help":
            continue
        assert ("(required)" if option in required else "default: ") in text, text
    for option, default in expected.items():
        assert default in entries[option], entries[option]


@pytest.mark.parametrize("where", ["reference", "handout"])
def test_continual_learning_prints_accuracy_after_each_task_and_plots_a_sweep(where, filled_handout, tmp_path):
    folder = REFERENCE if where == "reference" else filled_handout
    out = run(folder, "continual.py", "--arch", "mlp", "--steps", "3", "--fisher-samples", "50",
              "--lam", "1", "10", "--out", str(tmp_path))
    labels = ("naive", "ewc lam=1", "ewc lam=10", "rehearsal")
    lines = out.splitlines()
    for label in labels:   # every line names its run, lambda included: exactly one line per run and task
        for task in (1, 2, 3):
            assert sum(line.startswith(f"{label} after task {task}: ") for line in lines) == 1, out
    progress = [line for line in lines if " after task " in line]
    assert len(progress) == len(labels) * 3
    assert "(1 torch thread)" in out and "final accuracy per task" in out
    results = strict_loads((tmp_path / "continual_mlp.json").read_text())
    assert set(results) == set(labels)
    assert all(len(matrix) == 3 and len(matrix[-1]) == 3 for matrix in results.values())
    assert (tmp_path / "continual_mlp.png").exists()


@pytest.mark.parametrize("tasks", [2, 3, 5])
def test_continual_figure_has_integer_ticks_only(tasks, tmp_path):
    import continual
    results = {"naive": [[0.9] * (k + 1) for k in range(tasks)], "ewc lam=10": [[0.95] * (k + 1) for k in range(tasks)]}
    fig = continual.figure(results)
    ticks = fig.axes[0].get_xticks().tolist()
    assert ticks == list(range(1, tasks + 1))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [str(k) for k in range(1, tasks + 1)]
    assert continual.plot(results, tmp_path / "f.png") == ticks and (tmp_path / "f.png").stat().st_size > 0


def test_continual_cnn_smoke(tmp_path):
    out = run(REFERENCE, "continual.py", "--method", "ewc", "--arch", "cnn", "--tasks", "2", "--steps", "2",
              "--fisher-samples", "20", "--out", str(tmp_path))
    assert "ewc lam=100 after task 2:" in out    # the default lambda


def test_missing_data_is_a_clear_error(tmp_path):
    result = subprocess.run([PYTHON, "experiment.py", "--model", "vae", "--dataset", "fashion-mnist",
                             "--iter-max", "1", "--out", str(tmp_path)], cwd=REFERENCE, capture_output=True,
                            text=True, timeout=120, env={"HW_FASHION_DIR": str(tmp_path / "none"), "PATH": "/usr/bin"})
    assert result.returncode != 0 and "dataset-fashion-mnist" in result.stderr
