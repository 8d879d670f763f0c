"""Checks of utils.sample_gaussian. Correct code may draw its noise any legitimate way, so the
distributional claims are statistical: each states the probability that a correct implementation
fails it (all below 1e-7, so below 1e-6 together) and the smallest error it is built to catch."""
import math

import numpy as np

from autograder.selfcheck.expect import CheckFailed, Claims, fmt, values
from .inputs import rng

N_ROWS, N_COLS = 4000, 8          # 32,000 draws per call
N = N_ROWS * N_COLS
Z = 6.0                           # a 6-sigma bound: two-sided normal tail 2.0e-9


def mean_variance_inputs(dtype="float32"):
    """Each column has its own mean and a variance well away from 1 (so v, v^2, sqrt(v) and exp(v) differ)."""
    g = rng("sample_gaussian", "moments")
    m = np.repeat(g.uniform(-3, 3, (1, N_COLS)), N_ROWS, 0).astype(dtype)
    v_cols = np.array([0.04, 0.09, 0.25, 0.36, 2.25, 4.0, 6.25, 9.0])
    v = np.repeat(v_cols[None], N_ROWS, 0).astype(dtype)
    return m, v


def draws(run, dtype="float32"):
    m, v = mean_variance_inputs(dtype)
    out = run("sample_gaussian", m=m, v=v, seed=1234, gradient=True)
    z = values(out["z"], "z", m.shape)
    return m.astype(np.float64), v.astype(np.float64), z, out


def diagnose_variance(m, v, z):
    """Name the likely mistake from the per-column variance of z around m."""
    observed = ((z - m) ** 2).mean(0)
    v_cols = v[0]
    candidates = {
        "the standard deviation sqrt(v) where the variance belongs (did you write m + v * eps? "
        "v is already a variance: scale eps by sqrt(v))": v_cols ** 2,
        "v as a log-variance (exp(v) or exp(v / 2)); v is a variance: scale eps by sqrt(v)": np.exp(v_cols),
        "unscaled noise (m + eps): multiply eps by sqrt(v)": np.ones_like(v_cols),
        "noise scaled by sqrt(v) / 2 (a stray factor 1/2?): the noise must be sqrt(v) * eps with eps ~ N(0, 1)": v_cols / 4,
        "sqrt(v) as the variance (eps * v ** 0.25?)": np.sqrt(v_cols),
    }
    for mistake, variance in candidates.items():
        if np.all(np.abs(observed / variance - 1) < 0.2):
            return f"your samples have the variance of {mistake}"
    return "scale standard normal noise by the standard deviation sqrt(v) (not by v, v ** 2 or exp(v))"


def mean_and_variance(run):
    """z - m has mean 0 and variance v in every column.

    Standardized u = (z - m) / sqrt(v) of a correct sampler are iid N(0, 1) over N = 32,000 draws:
    |mean(u)| < 6 / sqrt(N) and |mean(u^2) - 1| < 6 sqrt(2 / N) each fail with probability ~2e-9
    (normal approximation; the chi-square's skew at N = 32,000 moves this by < 1e-9). Smallest error
    caught: a mean offset of 0.034 sqrt(v), a variance off by 4.7%."""
    m, v, z, _ = draws(run)
    u = (z - m) / np.sqrt(v)
    claims = Claims()
    if not np.all(np.isfinite(z)):
        raise CheckFailed("z contains NaN or inf for finite m and positive v")
    mean_u, var_u = u.mean(), (u ** 2).mean()
    claims.claim(1, abs(mean_u) < Z / math.sqrt(N),
                 f"the mean of z should be m: (z - m) / sqrt(v) averages {fmt(mean_u)}, expected 0 "
                 f"(within {fmt(Z / math.sqrt(N))}). Add zero-mean noise to m (torch.randn_like, not torch.rand_like).")
    claims.claim(2, abs(var_u - 1) < Z * math.sqrt(2 / N),
                 f"the variance of z should be v: observed/expected variance is {fmt(var_u)}, expected 1. "
                 + diagnose_variance(m, v, z) + ".")
    return claims.outcome()


