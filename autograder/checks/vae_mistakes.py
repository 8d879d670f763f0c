"""The VAE bound's terms on the judge's weights, batch and noise (numpy, float64), and what each
recognizable mistake of VAE.negative_elbo_bound returns there: the hypotheses checks/vae.py names a
cause from (only when exactly one matches all three numbers and the correct triple does not)."""
import numpy as np

from autograder.selfcheck.expect import fmt, identify, near
from autograder.checks import numeric

REL = 1e-4


def terms(state, x, eps):
    """Per-example pieces of the bound and of its usual mistakes, in float64."""
    x, eps = x.astype(np.float64), eps.astype(np.float64)
    m, v = numeric.vae_encode(state, x)
    rec_at = lambda z, squash=False: -numeric.bernoulli_log_likelihood(
        x, numeric.sigmoid(numeric.vae_decode(state, z)) if squash else numeric.vae_decode(state, z))
    return dict(m=m, v=v, n=len(x), z_dim=m.shape[1],
                max_logit=float(np.abs(numeric.vae_decode(state, m + np.sqrt(v) * eps)).max()),
                kl=numeric.kl_to_standard_normal(m, v).mean(), rec=rec_at(m + np.sqrt(v) * eps).mean(),
                kl_reversed=(0.5 * (np.log(v) + 1 / v + m ** 2 / v - 1)).sum(-1).mean(),
                kl_logvar=(0.5 * (-v + np.exp(v) + m ** 2 - 1)).sum(-1).mean(),
                kl_std=numeric.kl_to_standard_normal(m, v ** 2).mean(),
                rec_mean=rec_at(m).mean(), rec_std_sampler=rec_at(m + v ** 0.25 * eps).mean(),
                rec_sigmoid=rec_at(m + np.sqrt(v) * eps, squash=True).mean(),
                # log q(z|x) - log p(z) at the one sample z = m + sqrt(v) eps, summed over latent dimensions
                kl_monte_carlo=(0.5 * ((m + np.sqrt(v) * eps) ** 2 - eps ** 2 - np.log(v))).sum(-1).mean())


def hypotheses(t):
    """[(key, (nelbo, kl, rec) that mistake returns, what to say)]."""
    kl, rec, n = t["kl"], t["rec"], t["n"]
    term = lambda k, r: (k + r, k, r)
    h = [
        ("vae_kl_reversed", term(t["kl_reversed"], rec), "the KL is KL(p(z) || q(z|x)), reversed: it is "
         "KL(q(z|x) || p(z)), ut.kl_normal(m, v, prior_m, prior_v) with q's parameters first"),
        ("vae_kl_sign", (rec - kl, -kl, rec), "the KL has the wrong sign: it is a non-negative number added to rec"),
        ("vae_rec_sign", (kl - rec, kl, -rec), "rec has the wrong sign: rec = -log p(x|z), a positive number"),
        ("vae_nelbo_kl_minus_rec", (kl - rec, kl, rec), "nelbo is kl - rec: the negative ELBO is kl + rec"),
        ("vae_order", (kl + rec, rec, kl), "kl and rec are returned in swapped order: return (nelbo, kl, rec)"),
        ("vae_kl_logvar", term(t["kl_logvar"], rec), "the KL treats v as a log-variance: the encoder's v is a "
         "variance; use ut.kl_normal(m, v, prior_m, prior_v)"),
        ("vae_kl_std", term(t["kl_std"], rec), "the KL treats v as a standard deviation (e.g. Normal(m, v)): the "
         "encoder's v is a variance, whose standard deviation is sqrt(v)"),
        ("vae_kl_half", term(2 * kl, rec), "the KL is twice the right value: the Gaussian KL has a factor 1/2"),
        ("vae_kl_no_minus_one", term(kl + t["z_dim"] / 2, rec), f"the KL is the right one plus {fmt(t['z_dim'] / 2)} "
         "(z_dim / 2): the Gaussian KL's sum has a -1 per latent dimension, 1/2 (-log v + v + m^2 - 1)"),
        ("vae_decode_mean", term(kl, t["rec_mean"]), "rec decodes the mean m, not a sample: draw z with "
         "ut.sample_gaussian(m, v) and decode z"),
        ("vae_std_into_sampler", term(kl, t["rec_std_sampler"]), "rec decodes a sample of variance sqrt(v): "
         "ut.sample_gaussian takes the variance v itself, not the standard deviation"),
        ("vae_sigmoid_twice", term(kl, t["rec_sigmoid"]), "rec applies a sigmoid to the decoder's output before "
         "ut.log_bernoulli_with_logits, which expects logits"),
        ("vae_kl_monte_carlo", term(t["kl_monte_carlo"], rec), "the KL is a one-sample estimate, log q(z|x) - "
         "log p(z) at the sample z: the API asks for the analytic KL, ut.kl_normal(m, v, prior_m, prior_v)"),
        ("vae_rec_pixel_mean", term(kl, rec / 784), "rec is averaged over the 784 pixels: sum the log-likelihood "
         "over pixels, then average over the batch"),
        ("vae_rec_image_rows", term(kl, rec / 28), "rec is 1/28 of the right value, as when x and the logits are "
         "reshaped to (batch, 28, 28): ut.log_bernoulli_with_logits then sums over one row of 28 pixels and .mean() "
         "averages over the rows; it takes (batch, 784) and sums over all 784 pixels"),
    ]
    if n > 1:   # a batch of one cannot tell a sum from a mean
        h += [("vae_batch_sum", (n * (kl + rec), n * kl, n * rec), f"kl and rec are sums over the batch of {n}: "
               "the API asks for batch means"),
              ("vae_rec_batch_sum", term(kl, n * rec), f"rec is a sum over the batch of {n}, kl a mean: both are "
               "batch means"),
              ("vae_kl_batch_sum", term(n * kl, rec), f"kl is a sum over the batch of {n}, rec a mean: both are "
               "batch means")]
    if n != t["z_dim"]:   # (batch, z_dim) transposed: kl_normal sums over the batch, .mean() over the latents
        h.append(("vae_kl_transposed", term(kl * n / t["z_dim"], rec), f"the KL is {fmt(n / t['z_dim'])} (batch "
                  "size / z_dim) times the right value, as when m and v are passed transposed (m.T): ut.kl_normal "
                  "sums over the last dimension, which must be the latent one, (batch, z_dim)"))
    if t["z_dim"] > 1:
        h.append(("vae_kl_latent_mean", term(kl / t["z_dim"], rec), "the KL is averaged over the latent dimensions: "
                  "sum it over them (ut.kl_normal does), then average over the batch"))
    return h


