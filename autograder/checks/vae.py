"""Checks of VAE.negative_elbo_bound. The sample z goes through a sampler the judge controls
(m + sqrt(v) * eps for an eps it chose), so every value is deterministic and the checks have no
false failures; a wrong sample_gaussian in utils.py cannot cost points here."""
import numpy as np
from hypothesis import given, strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, fmt, near, scalar
from autograder.selfcheck import numeric
from .inputs import golden, hypothesis_settings, rng, vae_state

HYPOTHESIS = hypothesis_settings(max_examples=12)


def bound(run, state, x, eps, z_dim, gradients=True):
    out = run("vae_bound", state=state, z_dim=z_dim, x=x, eps=eps, gradients=gradients)
    if out["sampler_calls"] == 0:
        raise CheckFailed("negative_elbo_bound never called ut.sample_gaussian: draw z with "
                          "ut.sample_gaussian(m, v) (one sample per data point).")
    return out, [scalar(out[k], k) for k in ("nelbo", "kl", "rec")]


def diagnose(observed, expected, batch, state=None, x=None):
    """Name the pattern relating an observed (nelbo, kl, rec) to the expected one."""
    (_, k, r), (_, ek, er) = observed, expected
    if state is not None:
        m, v = numeric.vae_encode(state, x.astype(np.float64))
        as_logvar = 0.5 * (-v + np.exp(v) + m ** 2 - 1).sum(-1).mean()
        as_std = numeric.kl_to_standard_normal(m, v ** 2).mean()
        if near(k, as_logvar, 1e-4) or near(k, as_std, 1e-4):
            return ("the KL treats v as a " + ("log-variance" if near(k, as_logvar, 1e-4) else "standard deviation")
                    + ": the encoder's v is a variance; use ut.kl_normal(m, v, prior_m, prior_v)")
    if near(k, ek * batch, 1e-3) or near(r, er * batch, 1e-3):
        return "you summed over the batch where the API asks for the batch mean"
    if near(k, er, 1e-3) and near(r, ek, 1e-3):
        return "kl and rec are swapped: return (nelbo, kl, rec) in that order"
    if near(k, -ek, 1e-3):
        return "the KL has the wrong sign"
    if near(r, -er, 1e-3):
        return "the reconstruction has the wrong sign: rec = -log p(x|z), a positive number"
    if not near(k, ek, 1e-3) and near(r, er, 1e-3):
        return ("the KL is wrong: it should be ut.kl_normal(m, v, prior_m, prior_v) (q against the prior, "
                "not reversed), summed over latent dims and averaged over the batch")
    if near(k, ek, 1e-3) and not near(r, er, 1e-3):
        return ("the reconstruction is wrong: decode the sample z from ut.sample_gaussian(m, v) (pass the variance "
                "v, not the standard deviation) and use "
                "-ut.log_bernoulli_with_logits(x, logits), averaged over the batch (not the mean m, not sigmoid)")
    return "compare each term with the formulas in the docstring"


def fixed_values(run):
    """kl, rec and nelbo on hidden inputs equal the trusted numpy computation (rtol 1e-4)."""
    case = golden("vae_bound")["inputs"]
    state, x, eps, z_dim = case["state"], case["x"], case["eps"], int(case["z_dim"])
    out, observed = bound(run, state, x, eps, z_dim)
    expected = numeric.vae_bound(state, x.astype(np.float64), eps.astype(np.float64))
    claims = Claims()
    names = ("nelbo", "kl", "rec")
    for name, o, e, w in zip(names, observed, expected, (1, 2, 2)):
        claims.claim(w, near(o, e, 1e-4), f"{name} is {fmt(o)} on a hidden batch, expected {fmt(e)}: "
                     + diagnose(observed, expected, len(x), state, x) + ".")
    claims.claim(1, out["sampler_calls"] == 1, f"ut.sample_gaussian was called {out['sampler_calls']} times: the bound "
                 "uses ONE sample z ~ q(z|x) per data point (one call with the encoder's (m, v)).")
    claims.claim(1, near(observed[0], observed[1] + observed[2], 1e-5),
                 "nelbo should equal kl + rec.")
    return claims.outcome()


def batch_means_and_properties(run):
    """On generated batches and latent sizes: 0-dim outputs, batch means (not sums), nelbo = kl + rec."""
    failures = []

    @HYPOTHESIS
    @given(batch=st.integers(1, 9), z_dim=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
    def prop(batch, z_dim, seed):
        g = rng("vae", "property", seed)
        state = vae_state(g, z_dim, hidden=300)
        x = (g.random((batch, 784)) < 0.3).astype(np.float32)
        eps = g.normal(size=(batch, z_dim)).astype(np.float32)
        out, observed = bound(run, state, x, eps, z_dim, gradients=False)
        expected = numeric.vae_bound(state, x.astype(np.float64), eps.astype(np.float64))
        if not all(near(o, e, 1e-4) for o, e in zip(observed, expected)):
            failures.append(f"with a batch of {batch} and z_dim {z_dim}: (nelbo, kl, rec) = "
                            f"({', '.join(map(fmt, observed))}), expected ({', '.join(map(fmt, expected))}); "
                            + diagnose(observed, expected, batch, state, x) + ".")
            raise AssertionError

    try:
        prop()
    except AssertionError:
        raise CheckFailed(failures[-1]) from None
    return None


def gradients(run):
    """The gradient of nelbo w.r.t. every encoder and decoder weight equals the reference's (golden),
    and the reconstruction's gradient reaches the encoder through the sample z."""
    case = golden("vae_bound")
    inputs, expected = case["inputs"], case["expected"]
    out, _ = bound(run, inputs["state"], inputs["x"], inputs["eps"], int(inputs["z_dim"]))
    claims = Claims()
    grads = out["nelbo_grad"]
    if grads is None:
        raise CheckFailed("nelbo is not differentiable: no gradient reaches the model's parameters "
                          "(did you call .item(), .detach() or use numpy?).")
    enc_rec = out["rec_grad"] and [g for n, g in out["rec_grad"].items() if n.startswith("enc.") and g is not None]
    claims.claim(3, bool(enc_rec) and any(np.abs(g).sum() > 0 for g in enc_rec),
                 "no gradient of the reconstruction term reaches the encoder: the sample z must stay attached to "
                 "m and v (no .detach() on z, and z from ut.sample_gaussian(m, v), not from the mean alone).")
    for part, weight in (("enc.", 1), ("dec.", 1)):
        names = [n for n in expected["nelbo_grad"] if n.startswith(part)]
        ok = all(grads.get(n) is not None and np.allclose(grads[n], expected["nelbo_grad"][n], rtol=1e-3, atol=1e-5)
                 for n in names)
        claims.claim(weight, ok, f"the gradient of nelbo w.r.t. the {'encoder' if part == 'enc.' else 'decoder'} "
                                 "differs from the reference's: check that each term is a batch mean and that z is "
                                 "drawn with ut.sample_gaussian from the encoder's (m, v).")
    return claims.outcome()
