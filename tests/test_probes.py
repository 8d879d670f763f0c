"""The probes' own training loop: its Adam is torch.optim.Adam bit for bit, and grading imports no
torch._dynamo (1.4 s of every grading, which torch.optim's first use would pay)."""
import subprocess

import pytest
import torch

from helpers import PYTHON, REPO

from autograder.selfcheck.probes import Adam


def train(optimizer, **settings):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.ReLU(), torch.nn.Linear(30, 5))
    opt = optimizer(model.parameters(), **settings)
    for _ in range(60):
        loss = (model(torch.randn(8, 20)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("settings", [{"lr": 1e-3}, {"lr": 2e-4, "betas": (0.5, 0.999)}, {"lr": 1e-2}])
def test_the_probes_adam_takes_torchs_steps_bit_for_bit(settings):
    ours, torchs = train(Adam, **settings), train(torch.optim.Adam, **settings)
    assert all(torch.equal(a, b) for a, b in zip(ours, torchs))
    assert not all(torch.equal(a, b) for a, b in zip(ours, train(Adam, lr=settings["lr"] * 2)))   # it does train


def test_the_grader_s_training_runs_import_no_torch_dynamo():
    """The training probes' own code (its Adam) imports no torch._dynamo. (A student's torch.func, as in
    the reference's Fisher, still imports it: that cost is theirs. The device claim's meta tensors import
    it too: the worker pays that at its start, worker/serve.py warm_meta_device.)"""
    script = ("import sys; from autograder.checks import training; from autograder.grade import HANDOUT; "
              "from autograder.selfcheck.local import local_run; run = local_run('reference', clean_root=HANDOUT); "
              "import numpy as np; x = training.digits()[0]; "
              "v = run('vae_train', x=x, z_dim=10, steps=5, batch_size=100, seed=0); "
              "from autograder.checks.inputs import gan_state, rng; "
              "g = run('gan_train', state=gan_state(rng('t'), 16), z_dim=16, x=x, steps=5, batch_size=64, seed=0); "
              "print(len(v['losses']), 'torch._dynamo' in sys.modules)")
    done = subprocess.run([PYTHON, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.stdout.split() == ["5", "False"], done.stdout + done.stderr[-2000:]


def test_the_judges_numpy_on_a_submissions_inf_and_nan_prints_no_warning():
    """numeric.py computes on what a submission returned (its GAN step's z): numpy's RuntimeWarnings about
    that arithmetic would reach the student's feedback with the grader's paths in them."""
    import warnings

    import numpy as np

    from autograder.checks import numeric
    from autograder.checks.inputs import gan_state, rng
    state = gan_state(rng("test", "quiet"), 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logits = numeric.discriminator_logits(state, numeric.generator(state, np.array([[np.inf, -np.inf, np.nan, 1e308]])))
        numeric.kl_to_standard_normal(np.zeros(3), np.array([0.0, -1.0, np.inf]))
    assert not np.isfinite(logits).all()
