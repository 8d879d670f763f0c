"""The public checks: shipped to students in the handout's selfcheck/ and run by the grader too, with
the same messages. They use no hidden inputs (their inputs are in this file) and no golden files."""
import numpy as np

from . import numeric
from .expect import Claims, fmt, near, values

LOSSES = ("discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating")
TOL = {"float32": dict(rtol=2e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-12)}


def sample_gaussian_shapes(run):
    """Shape and dtype of m kept (float32 and float64); m and v not modified. Deterministic."""
    claims = Claims()
    for dtype in ("float32", "float64"):
        g = np.random.default_rng(["float32", "float64"].index(dtype))
        for shape in ((5, 3), (2, 3, 4)):
            m = g.normal(size=shape).astype(dtype)
            v = g.uniform(0.1, 2.0, size=shape).astype(dtype)
            out = run("sample_gaussian", m=m, v=v, seed=7, gradient=False)
            claims.claim(1, out["shape"] == list(shape), f"z should have the shape of m {shape}, got {tuple(out['shape'])}.")
            claims.claim(1, out["dtype"] == dtype, f"z should keep m's dtype {dtype}, got {out['dtype']}.")
            claims.claim(1, np.array_equal(out["m_after"], m) and np.array_equal(out["v_after"], v),
                         "sample_gaussian modified its inputs m or v in place (m.add_, v.sqrt_, +=, ...): "
                         "compute a new tensor instead.")
    return claims.outcome()


