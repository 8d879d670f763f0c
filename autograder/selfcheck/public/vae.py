"""The public check of models/vae.py (students' pytest only: the bound's graded tests are hidden):
properties of negative_elbo_bound on the model's own initial weights. REC_CUT and returned_numbers
are the hidden checks' words too (checks/vae.py)."""
import numpy as np

from ..expect import Claims, diagnose, fmt, near, scalar
from .common import ask

# Where the path is cut is not known: only that rec's gradient does not reach m and v through z.
REC_CUT = ("no gradient of rec reaches the encoder: there is no differentiable path from the encoder's m and v "
           "through the sample z and the decoder to rec (z drawn from other parameters than the encoder's, a "
           ".detach() on z or on the decoder's output, a sample such as torch.bernoulli drawn from it, .item() or "
           "numpy); rec must be a differentiable function of z = ut.sample_gaussian(m, v).")

def returned_numbers(out):
    """The message for kl or rec returned as Python numbers (their values are judged as they are), or None."""
    if out.get("numbers"):
        return diagnose("vae_terms_not_tensors", f"negative_elbo_bound returned {' and '.join(out['numbers'])}; the "
                        "API asks for 0-dim tensors (no .item() or float()).")
    return None


def vae_bound_properties(run):
    """Properties of negative_elbo_bound on the model's own initial weights (seeded): three finite
    0-dim tensors, kl >= 0, rec > 0, nelbo = kl + rec, one call of ut.sample_gaussian, batch means
    (repeating the batch changes nothing), gradients reaching encoder and decoder (rec's through z)."""
    g = np.random.default_rng(236)
    x = (g.random((3, 784)) < 0.3).astype(np.float32)
    eps = g.normal(size=(3, 2)).astype(np.float32)
    out = ask(run, "vae_bound_stand_in", "VAE.negative_elbo_bound", state=None, z_dim=2, x=x, eps=eps, gradients=True)
    nelbo, kl, rec = (scalar(out[k], k) for k in ("nelbo", "kl", "rec"))
    claims = Claims()
    finite = all(np.isfinite([nelbo, kl, rec]))
    claims.claim("finite", 1, finite, f"nelbo, kl, rec should be finite, got {fmt(nelbo)}, {fmt(kl)}, {fmt(rec)}.")
    claims.claim("kl non-negative", 1, kl >= 0, f"kl is {fmt(kl)}: a KL divergence is never negative.")
    claims.claim("rec positive", 1, rec > 0, f"rec is {fmt(rec)}: -log p(x|z) of binary pixels is positive.")
    claims.claim("nelbo = kl + rec", 1, near(nelbo, kl + rec, 1e-5), f"nelbo ({fmt(nelbo)}) should equal kl + rec ({fmt(kl + rec)}).")
    claims.claim("0-dim tensors", 1, returned_numbers(out) is None, returned_numbers(out))
    claims.claim("one sampler call", 1, out["sampler_calls"] == 1, diagnose(
        "vae_sampler_calls", f"ut.sample_gaussian was called {out['sampler_calls']} times: draw ONE sample z ~ q(z|x) "
        "with ut.sample_gaussian(m, v)."))
    if out["sampler_calls"] != 1:   # the noise is not the one this check controls: repeating tells nothing
        return claims.outcome()
    twice = ask(run, "vae_bound_stand_in", "VAE.negative_elbo_bound", state=None, z_dim=2, x=np.concatenate([x, x]),
                eps=np.concatenate([eps, eps]), gradients=False)
    kl2, rec2 = scalar(twice["kl"], "kl"), scalar(twice["rec"], "rec")
    doubled = [name for name, a, b in (("kl", kl, kl2), ("rec", rec, rec2)) if a != 0 and near(b, 2 * a, 1e-4)]
    ok = near(kl2, kl, 1e-4) and near(rec2, rec, 1e-4)
    key = {("kl", "rec"): "vae_batch_sum", ("rec",): "vae_rec_batch_sum", ("kl",): "vae_kl_batch_sum"}.get(tuple(doubled))
    claims.claim("batch means", 2, ok, diagnose(key, f"{' and '.join(doubled)} doubled when the same batch was passed twice: "
                                      "a sum over the batch; the API asks for batch means.") if key else
                 f"repeating the batch changed (kl, rec) from ({fmt(kl)}, {fmt(rec)}) to ({fmt(kl2)}, {fmt(rec2)}): "
                 "batch means do not change.")
    grads = out["nelbo_grad"] or {}
    reaches = lambda gr, part: any(n.startswith(part) and a is not None and np.abs(a).sum() > 0 for n, a in (gr or {}).items())
    claims.claim("gradient reaches encoder and decoder", 1, reaches(grads, "enc.") and reaches(grads, "dec."), diagnose(
        "vae_not_differentiable", "nelbo's gradient does not reach both the encoder and the decoder (.item(), "
        ".detach() or numpy break the graph)."))
    claims.claim("rec reaches the encoder", 1, reaches(out["rec_grad"], "enc."), diagnose(
        "vae_rec_no_encoder_gradient", REC_CUT))
    return claims.outcome()
