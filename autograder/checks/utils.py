"""Checks of utils.sample_gaussian. Correct code may draw its noise any legitimate way, so the
distributional claims are statistical: each states the probability that a correct implementation
fails it (all below 1e-8, so below 1e-7 together) and the smallest error it is built to catch.

A cause is named only when the draws match what that mistake produces (its predicted variance in
every column, an exact repetition, values confined to [0, 1), ...). Statistics that a scale or
offset error also moves (fourth moment, correlations) are computed after removing each column's
own mean and standard deviation, so a scale or offset error cannot be reported as non-Gaussian or
dependent noise."""
import math

import numpy as np

from autograder.selfcheck.expect import CheckFailed, Claims, deferred, diagnose, fmt, identify, values
from autograder.selfcheck.public.common import backward_failed
from .sampler_draws import (CENTRED, N, N_COLS, N_ROWS, UNIFORM, Z, diagnose_mean, diagnose_variance, distinct_draws,
                            draws, looks_uniform, mean_is_m, pooled_variance, sharing, standardized, thin_tails,
                            variance_is_v)


def end(text):
    """text as a sentence (one final period)."""
    return text if str(text).endswith(".") else text + "."


def mean_and_variance(run):
    """z - m has mean 0 and variance v in every column.

    Standardized u = (z - m) / sqrt(v) of a correct sampler are iid N(0, 1) over N = 32,000 draws:
    |mean(u)| < 6 / sqrt(N) fails with probability 2e-9. The variance is measured around each
    column's own mean (so an offset is not also reported as a wrong variance): the pooled
    sum_c sum_r (d - mean_c)^2 / v_c / (N - 8) is chi-square(N - 8) / (N - 8), sd sqrt(2 / (N - 8)),
    and |it - 1| < 6 sqrt(2 / N) fails with probability ~2e-9 (normal approximation; the skew at
    N = 32,000 moves this by < 1e-9). Smallest error caught: a mean offset of 0.034 sqrt(v), a
    variance off by 4.7%."""
    m, v, z, _ = draws(run)
    d = z - m
    if np.ptp(z) == 0:   # a constant (zeros, say) is neither mean m nor variance v: not a sharing of draws
        raise CheckFailed(f"every element of z is {fmt(float(z.flat[0]))}: z does not follow m and carries no noise.")
    claims = Claims()
    draws_seen = distinct_draws(d / np.sqrt(v))
    if draws_seen is not None:
        # noise shared across elements (test 1.3 says so): mean and variance are judged on the draws that
        # were made, with the bounds their number allows, so the sharing is not charged again here
        n = draws_seen.size
        mean_u, var_u = float(draws_seen.mean()), float((draws_seen ** 2).mean())
        ok_mean, ok_var = abs(mean_u) < Z / math.sqrt(n), abs(var_u - 1) < Z * math.sqrt(2 / n)
        claims.claim("mean", 1, ok_mean, f"the mean of z should be m: over the {n} distinct noise draws, "
                     f"(z - m) / sqrt(v) averages {fmt(mean_u)}, expected 0 (within {fmt(Z / math.sqrt(n))}).")
        claims.claim("variance", 2, ok_var, f"the variance of z should be v: over the {n} distinct noise draws, "
                     f"((z - m) / sqrt(v))^2 averages {fmt(var_u)}, expected 1 (within {fmt(Z * math.sqrt(2 / n))}).")
        return claims.outcome()
    ok_mean, observed = mean_is_m(m, d)
    why = None if ok_mean else diagnose_mean(m, v, z)
    claims.claim("mean", 1, ok_mean, "" if ok_mean else (
        f"the mean of z should be m: {observed}" + ((": " + why) if why else "") + "."))
    var_u = pooled_variance(d)
    ok_var = variance_is_v(d)
    why = None if ok_var else diagnose_variance(m, v, z)
    claims.claim("variance", 2, ok_var, "" if ok_var else (
        f"the variance of z should be v: observed / expected variance is {fmt(var_u)} on average, expected 1"
        + ((": " + why) if why else "") + "."))
    return claims.outcome()