def expected_losses(real, fake):
    """(value, d/dreal, d/dfake) of each loss, in float64 numpy."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    nr, nf = real.size, fake.size
    return {
        "discriminator_loss": (-numeric.logsigmoid(real).mean() - numeric.logsigmoid(-fake).mean(),
                               -(1 - numeric.sigmoid(real)) / nr, numeric.sigmoid(fake) / nf),
        "generator_loss_minimax": (numeric.logsigmoid(-fake).mean(), np.zeros_like(real), -numeric.sigmoid(fake) / nf),
        "generator_loss_nonsaturating": (-numeric.logsigmoid(fake).mean(), np.zeros_like(real),
                                         -(1 - numeric.sigmoid(fake)) / nf),
    }


def diagnose(name, observed, expected, real, fake):
    value = expected[0]
    if near(observed, value * (real.size if name == "discriminator_loss" and real.size == fake.size else fake.size), 1e-4):
        return "it looks like a sum: average over all elements (.mean())"
    if near(observed, -value, 1e-4):
        return "the sign is flipped"
    r, f = real.astype(np.float64), fake.astype(np.float64)
    if name == "discriminator_loss" and near(observed, -numeric.logsigmoid(f).mean() - numeric.logsigmoid(-r).mean(), 1e-4):
        return "real and fake are swapped: real logits should be pushed up, fake ones down"
    if name == "generator_loss_minimax" and near(observed, -numeric.logsigmoid(f).mean(), 1e-4):
        return "this is the non-saturating loss; the minimax one is mean log(1 - D(G(z))) = mean logsigmoid(-h)"
    if name == "generator_loss_nonsaturating" and near(observed, numeric.logsigmoid(-f).mean(), 1e-4):
        return "this is the minimax loss; the non-saturating one is -mean log D(G(z)) = -mean logsigmoid(h)"
    if near(observed, -numeric.logsigmoid(1 - f).mean(), 1e-4) or near(observed, numeric.logsigmoid(1 - f).mean(), 1e-4) or (
            name == "discriminator_loss" and near(observed, -numeric.logsigmoid(r).mean() - numeric.logsigmoid(1 - f).mean(), 1e-4)):
        return "log(1 - D(x)) is logsigmoid(-h), not logsigmoid(1 - h)"
    if near(observed, value / 2, 1e-4):
        return "it is half the expected value: drop the factor 1/2 (the discriminator loss is the sum of the two means)"
    if name == "generator_loss_nonsaturating" and near(observed, -numeric.logsigmoid(-f).mean(), 1e-4):
        return ("with binary_cross_entropy_with_logits the generator's targets are ones (it wants its fakes called "
                "real), not zeros")
    return "check the formula in the docstring"


def compare(run, real, fake, claims, label, weight=1.0):
    out = run("gan_losses", real=real, fake=fake)
    expected = expected_losses(real, fake)
    for name in LOSSES:
        if out[name] is None:
            claims.claim(weight, False, f"{name} raised {out[name + '_error']}")
            continue
        value = values(out[name], name)
        if value.size != 1:
            claims.claim(weight, False, f"{name} should return a 0-dim tensor, got shape {value.shape}: average "
                                        "over all elements.")
            continue
        v, e = float(value.reshape(())), expected[name][0]
        ok = np.isfinite(v) and near(v, e, 1e-4)
        why = ("it is not finite: with logits this large, log(sigmoid(h)) and log(1 - sigmoid(h)) overflow; use "
               "F.logsigmoid(h) and F.logsigmoid(-h) (or softplus)" if not np.isfinite(v)
               else diagnose(name, v, expected[name], real, fake))
        claims.claim(weight, ok, f"{name} {label}: got {fmt(v)}, expected {fmt(e)}; {why}.")
        for side, index in (("real", 1), ("fake", 2)):
            grad = out[f"{name}_grad_{side}"]
            exp_grad = expected[name][index]
            if not np.any(exp_grad) and grad is None:
                continue
            ok = grad is not None and np.allclose(grad, exp_grad, rtol=1e-3, atol=1e-7)
            claims.claim(weight / 2, ok, f"the gradient of {name} w.r.t. the {side} logits {label} is "
                         + ("missing (is the loss built from differentiable torch operations?)" if grad is None
                            else "wrong: each element of an averaged loss gets 1/N of the gradient; check the "
                                 "sign and the mean"))


def gan_large_logits(run):
    """Finite and accurate at |h| = 1e4 (the stable formulations): deterministic."""
    claims = Claims()
    for real, fake in ((np.array([1e4, -1e4, 30.0], np.float32), np.array([-1e4, 1e4, -30.0], np.float32)),
                       (np.array([1e4, 2e3], np.float32), np.array([1e4, -1e4], np.float32))):
        compare(run, real, fake, claims, "at |logits| up to 1e4")
    return claims.outcome()


def diffusion_edges_and_dtypes(run):
    """t = 1 (mean x0, variance 0, no NaN/inf), t = T, and float32/float64 kept by all three functions."""
    claims = Claims()
    for dtype in ("float32", "float64"):
        betas = np.linspace(1e-4, 0.02, 10).astype(dtype)
        g = np.random.default_rng(["float32", "float64"].index(dtype))
        x0, xt = g.normal(size=(4, 3)).astype(dtype), g.normal(size=(4, 3)).astype(dtype)
        out = run("diffusion", betas=betas, x0=x0, xt=xt, t=1)
        post = out["q_posterior"]
        if post is None:
            claims.claim(3, False, f"q_posterior at t = 1 raised {out['q_posterior_error']}: at t = 1, "
                                   "alpha_bar_0 = 1 (do not index alpha_bars at -1).")
        else:
            mean, var = (np.asarray(p, np.float64) for p in post)
            finite = np.all(np.isfinite(mean)) and np.all(np.isfinite(var))
            claims.claim(2, finite, "q_posterior at t = 1 returns NaN or inf: use alpha_bar_0 = 1 there "
                                    "(alpha_bars(betas)[t - 2] wraps around to the last element when t = 1).")
            claims.claim(1, finite and np.allclose(mean, x0, **TOL[dtype]) and np.allclose(var, 0, atol=TOL[dtype]["atol"]),
                         "q_posterior at t = 1 should have mean x0 and variance 0 (alpha_bar_0 = 1).")
        for name in ("alpha_bars", "q_xt_given_x0", "q_posterior"):
            kept = out[name + "_dtype"] is not None and all(d == dtype for d in out[name + "_dtype"])
            claims.claim(0.5, kept, f"{name} should keep the input dtype {dtype}, got {out[name + '_dtype']}.")
        out_T = run("diffusion", betas=betas, x0=x0, xt=xt, t=len(betas))
        ok_T = out_T["q_posterior"] is not None and all(np.all(np.isfinite(np.asarray(p, np.float64))) for p in out_T["q_posterior"])
        claims.claim(1, ok_T, "q_posterior at t = T fails or returns NaN/inf.")
    return claims.outcome()
