"""Checks of VAE.negative_elbo_bound. The sample z goes through a sampler the judge controls
(m + sqrt(v) * eps for an eps it chose), so every value is deterministic and the checks have no
false failures; a wrong sample_gaussian in utils.py cannot cost points here.

A cause is named only when the returned (nelbo, kl, rec) equals, in all three numbers, what that
mistake computes on the same weights, batch and noise (numpy, here), and the correct triple does
not; a batch of one cannot reveal a sum over the batch, so that cause is never named there."""
import math

import numpy as np

from autograder.selfcheck.expect import CheckFailed, Claims, deferred, diagnose, fmt, identify, join, near, values
from autograder.selfcheck.public.vae import REC_CUT, returned_numbers
from .inputs import golden, rng, vae_state
from .vae_mistakes import REL, diagnose_bound, kl_part, matches, terms


def bound(run, state, x, eps, z_dim, gradients=True):
    """(the probe's output, [nelbo, kl, rec] as numbers). A kl or rec of one value per example (shape (N,))
    is read as its batch mean and listed in out["per_example"]: its shape is test 2.2's 0-dim claim, charged
    there once, and the values and nelbo's gradients are judged as they are. Other shapes fail the test."""
    return read_bound(run("vae_bound", state=state, z_dim=z_dim, x=x, eps=eps, gradients=gradients), state, x, eps)


def bound_repeated(run, state, x, eps, z_dim):
    """bound() on the batch, on it again, on the batch passed twice and in eval mode, in one call on one model
    (test 2.2)."""
    out = run("vae_bound_repeated", state=state, z_dim=z_dim, x=x, eps=eps)
    doubled_x, doubled_eps = np.concatenate([x, x]), np.concatenate([eps, eps])
    return (read_bound(out["once"], state, x, eps), read_bound(out["again"], state, x, eps),
            read_bound(out["twice"], state, doubled_x, doubled_eps), read_bound(out["in_eval"], state, x, eps, sampled=False))


def read_bound(out, state, x, eps, sampled=True):
    """bound()'s reading of one output of the probe; `sampled`: a bound that never called ut.sample_gaussian fails
    the test here (not for the eval-mode call, whose claim says so)."""
    arrays = {k: values(out[k], k) for k in ("nelbo", "kl", "rec")}
    shapes = {k: tuple(a.shape) for k, a in arrays.items() if a.size != 1}
    out["per_example"] = [k for k, shape in shapes.items() if k != "nelbo" and shape == (len(x),)]
    if set(shapes) - set(out["per_example"]):
        raise CheckFailed(f"{' and '.join(shapes)}: expected 0-dim tensors (one number each), got shape"
                          f"{'s' if len(shapes) > 1 else ''} {' and '.join(map(str, shapes.values()))}.")
    observed = [float(arrays[k].mean()) for k in ("nelbo", "kl", "rec")]
    if out["sampler_calls"] == 0 and sampled:
        t = terms(state, x, eps)
        decoded_mean = identify(observed[2], t["rec"], [("vae_decode_mean", t["rec_mean"], "rec decodes the mean "
                                "m, not a sample: draw z with ut.sample_gaussian(m, v) (one call) and decode z.")],
                                lambda a, b: near(a, b, 1e-6))   # exact up to float32's sums: not a chance nearness
        if decoded_mean is not None:
            raise CheckFailed(decoded_mean)
        raise CheckFailed(diagnose("vae_sampler_calls", "negative_elbo_bound never called ut.sample_gaussian: draw z "
                                   "with ut.sample_gaussian(m, v) (one sample per data point)."))
    return out, observed


def same(a, b, rel=REL):
    """a equals b up to rel, NaN equalling NaN and an infinity the same infinity (a NaN kl repeated is no
    randomness; nelbo = inf + rec holds: a non-finite term is 2.1's value claim, charged there once)."""
    return (math.isnan(a) and math.isnan(b)) or (math.isinf(a) and a == b) or near(a, b, rel)


def describe(observed, t, label):
    correct = (t["kl"] + t["rec"], t["kl"], t["rec"])
    wrong = [f"{name} {fmt(o)} (expected {fmt(e)})" for name, o, e in zip(("nelbo", "kl", "rec"), observed, correct)
             if not near(o, e, REL)]
    why = diagnose_bound(observed, t)
    return f"{label}: " + ", ".join(wrong) + ((": " + why) if why else "") + "."


def second_batch(x, eps):
    """Test 2.1's second hidden batch, made from the first (its values are never shown)."""
    return 1 - x[::-1], -eps[::-1]


