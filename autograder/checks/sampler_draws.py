"""The draws the checks of utils.sample_gaussian judge (checks/utils.py): their inputs, columns of known
variance; the draws; and the mistakes whose traces the draws show exactly (noise shared between
elements, uniform noise, clamped noise (a point mass at the largest |u|), one scale for every column, a variance
or a mean that one mistake predicts in every column)."""
import math

import numpy as np

from autograder.selfcheck.expect import CheckFailed, Text, diagnose, fmt, identify, values
from .inputs import rng

N_ROWS, N_COLS = 4000, 8          # 32,000 draws per call
N = N_ROWS * N_COLS
Z = 6.0                           # a 6-sigma bound: two-sided normal tail 2.0e-9
# one small variance (1e-4) among them: a variance clamped from below (v.clamp(min=1e-3)) shows only there
V_COLS = np.array([1e-4, 0.09, 0.25, 0.36, 2.25, 4.0, 6.25, 9.0])
# |mean of N iid N(0, 1)| * sqrt(N) is |N(0, 1)|: below 1e-4 with probability 8e-5, in two independent calls
# 6.4e-9; a mean removed in float32 leaves about 1e-6 there
CENTRED = 1e-4
# the tails: |u| > TAIL for P = 0.0026989 of N(0, 1) draws (1e-4 above 3, so that eps clamped to [-3, 3] stays below
# it after z's float32 rounding); the count of such draws among N is binomial(N, P), mean 86.4, and below
# TAIL_MIN with probability 6.9e-10 (the sum of its binomial terms; tests/test_feedback_truth.py recomputes it).
# Smallest error caught: eps clamped to [-c, c] for c below about 3.08 (the count then averages < 66).
TAIL, TAIL_MIN = 3.0001, 37


def mean_variance_inputs(dtype="float32"):
    """Each column has its own mean and a variance well away from 1 (so v, v^2, sqrt(v) and exp(v) differ)."""
    g = rng("sample_gaussian", "moments")
    means = g.uniform(-3, 3, (1, N_COLS))
    means[0, 0] *= 1e-2      # beside v = 1e-4 a mean of size 1 would round z - m away in float32 (v ** 2 eps: 1e-8)
    m = np.repeat(means, N_ROWS, 0).astype(dtype)
    v = np.repeat(V_COLS[None], N_ROWS, 0).astype(dtype)
    return m, v


def draws(run, dtype="float32"):
    m, v = mean_variance_inputs(dtype)
    out = run("sample_gaussian", m=m, v=v, seed=1234, gradient=True)
    z = values(out["z"], "z", m.shape)
    if not np.all(np.isfinite(z)):
        raise CheckFailed("z contains NaN or inf for finite m and positive v.")
    return m.astype(np.float64), v.astype(np.float64), z, out


def sharing(d, v, m):
    """A diagnosis when the noise d = z - m is visibly shared (exact equalities), else None."""
    u = d / np.sqrt(v)
    z = d + m
    if np.ptp(z) == 0:
        return Text(f"every element of z is {fmt(float(z.flat[0]))}: z does not follow m and carries no noise")
    if not np.any(d):
        return diagnose("sg_no_noise", "z equals m everywhere: no noise was added. A sample of N(m, v) adds "
                                       "standard normal noise scaled to variance v")
    if np.allclose(u, u.flat[0], rtol=1e-4, atol=1e-4):
        return diagnose("sg_shared_all", "every element of z got the same noise value (one scalar draw): draw "
                                         "one independent eps per element, with the full shape of m")
    if np.allclose(u, u[:1], rtol=1e-4, atol=1e-4):
        return diagnose("sg_shared_batch", "every row of the batch got the same noise: draw one independent eps per "
                                           "element, with the full shape of m (not m[0] or m.shape[1:])")
    if np.allclose(u, u[:, :1], rtol=1e-4, atol=1e-4):
        return diagnose("sg_shared_row", "all elements of a row got the same noise: draw eps with the full shape of m")
    return None


def distinct_draws(u):
    """The noise values actually drawn when one draw is visibly shared (by every element, by the rows of the
    batch, by the elements of a row), else None. u = (z - m) / sqrt(v)."""
    close = lambda a, b: np.allclose(a, b, rtol=1e-4, atol=1e-4)
    if not np.any(u) or np.ptp(u) == 0 and u.flat[0] == 0:
        return None                                 # no noise at all: not a sharing of draws
    if close(u, u.flat[0]):
        return u.flat[:1]
    if close(u, u[:1]):
        return u[0]
    if close(u, u[:, :1]):
        return u[:, 0]
    return None