def gaussian_and_independent(run):
    """Gaussian noise, independent across elements and across calls, repeatable under manual_seed.

    Every statistic is computed on w, each column of z - m minus its own mean over its own standard
    deviation, so that an offset or a scale error (test 1.2) moves none of them. For a correct
    sampler: the fourth moment mean(w^4) (a sample kurtosis) has sd sqrt(24 / N) = 0.027; the bound
    6 sqrt(96 / N) = 0.33 is 12 sd -> false failure < 1e-12; it catches uniform noise (1.8) and any
    kurtosis off by 0.33. Too few draws beyond |u| = 3 (fewer than 37 of the N, where 86.4 are expected:
    probability 6.9e-10, sampler_draws.TAIL_MIN) fails the same claim: eps clamped to [-3, 3] keeps its
    variance (0.995) and fourth moment (2.9) but loses its tails; judged where 1.2's mean and variance hold.
    The noise's mean over the whole tensor, in units of 1 / sqrt(N), is below 1e-4
    in both calls with probability 6.4e-9 (it catches eps re-centred on its own sample mean). Correlations between neighbouring rows, between neighbouring columns, and
    between two consecutive calls have sd 1 / sqrt(N'), bound 6 / sqrt(N') (0.034 for calls, 0.036
    for rows and columns) -> each false failure ~2e-9; they catch noise shared across the batch,
    a row, or reused between calls. Re-seeding must reproduce z exactly (a deterministic property:
    no false failures)."""
    m, v, z, out = draws(run)
    z_next = values(out["z_next"], "z from a second call", m.shape)
    d, d_next = z - m, z_next - m
    w, w_next = standardized(d), standardized(d_next)
    shared = sharing(d, v, m)
    claims = Claims()
    if w is None:     # a column without any variation: nothing Gaussian or independent about it
        message = end(shared) if shared is not None else "some column of z - m is constant: the noise does not vary."
        for weight in (2, 2, 1, 2, 2):
            claims.fail(weight, message)
    else:
        fourth = float((w ** 4).mean())
        ok = abs(fourth - 3) < Z * math.sqrt(96 / N)
        tails = thin_tails(m, v, z) if ok else None     # one claim: a wrong fourth moment is said first
        claims.claim("gaussian", 2, ok and tails is None, end(tails) if tails is not None else "" if ok else (
                     end(diagnose("sg_uniform", UNIFORM)) if looks_uniform(d) else
                     f"the noise is not Gaussian: its standardized fourth moment is {fmt(fourth)}, expected 3 "
                     f"(within {fmt(Z * math.sqrt(96 / N))})."))
        bound = Z / math.sqrt(N_ROWS * (N_COLS - 1))
        corr = lambda a, b: float(np.mean(a * b) / math.sqrt(np.mean(a * a) * np.mean(b * b)))
        rows, cols = corr(w[1:], w[:-1]), corr(w[:, 1:], w[:, :-1])
        claims.claim("rows independent", 2, abs(rows) < bound, "" if abs(rows) < bound else (
            end(shared) if shared else f"neighbouring rows of z are correlated ({fmt(rows)}, expected 0 within {fmt(bound)}): the "
                      "noise of different batch elements must be independent."))
        claims.claim("columns independent", 1, abs(cols) < bound, "" if abs(cols) < bound else (
            end(shared) if shared else f"neighbouring elements of a row of z are correlated ({fmt(cols)}, expected 0 within "
                      f"{fmt(bound)}): draw eps with the full shape of m"))
        # independent draws average exactly 0 over the whole tensor only by chance: re-centring eps on
        # its own sample mean (e.g. standardizing it) ties every element to the others
        centred = [abs(float((dn / np.sqrt(v)).mean())) * math.sqrt(N) for dn in (d, d_next)]
        recentred = all(c < CENTRED for c in centred)
        claims.claim("not re-centred", 2, not recentred, "" if not recentred else diagnose(
            "sg_recentred", f"in each of two calls the noise (z - m) / sqrt(v) averages exactly 0 over the whole "
            f"tensor ({fmt(centred[0] / math.sqrt(N))} and {fmt(centred[1] / math.sqrt(N))}; independent N(0, 1) "
            f"draws average about +-{fmt(1 / math.sqrt(N))} by chance), as when eps is shifted by its own sample mean "
            "(standardized over the tensor, for instance): that makes its elements dependent. Use the noise of "
            "torch.randn_like(m) as it is drawn."))
        if w_next is None:
            claims.fail(2, "the second call's noise does not vary down a column.")
        else:
            calls = corr(w, w_next)
            same = np.array_equal(z, z_next)
            ok = abs(calls) < Z / math.sqrt(N)
            claims.claim("calls independent", 2, ok, "" if ok else diagnose("sg_same_each_call", "two consecutive calls return exactly "
                         "the same z: do not call torch.manual_seed, create a seeded torch.Generator or cache eps "
                         "inside sample_gaussian; draw fresh noise from the default generator on every call.") if same
                         else f"two consecutive calls return correlated noise (correlation {fmt(calls)}, expected 0 "
                              f"within {fmt(Z / math.sqrt(N))}).")
    unearned = deferred("repeatability under torch.manual_seed and the draw under torch.no_grad() earn their points "
                        "once the noise varies.")
    # a row equal to m in all 8 columns: for a correct sampler each element is m exactly with probability below
    # 1e-6 (its noise under half an ulp of m), all 8 below 1e-48, any of the 4,000 rows below 1e-44
    bare = np.flatnonzero(np.all(z == m, axis=1)) if w is not None else []
    claims.form("every row drawn", 1, not len(bare), diagnose("sg_row_without_noise", f"z equals m exactly, in every "
                f"element, in {len(bare)} of its {N_ROWS} rows (row {bare[0] if len(bare) else 0} first): every row of "
                "the batch needs its own noise."), w is not None, unearned)
    z_no_grad = values(out["z_no_grad"], "z under torch.no_grad()", m.shape)   # the same kind of inputs
    claims.form("noise under no_grad", 1, not np.array_equal(z_no_grad, m), diagnose(
        "sg_no_noise_without_grad", "under torch.no_grad() sample_gaussian returns m itself (no noise), while with "
        "gradients on it draws noise (from the same inputs): z ~ N(m, diag(v)) in either mode (the VAE samples and "
        "evaluates under torch.no_grad())."), w is not None, unearned)
    reseeded = values(out["z_reseeded"], "z after torch.manual_seed", m.shape)
    # a constant (zeros, m itself) repeats trivially: repeatability earns points only for noise that varies
    claims.form("repeatable", 1, np.array_equal(reseeded, z), diagnose(
        "sg_not_repeatable", "z is not repeatable: after torch.manual_seed with the same seed it changed. The noise "
        "must come from torch's default generator as the caller seeded it: numpy's or Python's random do not follow "
        "torch.manual_seed, and a reseed inside the function (torch.seed(), torch.manual_seed) replaces the caller's "
        "seed."), w is not None, unearned)
    return claims.outcome()