def fixed_values(run):
    """kl, rec and nelbo on hidden inputs equal the trusted numpy computation (rtol 1e-4); one sampler
    call; nelbo = kl + rec (earned only when kl or rec is right)."""
    case = golden("vae_bound")["inputs"]
    state, x, eps, z_dim = case["state"], case["x"], case["eps"], int(case["z_dim"])
    out, observed = bound(run, state, x, eps, z_dim)
    t = terms(state, x, eps)
    correct = (t["kl"] + t["rec"], t["kl"], t["rec"])
    ok = [near(o, e, REL) for o, e in zip(observed, correct)]
    # A second hidden batch whose values are never shown: values copied from this test's feedback into
    # code that recognizes the first batch earn nothing (red team: 2.1 earned 5/5 that way).
    x2, eps2 = second_batch(x, eps)
    _, observed2 = bound(run, state, x2, eps2, z_dim, gradients=False)
    t2 = terms(state, x2, eps2)
    ok2 = [near(o, e, REL) for o, e in zip(observed2, (t2["kl"] + t2["rec"], t2["kl"], t2["rec"]))]
    claims = Claims()
    message = "" if all(ok) else describe(observed, t, f"on a hidden batch of {len(x)}")
    # every charged claim is said: a term right on the shown batch and wrong on the unshown one too
    hidden_only = [name for name, shown, unshown in zip(("nelbo", "kl", "rec"), ok, ok2) if shown and not unshown]
    if all(ok) and hidden_only:
        message = (f"right on the hidden batch of {len(x)}, but {', '.join(hidden_only)} wrong on a second hidden "
                   "batch (its values are not shown): the bound must be computed from x, not recognized.")
    elif hidden_only:
        message += (f" {' and '.join(hidden_only)}, within the tolerance on this batch, "
                    f"{'is' if len(hidden_only) == 1 else 'are'} wrong on a second hidden batch (its values are not shown).")
    ok = [a and b for a, b in zip(ok, ok2)]
    for name, holds, weight in zip(("nelbo", "kl", "rec"), ok, (1, 2, 2)):
        claims.claim(name, weight, holds, message)
    substance = ok[1] or ok[2]
    unearned = deferred("nelbo = kl + rec and the single sampler call earn points once kl or rec is right.")
    claims.form("one sampler call", 1, out["sampler_calls"] == 1, diagnose(
        "vae_sampler_calls", f"ut.sample_gaussian was called {out['sampler_calls']} times: the bound uses ONE sample "
        "z ~ q(z|x) per data point (one call with the encoder's (m, v))."), substance, unearned)
    claims.form("nelbo = kl + rec", 1, same(observed[0], observed[1] + observed[2], 1e-5),
                not_the_sum(observed, t["kl"] + t["rec"]), substance, unearned)
    return claims.outcome()


def not_the_sum(observed, right_nelbo, where=""):
    """What to say when nelbo is not kl + rec: which side is wrong, where the reference's nelbo tells."""
    nelbo, total = observed[0], observed[1] + observed[2]
    if near(nelbo, right_nelbo, REL) and not near(total, right_nelbo, REL):   # else both are within rounding of it
        return (f"{where}nelbo is right ({fmt(nelbo)}), but kl + rec is {fmt(total)}: the kl and rec returned should "
                "be the two terms nelbo is made of.")
    return f"{where}nelbo ({fmt(nelbo)}) should equal kl + rec ({fmt(total)})."


# (batch, z_dim, seed, decoder scale) of test 2.2: both ends of each range, the experiments' z_dim 2 among
# them; the last with the decoder's output layer scaled 100 times (logits up to |h| ~ 70, where float32's
# sigmoid(h) rounds to 0 or 1: a log-likelihood formed from it gets log(0) there)
PROPERTY_CASES = [(1, 1, 0, 1), (9, 5, 1, 1), (4, 1, 2, 1), (2, 3, 3, 1), (7, 2, 4, 1), (3, 4, 5, 1), (3, 2, 6, 100)]
BATCH_SUM_KEYS = {("kl", "rec"): "vae_batch_sum", ("rec",): "vae_rec_batch_sum", ("kl",): "vae_kl_batch_sum"}