def standardized(d):
    """Each column of d minus its own mean, over its own standard deviation (None if a column is constant)."""
    sd = d.std(0, ddof=1)
    if np.any(sd == 0):
        return None
    return (d - d.mean(0)) / sd


def looks_uniform(d):
    """Confined to one interval of width sqrt(12) standard deviations, with the uniform's fourth moment."""
    w = standardized(d)
    return w is not None and np.abs(w).max() <= math.sqrt(3) * 1.05 and abs((w ** 4).mean() - 1.8) < 0.1


UNIFORM = ("the noise is uniform (every value lies in one interval, fourth moment 1.8): eps must be standard "
           "normal, e.g. torch.randn_like(m); torch.rand_like draws uniformly from [0, 1)")


def pooled_variance(d):
    """sum_c sum_r (d - mean_c)^2 / v_c / (N - 8): the variance of u around each column's own mean (so an
    offset is not also read as a wrong variance); chi-square(N - 8) / (N - 8) for a correct sampler."""
    return float((((d - d.mean(0)) ** 2).sum(0) / V_COLS).sum() / (N - N_COLS))


def variance_is_v(d):
    return abs(pooled_variance(d) - 1) < Z * math.sqrt(2 / N)


def thin_tails(m, v, z):
    """A message when too few draws lie beyond |u| = 3 (u = (z - m) / sqrt(v)), else None. Judged only where
    test 1.2's mean and variance hold: a scale error moves the tail count too, and 1.2 charges it. Eps clamped
    to [-c, c] is named only on its trace: a point mass, many draws exactly at the largest |u|."""
    d = z - m
    if sharing(d, v, m) is not None or not (mean_is_m(m, d)[0] and variance_is_v(d)):
        return None
    u = np.abs(d / np.sqrt(v))
    beyond = int((u > TAIL).sum())
    if beyond >= TAIL_MIN:
        return None
    seen = (f"only {beyond} of the {N} draws of (z - m) / sqrt(v) lie beyond +-3, where standard normal noise "
            f"puts about {N * math.erfc(TAIL / math.sqrt(2)):.0f} (fewer than {TAIL_MIN} with probability 7e-10)")
    top = float(u.max())
    at_top = int((np.abs(u - top) < 1e-4).sum())
    if at_top >= 10:    # a correct sampler's largest |u| is one draw: no other lies within 1e-4 of it
        return diagnose("sg_eps_clamped", f"{seen}, and {at_top} draws sit exactly at +-{fmt(top)}, the "
                        f"largest |value|: a point mass, as when eps is clamped to [-{fmt(top)}, {fmt(top)}]. The normal's tails go "
                        "on beyond any bound: use the noise of torch.randn_like(m) as it is drawn")
    return Text(f"the noise's tails are too thin: {seen}")