def reparameterization_gradient(run):
    """dz/dm = 1 and dz/dv = eps / (2 sqrt(v)) = (z - m) / (2 v); deterministic, no false failures.
    A wrong dz/dv is explained only when it equals what the scale s(v) of one mistake gives for the
    same draws (dz/dv = s'(v) / s(v) * (z - m))."""
    m, v, z, out = draws(run)
    if out.get("grad_error"):   # one rule for every backward through a returned result (public/common.py)
        raise CheckFailed("sample_gaussian " + backward_failed(out["grad_error"]) + "; z's values are judged by tests "
                          "1.1-1.3.")
    nothing = lambda g: g is None or not np.any(g)
    if nothing(out["grad_m"]) and nothing(out["grad_v"]):
        raise CheckFailed(diagnose("sg_no_gradient", "z carries no gradient to m or v: it is not a reparameterized "
                                   "sample. Shift and scale independent standard normal noise by m and v with "
                                   "differentiable operations (no .detach(), no torch.normal(m, std), no .sample(), "
                                   "no numpy)."))
    claims = Claims()
    gm = out["grad_m"]
    m_ok = gm is not None and np.allclose(gm, 1.0, rtol=1e-4, atol=1e-5)
    claims.claim("dz/dm", 1, m_ok, "dz/dm should be 1 for every element (z = m + noise): "
                 + ((diagnose("sg_no_gradient_m", "no gradient reached m: build z from m with differentiable operations.")
                     if mean_is_m(m, z - m)[0] else "no gradient reached m, and z does not have mean m (test 1.2).")
                    if nothing(gm) else f"observed {spread(gm)}" + clipped(gm, z) + "."))
    gv = out["grad_v"]
    # dz/dv is eps / (2 sqrt(v)) for the submission's OWN noise sqrt(v) eps. That noise is z - m, unless
    # m is missing from z or scaled (then dz/dm, test 1.4's other claim, is not 1): for z = a m + s(v) eps
    # it is z - a m, with a the observed dz/dm. Either reading that fits makes dz/dv right.
    a = np.zeros_like(z) if gm is None else np.asarray(gm, np.float64)
    noises = [z - m] + ([] if m_ok else [z - a * m])
    # the judge's (z - m) / (2 v) carries z's float32 rounding divided by 2 v: at v = 1e-4 that is up to 6e-4
    rounding = np.spacing(np.abs(z).astype(np.float32)).astype(np.float64) / (2 * v)
    match = lambda g, p: bool(np.all(np.abs(g - p) <= 1e-4 + rounding + 1e-3 * np.abs(p)))
    ok = gv is not None and any(match(gv, d / (2 * v)) for d in noises)
    d = noises[-1]
    expected = d / (2 * v)
    why = None
    scaled_by_sqrt_v = abs(float(np.mean(d ** 2 / v)) - 1) < 0.1   # its variance is v (N = 32,000: sd 0.008)
    if gv is not None and not ok:
        why = identify(gv, expected, [
            ("sg_std_for_variance", d / v, "dz/dv = (z - m) / v, as for z = m + v * eps: scale eps by sqrt(v)"),
            ("sg_logvar", d / 2, "dz/dv = (z - m) / 2, as for z = m + exp(v / 2) * eps: v is a variance"),
            ("sg_logvar", d, "dz/dv = z - m, as for z = m + exp(v) * eps: v is a variance"),
            ("sg_v_squared", 2 * d / v, "dz/dv = 2 (z - m) / v, as for z = m + v ** 2 * eps"),
            ("sg_fourth_root", d / (4 * v), "dz/dv = (z - m) / (4 v), as for z = m + v ** 0.25 * eps"),
            ("sg_inverse_sqrt", -d / (2 * v), "dz/dv = -(z - m) / (2 v), as for z = m + eps / sqrt(v): the noise is "
                                              "divided by the standard deviation, not multiplied"),
        ] + ([] if scaled_by_sqrt_v else [   # a noise of variance v whose scale sends no gradient is not unscaled
            ("sg_unscaled", np.zeros_like(d), "dz/dv = 0, as for z = m + eps: the noise must be scaled by sqrt(v)")])
            if m_ok else [], match)    # the hypotheses are of the form m + s(v) * eps
    formula = "(z - m) / (2 v)" if m_ok else "(the noise in z) / (2 v)"
    claims.claim("dz/dv", 1, ok, f"dz/dv should be eps / (2 sqrt(v)) = {formula}: " + (
        "no gradient reached v." if gv is None else end(why) if why else observed_ratio(
            gv, expected, v, rounding, of=f"your z's {formula}")))
    return claims.outcome()


