"""Checks of VAE.negative_elbo_bound. The sample z goes through a sampler the judge controls
(m + sqrt(v) * eps for an eps it chose), so every value is deterministic and the checks have no
false failures; a wrong sample_gaussian in utils.py cannot cost points here.

A cause is named only when the returned (nelbo, kl, rec) equals, in all three numbers, what that
mistake computes on the same weights, batch and noise (numpy, here), and the correct triple does
not; a batch of one cannot reveal a sum over the batch, so that cause is never named there."""
import numpy as np
from hypothesis import strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, diagnose, fmt, near, scalar
from autograder.checks import numeric
from .inputs import first_failure, golden, hypothesis_settings, rng, vae_state

HYPOTHESIS = hypothesis_settings(max_examples=6)   # batches 1-9, z_dim 1-5: six already span both; the corpus gate holds
REL = 1e-4


def terms(state, x, eps):
    """Per-example pieces of the bound and of its usual mistakes, in float64."""
    x, eps = x.astype(np.float64), eps.astype(np.float64)
    m, v = numeric.vae_encode(state, x)
    rec_at = lambda z, squash=False: -numeric.bernoulli_log_likelihood(
        x, numeric.sigmoid(numeric.vae_decode(state, z)) if squash else numeric.vae_decode(state, z))
    return dict(m=m, v=v, n=len(x), z_dim=m.shape[1],
                kl=numeric.kl_to_standard_normal(m, v).mean(), rec=rec_at(m + np.sqrt(v) * eps).mean(),
                kl_reversed=(0.5 * (np.log(v) + 1 / v + m ** 2 / v - 1)).sum(-1).mean(),
                kl_logvar=(0.5 * (-v + np.exp(v) + m ** 2 - 1)).sum(-1).mean(),
                kl_std=numeric.kl_to_standard_normal(m, v ** 2).mean(),
                rec_mean=rec_at(m).mean(), rec_std_sampler=rec_at(m + v ** 0.25 * eps).mean(),
                rec_sigmoid=rec_at(m + np.sqrt(v) * eps, squash=True).mean())


def hypotheses(t):
    """{key: ((nelbo, kl, rec) that mistake returns, what to say)}."""
    kl, rec, n = t["kl"], t["rec"], t["n"]
    term = lambda k, r: (k + r, k, r)
    h = {
        "vae_kl_reversed": (term(t["kl_reversed"], rec), "the KL is KL(p(z) || q(z|x)), reversed: it is "
                            "KL(q(z|x) || p(z)), ut.kl_normal(m, v, prior_m, prior_v) with q's parameters first"),
        "vae_kl_sign": ((rec - kl, -kl, rec), "the KL has the wrong sign: it is a non-negative number added to rec"),
        "vae_rec_sign": ((kl - rec, kl, -rec), "rec has the wrong sign: rec = -log p(x|z), a positive number"),
        "vae_nelbo_kl_minus_rec": ((kl - rec, kl, rec), "nelbo is kl - rec: the negative ELBO is kl + rec"),
        "vae_order": ((kl + rec, rec, kl), "kl and rec are returned in swapped order: return (nelbo, kl, rec)"),
        "vae_kl_logvar": (term(t["kl_logvar"], rec), "the KL treats v as a log-variance: the encoder's v is a "
                          "variance; use ut.kl_normal(m, v, prior_m, prior_v)"),
        "vae_kl_std": (term(t["kl_std"], rec), "the KL treats v as a standard deviation (e.g. Normal(m, v)): the "
                       "encoder's v is a variance, whose standard deviation is sqrt(v)"),
        "vae_kl_half": (term(2 * kl, rec), "the KL is twice the right value: the Gaussian KL has a factor 1/2"),
        "vae_decode_mean": (term(kl, t["rec_mean"]), "rec decodes the mean m, not a sample: draw z with "
                            "ut.sample_gaussian(m, v) and decode z"),
        "vae_std_into_sampler": (term(kl, t["rec_std_sampler"]), "rec decodes a sample of variance sqrt(v): "
                                 "ut.sample_gaussian takes the variance v itself, not the standard deviation"),
        "vae_sigmoid_twice": (term(kl, t["rec_sigmoid"]), "rec applies a sigmoid to the decoder's output before "
                              "ut.log_bernoulli_with_logits, which expects logits"),
        "vae_rec_pixel_mean": (term(kl, rec / 784), "rec is averaged over the 784 pixels: sum the log-likelihood "
                               "over pixels, then average over the batch"),
    }
    if n > 1:
        h.update({
            "vae_batch_sum": ((n * (kl + rec), n * kl, n * rec), f"kl and rec are sums over the batch of {n}: "
                              "the API asks for batch means"),
            "vae_rec_batch_sum": (term(kl, n * rec), f"rec is a sum over the batch of {n}, kl a mean: both are batch means"),
            "vae_kl_batch_sum": (term(n * kl, rec), f"kl is a sum over the batch of {n}, rec a mean: both are batch means"),
        })
    if t["z_dim"] > 1:
        h["vae_kl_latent_mean"] = (term(kl / t["z_dim"], rec), "the KL is averaged over the latent dimensions: "
                                   "sum it over them (ut.kl_normal does), then average over the batch")
    return h