def diagnose_variance(m, v, z):
    """The cause of a wrong variance when every column's variance matches one mistake's prediction, else None."""
    d = z - m
    shared = sharing(d, v, m)
    if shared is not None:
        return shared
    if looks_uniform(d):
        return diagnose("sg_uniform", UNIFORM)
    ratio = d.var(0, ddof=1) / V_COLS                      # observed / expected variance, per column
    hypotheses = [
        ("sg_std_for_variance", V_COLS, "the variance of z is v ** 2, as from m + v * eps: v is already a "
                                        "variance, so scale eps by the standard deviation sqrt(v)"),
        ("sg_logvar", np.exp(V_COLS) / V_COLS, "the variance of z is exp(v), as from m + exp(v / 2) * eps: v is a "
                                               "variance, not a log-variance; scale eps by sqrt(v)"),
        ("sg_logvar", np.exp(2 * V_COLS) / V_COLS, "the variance of z is exp(2 v), as from m + exp(v) * eps: v is a "
                                                   "variance, not a log-variance; scale eps by sqrt(v)"),
        ("sg_unscaled", 1 / V_COLS, "the variance of z is 1 in every column, as from m + eps: scale eps by sqrt(v)"),
        ("sg_v_squared", V_COLS ** 3, "the variance of z is v ** 4, as from m + v ** 2 * eps: scale eps by sqrt(v)"),
        ("sg_fourth_root", V_COLS ** -0.5, "the variance of z is sqrt(v), as from m + v ** 0.25 * eps: scale eps "
                                           "by sqrt(v)"),
    ]
    k2 = float(np.exp(np.log(ratio).mean()))
    floor = float(d[:, 0].var(ddof=1))           # the column of the smallest v, 1e-4
    if 2 * V_COLS[0] < floor < V_COLS[1] / 2:     # wrong only where v is small: a floor on the variance
        hypotheses.append(("sg_var_floor", np.maximum(V_COLS, floor) / V_COLS, f"the variance of z is close to v in every "
                           f"column but the one where v = {fmt(V_COLS[0])}: there it is {fmt(floor)}, as when v is kept "
                           "from going below a floor (v.clamp(min=...) or v + a constant) before its square root; a "
                           "sample of N(m, v) has variance v however small v is"))
    common = float(np.exp(np.log(d.var(0, ddof=1)).mean()))       # one variance for every column, whatever its v
    if abs(common - 1) > 0.1:    # near 1 it is m + eps (sg_unscaled)
        hypotheses.append(("sg_scale_not_elementwise", common / V_COLS, f"the noise has the same variance "
                           f"{fmt(common)} in every column although v ranges from {fmt(V_COLS.min())} to "
                           f"{fmt(V_COLS.max())} between them: its scale does not follow each element's own v"))
    centered = abs(float((d / np.sqrt(V_COLS)).mean())) < 0.1 * math.sqrt(k2)   # a scaled eps keeps mean 0
    if abs(k2 - 1) > 0.1 and centered:
        hypotheses.append(("sg_scaled", np.full(N_COLS, k2), f"the noise is {fmt(math.sqrt(k2))} sqrt(v) eps in every "
                           f"column: scaled by a stray constant factor {fmt(math.sqrt(k2))}; the noise's variance must be v itself"))
    # variance ratios within 20% of a prediction in every column (a correct sampler's are within 5%)
    return identify(ratio, np.ones(N_COLS), hypotheses, lambda a, p: bool(np.all(np.abs(a / p - 1) < 0.2)))


def diagnose_mean(m, v, z):
    d = z - m
    shared = sharing(d, v, m)
    if shared is not None:
        return shared
    if looks_uniform(d) and d.min() >= 0:
        return diagnose("sg_uniform", UNIFORM)
    col_mean, se = d.mean(0), d.std(0, ddof=1) / math.sqrt(N_ROWS)
    missing = identify(col_mean, np.zeros(N_COLS), [("sg_mean_missing", -m[0], "z - m averages -m in every column: "
                       "z does not contain m; a sample of N(m, v) is m plus noise of mean zero")],
                       lambda a, p: bool(np.all(np.abs(a - p) < Z * se)))
    if missing is not None:
        return missing
    c = float(np.average(col_mean, weights=1 / se ** 2))
    if np.all(np.abs(col_mean - c) < Z * se) and abs(c) > Z * se.max():
        return diagnose("sg_offset", f"z - m averages {fmt(c)} in every column: a constant was added to the sample; "
                                     "a sample of N(m, v) is m plus noise of mean zero")
    return None


def mean_is_m(m, d):
    """(whether the noise d = z - m has mean 0, what was observed). Judged in units of the noise's OWN
    standard deviation, column by column, so that a wrong scale (the variance claim) cannot make a
    right mean look wrong: each column's mean / sd has sd 1 / sqrt(N_ROWS), their average 1 / sqrt(N)."""
    sd, col_mean = d.std(0, ddof=1), d.mean(0)
    if np.all(sd > 0):
        mean_u = float(np.mean(col_mean / sd))
        return abs(mean_u) < Z / math.sqrt(N), (
            f"(z - m) averages {fmt(mean_u)} of its own standard deviation (over the columns), expected 0 "
            f"(within {fmt(Z / math.sqrt(N))})")
    worst = float(np.abs(col_mean).max())    # some column carries no noise at all: its mean is judged exactly
    return worst <= 1e-6 * (1 + float(np.abs(m).max())), f"z - m averages up to {fmt(worst)} in a column, expected 0"