def gaussian_and_independent(run):
    """Gaussian noise, independent across elements and across calls, repeatable under manual_seed.

    For iid N(0, 1) u: the fourth moment mean(u^4) has sd sqrt(96 / N) = 0.055, bound 6 sd ->
    false failure ~2e-9, catches uniform noise (1.8). Correlations between neighbouring rows, between
    neighbouring columns, and between two consecutive calls have sd 1 / sqrt(N), bound 6 / sqrt(N) =
    0.034 -> each false failure ~2e-9; they catch noise shared across the batch or reused between calls.
    Re-seeding must reproduce z exactly (a deterministic property: no false failures)."""
    m, v, z, out = draws(run)
    u = (z - m) / np.sqrt(v)
    u_next = (values(out["z_next"], "z from a second call", m.shape) - m) / np.sqrt(v)
    claims = Claims()
    fourth = (u ** 4).mean()
    claims.claim(2, abs(fourth - 3) < Z * math.sqrt(96 / N),
                 f"the noise is not Gaussian: its standardized fourth moment is {fmt(fourth)}, expected 3 "
                 "(uniform noise gives 1.8). Draw eps with torch.randn_like(m).")
    bound = Z / math.sqrt(N_ROWS * (N_COLS - 1))
    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1]) if a.std() > 0 and b.std() > 0 else 1.0
    claims.claim(2, abs(corr(u[1:], u[:-1])) < bound,
                 "the noise is shared across the batch: neighbouring rows of z are correlated "
                 f"({fmt(corr(u[1:], u[:-1]))}). Draw one independent eps per element, with the full shape of m.")
    claims.claim(1, abs(corr(u[:, 1:], u[:, :-1])) < bound,
                 "the noise is shared across elements of a row: draw eps with the full shape of m.")
    claims.claim(2, abs(corr(u, u_next)) < Z / math.sqrt(N),
                 f"two consecutive calls return correlated noise (correlation {fmt(corr(u, u_next))}; 1 means the same "
                 "noise): do not call torch.manual_seed, create a torch.Generator or cache eps inside sample_gaussian; "
                 "draw fresh noise from the default generator on every call.")
    reseeded = values(out["z_reseeded"], "z after torch.manual_seed", m.shape)
    claims.claim(1, np.array_equal(reseeded, z),
                 "z is not repeatable: after torch.manual_seed with the same seed it changed. Draw the noise from "
                 "torch's default generator (torch.randn_like), not numpy or Python's random.")
    return claims.outcome()


def reparameterization_gradient(run):
    """dz/dm = 1 and dz/dv = eps / (2 sqrt(v)) = (z - m) / (2 v); deterministic, no false failures."""
    m, v, z, out = draws(run)
    if out["grad_m"] is None and out["grad_v"] is None:
        raise CheckFailed("z carries no gradient to m or v: it is not a reparameterized sample (the "
                          "reparameterization trick). Build it as "
                          "m + sqrt(v) * eps from differentiable operations (no .detach(), no torch.normal(m, std), "
                          "no numpy).")
    claims = Claims()
    gm = out["grad_m"]
    claims.claim(1, gm is not None and np.allclose(gm, 1.0, rtol=1e-4, atol=1e-5),
                 "dz/dm should be 1 for every element (z = m + noise, the reparameterization trick): "
                 + ("no gradient reached m." if gm is None else f"observed a median of {fmt(float(np.median(gm)))}."))
    gv = out["grad_v"]
    expected = (z - m) / (2 * v)
    ok = gv is not None and np.allclose(gv, expected, rtol=1e-3, atol=1e-4)
    hint = "no gradient reached v." if gv is None else (
        "it looks like v is used as a standard deviation (dz/dv = eps)." if np.allclose(gv, (z - m) / np.sqrt(v), rtol=1e-3, atol=1e-4)
        else "make the noise term sqrt(v) * eps with eps drawn independently of v.")
    claims.claim(1, ok, "dz/dv should be eps / (2 sqrt(v)) = (z - m) / (2 v): " + hint)
    return claims.outcome()