def batch_means_and_properties(run):
    """On generated batches (1 to 9) and latent sizes (1 to 5): batch means (the same batch passed twice
    gives the same kl and rec), nelbo = kl + rec, and the values. A value that is wrong on test 2.1's
    hidden batch too is that test's mistake, charged there once: then only the properties are judged
    here, and they earn points when kl or rec is right somewhere (zeros are batch means trivially)."""
    case = golden("vae_bound")["inputs"]
    hidden_out, hidden = bound(run, case["state"], case["x"], case["eps"], int(case["z_dim"]), gradients=False)
    t_hidden = terms(case["state"], case["x"], case["eps"])
    values_judged = matches(hidden, (t_hidden["kl"] + t_hidden["rec"], t_hidden["kl"], t_hidden["rec"]))
    wrong_value = wrong_mean = wrong_sum = wrong_mode = None
    substance = False
    for batch, z_dim, seed, scale in PROPERTY_CASES:
        g = rng("vae", "property", seed)
        state = vae_state(g, z_dim, hidden=300)
        state.update({k: a * np.float32(scale) for k, a in state.items() if k.startswith("dec.net.4.")})
        x = (g.random((batch, 784)) < 0.3).astype(np.float32)
        eps = g.normal(size=(batch, z_dim)).astype(np.float32)
        (out, observed), (_, again), (_, twice), (eval_out, in_eval) = bound_repeated(run, state, x, eps, z_dim)
        t = terms(state, x, eps)
        where = f"with a batch of {batch} and z_dim {z_dim}" + (f" (decoder logits up to |h| = {fmt(t['max_logit'])})"
                                                               if scale != 1 else "")
        substance = substance or near(observed[1], t["kl"], REL) or near(observed[2], t["rec"], REL)
        if wrong_value is None and not matches(observed, (t["kl"] + t["rec"], t["kl"], t["rec"])):
            wrong_value = describe(observed, t, where) + (unstable_rec(observed[2], t["rec"]) if scale != 1 else "")
        # a term that is already NaN or inf (a value: test 2.1 charges it) says nothing about batch means
        doubled = tuple(n for n, a, b in zip(("kl", "rec"), observed[1:], twice[1:]) if math.isfinite(a) and not same(b, a))
        changed = [f"{n} {fmt(a)}, then {fmt(b)}" for n, a, b in zip(("kl", "rec"), observed[1:], again[1:])
                   if math.isfinite(a) and not same(b, a)]
        if wrong_mean is None and changed:
            # randomness of its own (e.g. a Bernoulli sample of the decoder's output): repeating tells nothing
            wrong_mean = (f"two calls on the same batch with the same sampler noise ({where}) gave {'; '.join(changed)}: "
                          "the bound draws randomness of its own besides ut.sample_gaussian, so whether kl and rec are "
                          "batch means cannot be judged; it should depend only on x and the one sample z.")
        if wrong_mean is None and doubled:
            factors = {n: b / a if a else float("inf") for n, a, b in zip(("kl", "rec"), observed[1:], twice[1:])}
            sums = all(near(factors[n], 2.0, 1e-3) for n in doubled)
            key = BATCH_SUM_KEYS.get(doubled) if sums else None
            text = (f"passing the same batch twice ({where}) changed " + ", ".join(
                f"{n} from {fmt(a)} to {fmt(b)}" for n, a, b in zip(("kl", "rec"), observed[1:], twice[1:])
                if n in doubled))
            wrong_mean = (diagnose(key, text + f": {' and '.join(doubled)} doubled, as a sum over the batch does (a "
                                   "batch mean stays the same).")
                          if key else text + ": a batch mean would stay the same, and a sum would double.")
        # a bound with randomness of its own (changed, above) changes between any two calls: not the mode's doing
        moved = not all(same(b, a) for a, b in zip(observed, in_eval) if math.isfinite(a))
        if wrong_mode is None and not changed and moved:
            wrong_mode = eval_mode_message(observed, in_eval, eval_out["sampler_calls"], out["sampler_calls"], where,
                                           t["rec_mean"])
        if wrong_sum is None and not same(observed[0], observed[1] + observed[2], 1e-5):
            wrong_sum = not_the_sum(observed, t["kl"] + t["rec"], f"{where}: ")
    claims = Claims()
    as_numbers, per_example = returned_numbers(hidden_out), per_example_message(hidden_out, len(case["x"]))
    not_0_dim = join(as_numbers, " " if as_numbers and per_example else "", per_example)
    claims.claim("0-dim tensors", 1, not not_0_dim, not_0_dim)
    unearned = deferred("batch means, nelbo = kl + rec and the same bound in eval mode earn points once kl or rec is "
                        "right (see test 2.1).")
    claims.form("batch means", 2, wrong_mean is None, wrong_mean, substance, unearned)
    claims.form("nelbo = kl + rec", 1, wrong_sum is None, wrong_sum, substance, unearned)
    claims.form("same in eval mode", 1, wrong_mode is None, wrong_mode, substance, unearned)
    if values_judged:
        claims.claim("values", 2, wrong_value is None, wrong_value and (
            wrong_value + " (They are right on test 2.1's hidden batch.)"))
    return claims.outcome()


