"""Issues 17.1 and 20: what the training checks (2.4, 3.4, 5.4) compare with is the judge's own, and a
GPU's rounding cannot flip their verdicts. EWC's task-A weights and naive baseline are trained by the
judge in numpy (checks/training.py small_net_adam), so a submission that reaches into the worker's
probe to zero "the naive model" finds none (tests/corpus/hostile/forge_ewc_baseline)."""
import contextlib
import json
import shutil
import subprocess

import numpy as np
import torch

from helpers import HANDOUT, PYTHON, REFERENCE, REPO, submission_from

from autograder.checks import training
from autograder.grade import load_config
from autograder.selfcheck.local import local_run
from autograder.selfcheck.probes import Adam, small_net

HOSTILE = REPO / "tests" / "corpus" / "hostile" / "forge_ewc_baseline"



@contextlib.contextmanager
def recorded_statistics():
    """The statistics every training check computes while inside, in one dict."""
    stats, original = {}, training.trained

    def keep(*args, **kwargs):
        out, s = original(*args, **kwargs)
        stats.update(s)
        return out, s

    training.trained = keep
    try:
        yield stats
    finally:
        training.trained = original


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
    with recorded_statistics() as stats:
        outcome = training.ewc(run)
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


def test_a_gpu_deviation_smaller_than_the_band_never_flips_a_verdict():
    """The design's guarantee, for every statistic: whatever the CPU value c, a GPU value g with
    |g - c| < BAND decides as c does (outside the band it is on c's side; inside, the CPU decides)."""
    statistics = lambda out: {out["key"]: out["value"]}
    for key, threshold in training.THRESHOLDS.items():
        band = training.BAND[key]
        passes = (lambda v: v <= threshold) if key == "held-out NELBO" else (lambda v: v > threshold)
        for c in np.linspace(threshold - 3 * band, threshold + 3 * band, 61):
            for g in np.linspace(c - 0.999 * band, c + 0.999 * band, 21):
                values = {"auto": g, "cpu": c}
                run = lambda probe, device, **_: {"device": "cpu" if device == "cpu" else "cuda:0", "key": key,
                                                  "value": values[device]}
                _, stats = training.trained(type("Run", (), {"device": "auto", "__call__": staticmethod(run)})(),
                                            "p", statistics)
                assert passes(stats[key]) == passes(c), (key, c, g)


def test_the_reference_is_never_re_run_its_statistics_are_outside_every_band():
    run = local_run(REFERENCE, clean_root=HANDOUT)
    with recorded_statistics() as seen:
        assert training.vae(run) is None and training.gan(run) is None and training.ewc(run) is None
    assert set(training.THRESHOLDS) <= set(seen) and not training.near_a_threshold(seen), seen


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
    others = sum(t["points"] for t in load_config()["tests"] if t["file"] != "ewc.py")
    assert data["score"] == others   # every other file keeps its points


def test_a_penalty_that_learns_neither_task_is_not_said_to_hold_the_parameters_near_task_a(tmp_path):
    """Fourth outside reading, 70: lam / 2 * sqrt(S) has a NaN gradient at theta = star, where training starts;
    both tasks end at chance, and 5.4 said "the penalty holds the parameters too close to task A's"."""
    root = tmp_path / "sub"
    shutil.copytree(HANDOUT, root, ignore=shutil.ignore_patterns("selfcheck", "__pycache__", "data"))
    submission_from(REFERENCE, root)
    source = (root / "ewc.py").read_text()
    assert "    return lam / 2 * total\n" in source
    (root / "ewc.py").write_text(source.replace("    return lam / 2 * total\n", "    return lam / 2 * total.sqrt()\n"))
    outcome = training.ewc(local_run(root, clean_root=HANDOUT))
    assert outcome is not None and outcome.fraction == 0.0
    assert "too close to task A" not in outcome.message and "neither learned it nor kept task A" in outcome.message, outcome.message
