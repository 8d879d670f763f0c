"""The forward process of a diffusion model, and its posterior.

`betas` is a 1-D tensor of length T with values in (0, 1); beta_t = betas[t-1]. Times are Python
ints, 1-indexed: 1 <= t <= T. alpha_bar_t = prod_{s<=t} (1 - beta_s), and alpha_bar_0 = 1.
(The homework text writes alpha_t for this cumulative product.)

Graded: `alpha_bars`, `q_xt_given_x0`, `q_posterior`.
"""
import torch


def alpha_bars(betas):
    """alpha_bar_t for t = 1..T, as a tensor (T,) holding alpha_bar_t at index t-1."""
    # TODO: write alpha_bars.
    raise NotImplementedError("alpha_bars in diffusion.py is not written yet: replace this line with your code (see the docstring above).")


def q_xt_given_x0(x0, t, betas):
    """The forward marginal q(x_t | x_0) = N(sqrt(alpha_bar_t) x0, (1 - alpha_bar_t) I).

    Returns (mean, var): mean has the shape of x0; var is a tensor broadcastable to x0.
    Outputs keep x0's dtype.
    """
    # TODO: write q_xt_given_x0.
    raise NotImplementedError("q_xt_given_x0 in diffusion.py is not written yet: replace this line with your code (see the docstring above).")


def q_posterior(xt, x0, t, betas):
    """The Gaussian q(x_{t-1} | x_t, x_0) = N(mean, var I).

    mean = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t) * x0
           + sqrt(1 - beta_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * xt
    var  = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)

    At t = 1 (alpha_bar_0 = 1) the mean is x0 and the variance 0, with no NaN or inf.
    Returns (mean, var) in x0's dtype; var is broadcastable to x0.
    """
    # TODO: write q_posterior.
    raise NotImplementedError("q_posterior in diffusion.py is not written yet: replace this line with your code (see the docstring above).")