def matches(a, b):
    return all(near(x, y, REL) for x, y in zip(a, b))


def diagnose_bound(observed, t):
    """The one mistake whose predicted triple the observed triple equals, or None."""
    return identify(observed, (t["kl"] + t["rec"], t["kl"], t["rec"]), hypotheses(t), matches)


def kl_part(grads, expected, rec_grad, names, values_right, where, inputs):
    """What rec's own gradient shows of a wrong nelbo gradient (2.3): ': <cause>' when nelbo's is exactly rec's
    plus none, or only a part, of the KL's (through m or v alone: numpy backpropagation); '; rec's own ... is
    right' when only the KL's part differs otherwise; '' when rec's own is not known right."""
    if not values_right or not rec_grad or any(rec_grad.get(n) is None for n in names):
        return ""
    match = lambda a, b: all(np.allclose(a[n], b[n], rtol=1e-3, atol=1e-5) for n in names)
    h = [("vae_kl_no_gradient", rec_grad, "it equals the gradient of rec alone, so the KL sends none: kl must stay "
          "attached to the encoder's m and v (no .detach(), .item() or numpy)")]
    if where == "encoder":
        state, x = inputs["state"], inputs["x"].astype(np.float64)
        m, v = numeric.vae_encode(state, x)
        plus_kl = lambda dm, dv: {k: expected["rec_grad"][k] + g for k, g in
                                  numeric.vae_encoder_grads(state, x, dm / len(x), dv / len(x)).items()}
        h += [(f"vae_kl_{cut}_detached", plus_kl(*parts), f"it equals rec's gradient plus the KL's through {kept} "
               f"alone, so the KL sends no gradient through {cut} (as with {cut}.detach() among kl_normal's arguments): "
               "kl must stay attached to both m and v") for cut, kept, parts in
              (("v", "m", (m, 0 * v)), ("m", "v", (0 * m, 0.5 * (1 - 1 / v))))]
    why = identify(grads, expected["nelbo_grad"], h, match)
    if why:
        return ": " + why   # Text + keeps the key
    if where == "encoder" and match(rec_grad, expected["rec_grad"]):
        return (f"; rec's own gradient w.r.t. the {where} is right, so the part beyond it differs: the KL's, "
                "through the encoder's m and v")
    return ""
