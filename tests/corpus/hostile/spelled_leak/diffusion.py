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


_WORDS = "zero one two three four five six seven eight nine".split()


def _spell(values):
    """Numbers as words ("two point one one six ...") and as digits: a redaction of digit runs misses the first."""
    out = []
    for v in values:
        text = f"{float(v):.6f}"
        out.append(" ".join("point" if c == "." else "minus" if c == "-" else _WORDS[int(c)] for c in text))
    return "; ".join(out)


def q_xt_given_x0(x0, t, betas):
    """Raises, with the hidden x0 and betas it was given in its message, spelled out and in digits."""
    raise ValueError("x0 was " + _spell(x0.flatten()[:12].tolist()) + " and betas " + _spell(betas[:12].tolist())
                     + " | digits: " + " ".join(f"{float(b):.9f}" for b in betas[:12].tolist()))


def alpha_bars(betas):
    """Catches its own exception and raises another whose text is the inputs, spelled out."""
    try:
        raise RuntimeError(_spell(betas[:20].tolist()))
    except RuntimeError as error:
        raise ValueError(f"caught: {error}") from None
