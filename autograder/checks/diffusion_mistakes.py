"""What each recognizable mistake of q_xt_given_x0 and q_posterior returns on a schedule and time
(numpy, float64): the hypotheses checks/diffusion.py names a cause from (only when exactly one matches
mean AND variance and the correct values do not)."""
import numpy as np

from autograder.selfcheck.expect import diagnose


def alpha_bar(betas, t):
    """alpha_bar_t with alpha_bar_0 = 1, by an explicit product."""
    return float(np.prod(1.0 - betas[:t]))


def marginal_hypotheses(x0, t, b):
    """(key, (mean, var) that mistake of q_xt_given_x0 returns, what to say)."""
    ab, nxt = alpha_bar(b, t), alpha_bar(b, t + 1) if t < len(b) else None
    with np.errstate(invalid="ignore"):   # NaN where x0 < 0 is the prediction (the judge's warning is no one's business)
        root_of_product = np.sqrt(ab * x0)
    return [
        ("fwd_alpha_t", (np.sqrt(1 - b[t - 1]) * x0, b[t - 1]), "1 - beta_t was used in place of "
         "alpha_bar_t, the cumulative product up to t"),
        ("fwd_off_by_one", None if nxt is None else (np.sqrt(nxt) * x0, 1 - nxt), "alpha_bar_(t+1) was used "
         "for time t: times are 1-indexed, alpha_bar_t is at index t - 1"),
        ("fwd_mean_no_sqrt", (ab * x0, 1 - ab), "the mean scales x0 by alpha_bar_t; it is sqrt(alpha_bar_t) x0"),
        ("fwd_var_sqrt", (np.sqrt(ab) * x0, np.sqrt(1 - ab)), "the variance is returned as the standard "
         "deviation sqrt(1 - alpha_bar_t); it is 1 - alpha_bar_t"),
        ("fwd_var_ab_prev", (np.sqrt(ab) * x0, 1 - alpha_bar(b, t - 1)), "the variance is 1 - alpha_bar_(t-1), "
         "one step early: it is 1 - alpha_bar_t, with alpha_bar_t at index t - 1"),
        ("fwd_sqrt_of_product", (root_of_product, 1 - ab), "the square root is taken of the product alpha_bar_t * x0 "
         "(NaN wherever x0 < 0): the mean is sqrt(alpha_bar_t) times x0"),
    ]


