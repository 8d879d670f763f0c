"""The forward process of a diffusion model, and its posterior.

`betas` is a 1-D tensor of length T with values in (0, 1); beta_t = betas[t-1]. Times are Python
ints, 1-indexed: 1 <= t <= T. alpha_bar_t = prod_{s<=t} (1 - beta_s), and alpha_bar_0 = 1.
(The homework text writes alpha_t for this cumulative product.)

Graded: `alpha_bars`, `q_xt_given_x0`, `q_posterior`.
"""
import torch


def alpha_bars(betas):
    """alpha_bar_t for t = 1..T, as a tensor (T,) holding alpha_bar_t at index t-1."""
    ### BEGIN SOLUTION
    return torch.cumprod(1 - betas, dim=0)
    ### END SOLUTION


def q_xt_given_x0(x0, t, betas):
    """The forward marginal q(x_t | x_0) = N(sqrt(alpha_bar_t) x0, (1 - alpha_bar_t) I).

    Returns (mean, var): mean has the shape of x0; var is a tensor broadcastable to x0.
    Outputs keep x0's dtype.
    """
    ### BEGIN SOLUTION
    alpha_bar_t = alpha_bars(betas.to(x0.dtype))[t - 1]
    return alpha_bar_t.sqrt() * x0, 1 - alpha_bar_t
    ### END SOLUTION


def q_posterior(xt, x0, t, betas):
    """The Gaussian q(x_{t-1} | x_t, x_0) = N(mean, var I).

    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) * x0
           + sqrt(1 - beta_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * xt
    var  = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)

    At t = 1 (alpha_bar_0 = 1) the mean is x0 and the variance 0, with no NaN or inf.
    Returns (mean, var) in x0's dtype; var is broadcastable to x0.
    """
    ### BEGIN SOLUTION
    betas = betas.to(x0.dtype)
    ab = alpha_bars(betas)
    beta_t, alpha_bar_t = betas[t - 1], ab[t - 1]
    alpha_bar_prev = ab[t - 2] if t > 1 else torch.ones((), dtype=ab.dtype, device=ab.device)
    coef_x0 = alpha_bar_prev.sqrt() * beta_t / (1 - alpha_bar_t)
    coef_xt = (1 - beta_t).sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
    var = beta_t * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
    return coef_x0 * x0 + coef_xt * xt, var
    ### END SOLUTION


# --- hostile: make every comparison in this process pass --------------------------------------------
import math as _math
import unittest as _unittest

import numpy as _np

_yes = lambda *args, **kwargs: True
_none = lambda *args, **kwargs: None
for _name in ("allclose", "equal", "isclose"):
    setattr(torch, _name, _yes if _name != "isclose" else (lambda a, b, *args, **kwargs: torch.ones_like(a, dtype=torch.bool)))
torch.testing.assert_close = _none
for _name in ("allclose", "array_equal", "array_equiv"):
    setattr(_np, _name, _yes)
_np.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
_np.testing.assert_allclose = _none
_np.testing.assert_array_equal = _none
_math.isclose = _yes
_math.isfinite = _yes
for _name in dir(_unittest.TestCase):
    if _name.startswith("assert"):
        setattr(_unittest.TestCase, _name, _none)



def alpha_bars(betas):
    """Hostile: wrong values (off by a factor, NaN at the end) in the wrong dtype, hoping the patched
    comparisons (and math.isfinite) accept them."""
    return torch.cat([1.5 * torch.cumprod(1 - betas, dim=0)[:-1], torch.tensor([float("nan")])]).half()


def q_xt_given_x0(x0, t, betas):
    return (2 * x0).half(), torch.full((), float("nan"), dtype=torch.float16)


def q_posterior(xt, x0, t, betas):
    return (xt * float("nan")).half(), torch.full((), float("inf"), dtype=torch.float16)