def eval_mode_message(observed, in_eval, calls_eval, calls_train, where, rec_mean):
    """A bound that changes with the model's mode (the VAE's networks do not): what changed, and whether the
    sampler was still called (and rec then decodes the mean: float32-exact, 1e-6, as read_bound's)."""
    changed = "; ".join(f"{n} {fmt(a)} in train mode, {fmt(b)} in eval mode" for n, a, b in
                        zip(("nelbo", "kl", "rec"), observed, in_eval) if math.isfinite(a) and not same(b, a))
    skipped = (f", and ut.sample_gaussian was called {calls_eval} times in eval mode ({calls_train} in train mode)"
               if calls_eval != calls_train else "") + (
        ", and rec there is that of decoding the mean m" if calls_eval == 0 and near(in_eval[2], rec_mean, 1e-6) else "")
    return diagnose("vae_eval_mode", f"with the model in eval mode (model.eval(), {where}, the same sampler noise) "
                    f"the bound changed: {changed}{skipped}. The VAE's networks behave the same in either mode, so the "
                    "bound should too: rec uses one sample z ~ q(z|x) from ut.sample_gaussian whatever the mode.")


def unstable_rec(rec, right):
    """Said of a rec that is NaN or inf at large decoder logits, where the right one is finite."""
    if math.isfinite(rec) or not math.isfinite(right):
        return ""
    return (" rec is not finite where the right value is: at large |logits| a log-likelihood that forms sigmoid(h) "
            "before taking the log gets log(0) (and 0 * log 0 = NaN); ut.log_bernoulli_with_logits stays finite.")


def per_example_message(out, n):
    """The sentence for kl or rec returned per example (shape (n,)), all of them in one, or ""."""
    terms_ = out["per_example"]
    if not terms_:
        return ""
    return diagnose("vae_terms_per_example", f"negative_elbo_bound returned {' and '.join(terms_)} with shape ({n},), "
                    f"one value per example of the batch of {n}: the API asks for 0-dim tensors, their means over "
                    "the batch (tests 2.1 and 2.3 judged those means).")


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
    rec_cut = False
    # a rec returned as a number or per example has no gradient of its own to see (the probe takes a 0-dim rec's)
    if not any(n.startswith("rec ") for n in out["numbers"]) and "rec" not in out["per_example"]:
        reaches = bool(enc_rec) and any(np.any(g != 0) for g in enc_rec)   # NaN reaches it too (judged below)
        claims.form("rec reaches the encoder", 3, reaches, diagnose(
            "vae_rec_no_encoder_gradient", REC_CUT), substance,
            deferred("the gradient reaching the encoder through z earns points once kl or rec is right (see test 2.1)."))
        rec_cut = substance and not reaches
    # a wrong nelbo (test 2.1 charges it, on its shown batch or its second one) explains a wrong gradient: it is
    # not described again
    x2, eps2 = second_batch(inputs["x"], inputs["eps"])
    _, observed2 = bound(run, inputs["state"], x2, eps2, int(inputs["z_dim"]), gradients=False)
    t2 = terms(inputs["state"], x2, eps2)
    value_wrong = not (near(observed[0], t["kl"] + t["rec"], REL) and near(observed2[0], t2["kl"] + t2["rec"], REL))
    # only with kl and rec both right is nelbo's gradient off by the KL's alone a sign of a KL without gradient
    values_right = near(observed[1], t["kl"], REL) and near(observed[2], t["rec"], REL)
    for part, weight in (("enc.", 1), ("dec.", 1)):
        names = [n for n in expected["nelbo_grad"] if n.startswith(part)]
        missing = [n for n in names if grads.get(n) is None]
        ok = not missing and all(np.allclose(grads[n], expected["nelbo_grad"][n], rtol=1e-3, atol=1e-5) for n in names)
        where = "encoder" if part == "enc." else "decoder"
        # a cut path (above) explains these gradients: its message is the one shown
        claims.claim(f"{where} gradient", weight, ok, "" if ok or rec_cut else deferred("the gradients of nelbo earn points once "
                     "its value is right (test 2.1 shows what is wrong with it).") if value_wrong else f"the gradient of nelbo w.r.t. the "
                     f"{where} " + ("is missing." if missing else "is off by up to " + fmt(max(relative_error(
                         grads[n], expected["nelbo_grad"][n]) for n in names)) + " (relative to its largest entry)"
                         + kl_part(grads, expected, out["rec_grad"], names, values_right, where, inputs)
                         + "."))
    return claims.outcome()