def matches(a, b):
    return all(near(x, y, REL) for x, y in zip(a, b))


def diagnose_bound(observed, t):
    """The one mistake whose predicted triple the observed triple equals, or None."""
    correct = (t["kl"] + t["rec"], t["kl"], t["rec"])
    confirmed = [(key, text) for key, (prediction, text) in hypotheses(t).items()
                 if matches(observed, prediction) and not matches(correct, prediction)]
    return diagnose(*confirmed[0]) if len(confirmed) == 1 else None


def bound(run, state, x, eps, z_dim, gradients=True):
    out = run("vae_bound", state=state, z_dim=z_dim, x=x, eps=eps, gradients=gradients)
    observed = [scalar(out[k], k) for k in ("nelbo", "kl", "rec")]
    if out["sampler_calls"] == 0:
        t = terms(state, x, eps)
        if near(observed[2], t["rec_mean"], REL) and not near(t["rec_mean"], t["rec"], REL):
            raise CheckFailed(diagnose("vae_decode_mean", "rec decodes the mean m, not a sample: draw z with "
                                       "ut.sample_gaussian(m, v) (one call) and decode z."))
        raise CheckFailed(diagnose("vae_sampler_calls", "negative_elbo_bound never called ut.sample_gaussian: draw z "
                                   "with ut.sample_gaussian(m, v) (one sample per data point)."))
    return out, observed


def describe(observed, t, label):
    correct = (t["kl"] + t["rec"], t["kl"], t["rec"])
    wrong = [f"{name} {fmt(o)} (expected {fmt(e)})" for name, o, e in zip(("nelbo", "kl", "rec"), observed, correct)
             if not near(o, e, REL)]
    why = diagnose_bound(observed, t)
    return f"{label}: " + ", ".join(wrong) + ((": " + why) if why else "") + "."


def fixed_values(run):
    """kl, rec and nelbo on hidden inputs equal the trusted numpy computation (rtol 1e-4); one sampler
    call; nelbo = kl + rec (earned only when kl or rec is right)."""
    case = golden("vae_bound")["inputs"]
    state, x, eps, z_dim = case["state"], case["x"], case["eps"], int(case["z_dim"])
    out, observed = bound(run, state, x, eps, z_dim)
    t = terms(state, x, eps)
    correct = (t["kl"] + t["rec"], t["kl"], t["rec"])
    ok = [near(o, e, REL) for o, e in zip(observed, correct)]
    claims = Claims()
    message = "" if all(ok) else describe(observed, t, f"on a hidden batch of {len(x)}")
    for holds, weight in zip(ok, (1, 2, 2)):
        claims.claim(weight, holds, message)
    substance = ok[1] or ok[2]
    unearned = "nelbo = kl + rec and the single sampler call earn points once kl or rec is right."
    claims.form(1, out["sampler_calls"] == 1, diagnose(
        "vae_sampler_calls", f"ut.sample_gaussian was called {out['sampler_calls']} times: the bound uses ONE sample "
        "z ~ q(z|x) per data point (one call with the encoder's (m, v))."), substance, unearned)
    claims.form(1, near(observed[0], observed[1] + observed[2], 1e-5),
                f"nelbo ({fmt(observed[0])}) should equal kl + rec ({fmt(observed[1] + observed[2])}).",
                substance, unearned)
    return claims.outcome()


