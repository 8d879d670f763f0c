"""Issues 17.1 and 20: what the training checks (2.4, 3.4, 5.4) compare with is the judge's own, and a
GPU's rounding cannot flip their verdicts. EWC's task-A weights and naive baseline are trained by the
judge in numpy (checks/training.py small_net_adam), so a submission that reaches into the worker's
probe to zero "the naive model" finds none (tests/corpus/hostile/forge_ewc_baseline)."""
import json
import shutil
import subprocess

import numpy as np
import torch

from helpers import HANDOUT, PYTHON, REFERENCE, REPO, submission_from

from autograder.checks import training
from autograder.selfcheck.local import local_run
from autograder.selfcheck.probes import Adam, small_net

HOSTILE = REPO / "tests" / "corpus" / "hostile" / "forge_ewc_baseline"


def test_the_judge_s_numpy_adam_is_the_probes_adam_in_float64():
    """The same steps as the worker's Adam (itself torch.optim.Adam bit for bit, test_probes.py), here in float64."""
    g = np.random.default_rng(0)
    state = {"hidden.weight": g.normal(size=(6, 12)) * 0.3, "hidden.bias": g.normal(size=6) * 0.1,
             "out.weight": g.normal(size=(4, 6)) * 0.3, "out.bias": g.normal(size=4) * 0.1}
    x, y = g.normal(size=(50, 12)), g.integers(0, 4, 50)
    batches = g.integers(0, 50, (40, 8))
    ours = training.small_net_adam(state, x, y, batches, lr=1e-2)
    model = small_net(state, dropout=0.0).double()
    optimizer = Adam(model.parameters(), lr=1e-2)
    for index in torch.tensor(batches):
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)[index]), torch.tensor(y)[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for name, value in model.state_dict().items():
        assert np.allclose(ours[name], value.numpy(), rtol=1e-5, atol=1e-6), name
    assert not np.allclose(ours["out.weight"], state["out.weight"], atol=1e-3)   # it did train


def test_ewc_with_no_penalty_is_the_judge_s_naive_baseline(tmp_path):
    """The worker's EWC run with a zero penalty lands where the judge's naive run does (float32 torch vs
    float64 numpy on the same batches), far inside the 5 points EWC must gain."""
    root = tmp_path / "submission"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__", "data"))
    submission_from(REFERENCE, root)
    source = (root / "ewc.py").read_text()
    (root / "ewc.py").write_text(source.replace("    return lam / 2 * total\n",
                                                "    return lam / 2 * total * 0.0\n"))
    run = local_run(root, clean_root=HANDOUT)
    stats = {}
    original = training.trained

    def keep(*args, **kwargs):
        out, s = original(*args, **kwargs)
        stats.update(s)
        return out, s

    training.trained = keep
    try:
        outcome = training.ewc(run)
    finally:
        training.trained = original
    assert abs(stats["EWC gain on task A"]) < 0.005, stats
    assert outcome is not None and outcome.fraction == 0.0


class FakeRun:
    """A `run` that reports the device asked for and a statistic per device."""

    def __init__(self, device, statistic):
        self.device, self.statistic, self.asked, self.measured = device, statistic, [], {}

    def __call__(self, probe, device, **inputs):
        self.asked.append(device)
        return {"device": "cpu" if device == "cpu" else "cuda:0", "value": self.statistic[device]}


def test_a_gpu_run_near_a_threshold_is_decided_on_the_cpu():
    statistics = lambda out: {"held-out NELBO": out["value"]}
    near = FakeRun("auto", {"auto": training.VAE_MAX_NELBO - 1.0, "cpu": training.VAE_MAX_NELBO + 5.0})
    _, stats = training.trained(near, "vae_train", statistics)
    assert near.asked == ["auto", "cpu"] and stats["held-out NELBO"] == training.VAE_MAX_NELBO + 5.0
    assert near.measured["training device"] == "cuda:0, then cpu (near a threshold)"
    far = FakeRun("auto", {"auto": 173.0, "cpu": 172.0})
    _, stats = training.trained(far, "vae_train", statistics)
    assert far.asked == ["auto"] and stats["held-out NELBO"] == 173.0 and far.measured["training device"] == "cuda:0"
    on_cpu = FakeRun("cpu", {"cpu": training.VAE_MAX_NELBO - 1.0})
    training.trained(on_cpu, "vae_train", statistics)
    assert on_cpu.asked == ["cpu"]   # the CPU's verdict is the CPU's


def test_every_band_is_smaller_than_the_margin_measured_over_the_corpus():
    """BAND (where a GPU run is re-decided on the CPU) must stay inside the thresholds' smallest margins
    on the CPU (README, "GPU": benchmarks/device_benchmark.py --margins), or a correct variant near
    the limit would be re-run on every GPU grading and a wrong one could be re-run into a pass."""
    assert set(training.BAND) == set(training.THRESHOLDS)
    smallest_margin = {"held-out NELBO": 15.0, "logit margin gain": 2.0, "separation": 0.05, "g_loss drop": 0.05,
                       "EWC gain on task A": 0.05, "EWC on task B": 0.3}
    for key, band in training.BAND.items():
        assert 0 < band < smallest_margin[key], key


def test_a_submission_that_zeroes_the_naive_model_from_the_probe_s_frame_earns_nothing(tmp_path):
    """Issue 17.1, through `python -m autograder grade`: a zero Fisher and penalty whose every call walks
    sys._getframe up to zero any 'naive' model. It earned all of 5.4 when the worker trained the baseline."""
    root = submission_from(REFERENCE, tmp_path / "upload")
    shutil.copyfile(HOSTILE / "ewc.py", root / "ewc.py")
    results = tmp_path / "results.json"
    done = subprocess.run([PYTHON, "-m", "autograder", "grade", str(root), "--device", "cpu", "--results",
                           str(results)], cwd=REPO, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(results.read_text())
    tests = {t["number"]: t for t in data["tests"]}
    assert not data["extra_data"]["grader_failure"], data["extra_data"]
    assert all(tests[n]["score"] == 0 for n in ("5.1", "5.2", "5.3", "5.4")), {n: tests[n]["score"] for n in tests}
    assert "naive training keeps" in tests["5.4"]["output"]
    assert data["score"] == 80   # every other file keeps its points