def posterior_hypotheses(xt, x0, t, b):
    """(key, (mean, var) that mistake returns, what to say), for t >= 2."""
    T = len(b)
    ab_t, ab_prev, beta = alpha_bar(b, t), alpha_bar(b, t - 1), b[t - 1]
    c0 = np.sqrt(ab_prev) * beta / (1 - ab_t)
    ct = np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab_t)
    var = beta * (1 - ab_prev) / (1 - ab_t)
    h = [("post_swapped", (ct * x0 + c0 * xt, var), "the coefficients of x0 and x_t are swapped"),
         ("post_typo_ab_prev", (c0 * x0 + np.sqrt(ab_prev) * (1 - ab_prev) / (1 - ab_t) * xt, var),
          "the x_t coefficient has sqrt(alpha_bar_(t-1)) where sqrt(1 - beta_t) belongs: it is sqrt(1 - beta_t) "
          "(1 - alpha_bar_(t-1)) / (1 - alpha_bar_t)"),
         # at t = 2 alpha_bar_1 = 1 - beta_1: this and post_typo_ab_prev coincide there, and identify names neither
         ("post_alpha_index_early", (c0 * x0 + np.sqrt(1 - b[t - 2]) * (1 - ab_prev) / (1 - ab_t) * xt, var),
          "the x_t coefficient has sqrt(1 - beta_(t-1)), betas[t - 2], where sqrt(1 - beta_t) belongs: beta_t is "
          "betas[t - 1]"),
         ("post_ab_t_in_xt", (c0 * x0 + np.sqrt(ab_t) * (1 - ab_prev) / (1 - ab_t) * xt, var),
          "the x_t coefficient has sqrt(alpha_bar_t): it is sqrt(1 - beta_t), the one-step factor"),
         ("post_sqrt_of_beta", (np.sqrt(ab_prev * beta) / (1 - ab_t) * x0 + ct * xt, var), "the x0 coefficient has "
          "sqrt(alpha_bar_(t-1) beta_t), the square root taken over beta_t too: it is sqrt(alpha_bar_(t-1)) beta_t / "
          "(1 - alpha_bar_t)"),
         ("post_var_no_beta", (c0 * x0 + ct * xt, (1 - ab_prev) / (1 - ab_t)),
          "the variance lacks its factor beta_t: var = beta_t (1 - alpha_bar_(t-1)) / (1 - alpha_bar_t)"),
         ("post_var_sqrt", (c0 * x0 + ct * xt, np.sqrt(var)), "the variance is returned as a standard deviation (its "
          "square root): var = beta_t (1 - alpha_bar_(t-1)) / (1 - alpha_bar_t) itself"),
         ("post_var_beta", (c0 * x0 + ct * xt, beta), "the variance equals beta_t, the forward step's variance "
          "(a DDPM sampler may use it as sigma_t^2; the posterior's formula gives it too where alpha_bar_t stands for "
          "alpha_bar_(t-1)): the posterior q(x_(t-1) | x_t, x_0) has beta_t (1 - alpha_bar_(t-1)) / (1 - alpha_bar_t)")]
    if t < T:
        a_next = alpha_bar(b, t + 1)
        h.append(("post_off_by_one", (np.sqrt(ab_t) * beta / (1 - a_next) * x0 + np.sqrt(1 - beta) * (1 - ab_t)
                                      / (1 - a_next) * xt, beta * (1 - ab_t) / (1 - a_next)),
                  "alpha_bar is read one step late (alpha_bar_(t+1) for alpha_bar_t and alpha_bar_t for "
                  "alpha_bar_(t-1)): alpha_bar_t is at index t - 1"))
        late = b[t]   # beta_(t+1), with alpha_bar read right
        h.append(("post_beta_off_by_one", (np.sqrt(ab_prev) * late / (1 - ab_t) * x0 + np.sqrt(1 - late) * (1 - ab_prev)
                                           / (1 - ab_t) * xt, late * (1 - ab_prev) / (1 - ab_t)),
                  "beta is read one step late (beta_(t+1), at betas[t], for beta_t): beta_t is betas[t - 1]"))
    return h


def shaped_for_images(mean, var, x0):
    """The cause of a mean with leading dimensions of size 1 added to x0's shape beside a variance of all-1
    dimensions as many: alpha_bar_t reshaped for image batches (B, C, H, W), as batched-t DDPM code does; or None."""
    extra = np.ndim(mean) - np.ndim(x0)
    if extra <= 0 or np.shape(mean) != (1,) * extra + np.shape(x0) or np.shape(var) != (1,) * np.ndim(mean):
        return None
    return diagnose("fwd_shaped_for_images", f"the mean has {extra} extra leading dimension{'s' if extra > 1 else ''} of "
                    f"size 1 and the variance shape {np.shape(var)}, as when alpha_bar_t is reshaped to (-1, 1, 1, 1) "
                    "for image batches (B, C, H, W): x0 may have any shape, and a 0-dim alpha_bar_t broadcasts to it")


def fits(a, shape):
    """Whether an array of a's shape broadcasts to `shape` leaving it as it is (a wrong shape is the student's
    mistake, told as such, never an exception of the check)."""
    try:
        return np.broadcast_shapes(np.shape(a), tuple(shape)) == tuple(shape)
    except ValueError:
        return False


def pair_match(rtol=1e-6, atol=1e-9):
    """The match of (mean, variance) pairs for identify: each close to its prediction where it broadcasts."""
    def match(a, b):
        try:
            # NaN matches NaN: a mistake that predicts NaN where x0 < 0 is matched position by position
            return all(np.allclose(np.broadcast_to(x, np.broadcast_shapes(np.shape(x), np.shape(y))),
                                   y, rtol=rtol, atol=atol, equal_nan=True) for x, y in zip(a, b))
        except ValueError:
            return False
    return match