def batch_means_and_properties(run):
    """On generated batches (1 to 9) and latent sizes (1 to 5): 0-dim outputs, batch means, nelbo = kl + rec."""
    @first_failure(HYPOTHESIS, batch=st.integers(1, 9), z_dim=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
    def failure(batch, z_dim, seed):
        g = rng("vae", "property", seed)
        state = vae_state(g, z_dim, hidden=300)
        x = (g.random((batch, 784)) < 0.3).astype(np.float32)
        eps = g.normal(size=(batch, z_dim)).astype(np.float32)
        _, observed = bound(run, state, x, eps, z_dim, gradients=False)
        t = terms(state, x, eps)
        if not matches(observed, (t["kl"] + t["rec"], t["kl"], t["rec"])):
            return describe(observed, t, f"with a batch of {batch} and z_dim {z_dim}")

    if failure:
        raise CheckFailed(failure)
    return None


def relative_error(got, want):
    scale = max(float(np.abs(want).max()), 1e-12)
    return float(np.abs(np.asarray(got) - want).max()) / scale


def gradients(run):
    """The gradient of nelbo w.r.t. every encoder and decoder weight equals the reference's (golden);
    the reconstruction's gradient reaches the encoder through the sample z (earned only when the
    bound's values are right)."""
    case = golden("vae_bound")
    inputs, expected = case["inputs"], case["expected"]
    out, observed = bound(run, inputs["state"], inputs["x"], inputs["eps"], int(inputs["z_dim"]))
    grads = out["nelbo_grad"]
    if grads is None:
        raise CheckFailed(diagnose("vae_not_differentiable", "nelbo carries no gradient to the model's parameters "
                                   "(.item(), .detach(), numpy or a new tensor breaks the graph)."))
    t = terms(inputs["state"], inputs["x"], inputs["eps"])
    substance = near(observed[1], t["kl"], REL) or near(observed[2], t["rec"], REL)
    claims = Claims()
    enc_rec = out["rec_grad"] and [g for n, g in out["rec_grad"].items() if n.startswith("enc.") and g is not None]
    claims.form(3, bool(enc_rec) and any(np.abs(g).sum() > 0 for g in enc_rec), diagnose(
        "vae_rec_no_encoder_gradient", "no gradient of the reconstruction term reaches the encoder: the sample z "
        "must stay attached to m and v (the reparameterization trick; no .detach() on z)."), substance,
        "the gradient reaching the encoder through z earns points once kl or rec is right (see test 2.1).")
    for part, weight in (("enc.", 1), ("dec.", 1)):
        names = [n for n in expected["nelbo_grad"] if n.startswith(part)]
        missing = [n for n in names if grads.get(n) is None]
        ok = not missing and all(np.allclose(grads[n], expected["nelbo_grad"][n], rtol=1e-3, atol=1e-5) for n in names)
        where = "encoder" if part == "enc." else "decoder"
        claims.claim(weight, ok, "" if ok else f"the gradient of nelbo w.r.t. the {where} " + (
            "is missing." if missing else "is off by up to " + fmt(max(relative_error(grads[n], expected["nelbo_grad"][n])
                                                                      for n in names)) + " (relative to its largest entry)."))
    return claims.outcome()