def clipped(gm, z):
    """': <cause>' when dz/dm is 0 exactly where |z| is at its largest value c and 1 elsewhere (z clamped to [-c, c])."""
    gm, c = np.asarray(gm, np.float64), float(np.abs(z).max())
    at_bound = np.abs(z) == c
    if not (np.all(gm[at_bound] == 0) and np.allclose(gm[~at_bound], 1.0, rtol=1e-4, atol=1e-5)) or at_bound.all():
        return ""
    return ": " + diagnose("sg_z_clamped", f"dz/dm is 0 exactly where |z| reaches its largest value, {fmt(c)} ({int(at_bound.sum())} "
                           f"of {z.size} elements), and 1 elsewhere: z is clipped to [-{fmt(c)}, {fmt(c)}], which cuts the "
                           "Gaussian's tails; a sample of N(m, v) is not bounded")


def spread(g):
    """'<value> for every element', or '<min> to <max> (median <median>)': a median alone can look right."""
    lo, hi = float(np.min(g)) + 0.0, float(np.max(g)) + 0.0
    if np.isclose(lo, hi, rtol=1e-4, atol=1e-5):
        return f"{fmt(float(np.median(g)))} for every element"
    return f"{fmt(lo)} to {fmt(hi)} (median {fmt(float(np.median(g)))})"


def observed_ratio(got, expected, v, rounding=0.0, of="that"):
    """How dz/dv compares with the right one: one factor only when the ratio is one (a factor that changes with v
    is the clue to a wrong function of v, not a constant slip). Elements where `expected` is within 100 times its
    own rounding of 0 say nothing about the ratio and are left out."""
    with np.errstate(all="ignore"):
        ratio = np.asarray(got, np.float64) / np.where(expected == 0, np.nan, expected)
    v = np.broadcast_to(v, ratio.shape)
    kept = np.isfinite(ratio) & (np.abs(expected) > 100 * np.asarray(rounding))
    if not kept.any():
        return "observed values that are not a multiple of it."
    ratio, v = ratio[kept], v[kept]
    lo, hi = float(ratio.min()) + 0.0, float(ratio.max()) + 0.0     # + 0.0: no "-0"
    # z - m is formed in float32: a constant factor shows a spread of a few 1e-3 (rsqrt for sqrt: -1.00014 to -0.9967)
    if np.isclose(lo, hi, rtol=1e-2, atol=1e-6):
        r = float(np.median(ratio))
        if abs(r) < 1e-3:      # no gradient through the scale: a detached sqrt(v) gives it as well as v ** 0
            return f"observed {fmt(r)} times {of}."
        # a ratio r that is the same for every v is what a noise scale of v ** (r / 2) gives (d/dv log s = r / (2 v))
        return (f"observed {fmt(r)} times {of} for every element and every v: a ratio r that is the same for every "
                f"v is what a noise scale of v ** (r / 2) gives, here about v ** {r / 2:.2g} (the standard deviation is "
                "v ** 0.5).")
    per_v = [ratio[v == value] for value in np.unique(v)]
    if all(np.isclose(r.min(), r.max(), rtol=1e-2, atol=1e-6) for r in per_v):
        return f"observed {fmt(lo)} to {fmt(hi)} times {of}, a factor that varies with v (not one constant factor)."
    return f"observed {fmt(lo)} to {fmt(hi)} times {of}, varying from element to element."
