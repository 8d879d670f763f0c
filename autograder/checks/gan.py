"""Checks of the GAN losses and GAN.loss_nonsaturating. Deterministic: no false failures.

A cause is named only when the returned value equals what that mistake computes on the same logits
(numpy, here) and the correct value does not, and no other suspected mistake predicts it too."""
import numpy as np
from hypothesis import strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, diagnose, fmt, near, values
from autograder.checks import numeric
from .inputs import first_failure, golden, hypothesis_settings, rng

HYPOTHESIS = hypothesis_settings(max_examples=25)
LOSSES = ("discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating")
ls = numeric.logsigmoid


def expected_losses(real, fake):
    """(value, d/dreal, d/dfake) of each loss, in float64 numpy."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    nr, nf = real.size, fake.size
    sig = numeric.sigmoid
    return {
        "discriminator_loss": (-ls(real).mean() - ls(-fake).mean(), -(1 - sig(real)) / nr, sig(fake) / nf),
        "generator_loss_minimax": (ls(-fake).mean(), np.zeros_like(real), -sig(fake) / nf),
        "generator_loss_nonsaturating": (-ls(fake).mean(), np.zeros_like(real), -(1 - sig(fake)) / nf),
    }


def hypotheses(name, real, fake):
    """{key: (value that mistake returns, what to say)} for one loss on these logits."""
    r, f = real.astype(np.float64), fake.astype(np.float64)
    correct = expected_losses(real, fake)[name][0]
    h = {"gan_sign": (-correct, "it is the negative of the right value: the sign is flipped"),
         "gan_half": (correct / 2, "it is half the right value: there is a stray factor 1/2")}
    if name == "discriminator_loss":
        if r.size > 1 or f.size > 1:
            h["gan_sum"] = (-ls(r).sum() - ls(-f).sum(), "it equals the sum over the logits: average with .mean()")
        h["gan_d_swapped"] = (-ls(f).mean() - ls(-r).mean(), "it equals the loss with real and fake in swapped roles: "
                              "D should push real logits up and fake ones down")
        h["gan_one_minus_h"] = (-ls(r).mean() - ls(1 - f).mean(), "log(1 - D(x)) was written as logsigmoid(1 - h); "
                                "1 - sigmoid(h) = sigmoid(-h)")
        h["gan_d_real_only"] = (-ls(r).mean(), "it equals the real term alone: the fake term -mean log(1 - D(G(z))) "
                                "is missing")
    elif name == "generator_loss_minimax":
        if f.size > 1:
            h["gan_sum"] = (ls(-f).sum(), "it equals the sum over the logits: average with .mean()")
        h["gan_minimax_is_nonsat"] = (-ls(f).mean(), "it equals the non-saturating loss -mean log D(G(z)); the minimax "
                                      "one is mean log(1 - D(G(z)))")
        h["gan_one_minus_h"] = (ls(1 - f).mean(), "log(1 - D(x)) was written as logsigmoid(1 - h); 1 - sigmoid(h) = "
                                "sigmoid(-h)")
    else:
        if f.size > 1:
            h["gan_sum"] = (-ls(f).sum(), "it equals the sum over the logits: average with .mean()")
        h["gan_nonsat_is_minimax"] = (ls(-f).mean(), "it equals the minimax loss mean log(1 - D(G(z))); the "
                                      "non-saturating one is -mean log D(G(z))")
        h["gan_bce_zero_targets"] = (-ls(-f).mean(), "it equals binary cross-entropy against zeros: the generator's "
                                     "targets are ones (it wants its fakes called real)")
    return h


def identify(name, value, real, fake):
    correct = expected_losses(real, fake)[name][0]
    confirmed = [(k, t) for k, (p, t) in hypotheses(name, real, fake).items()
                 if np.isfinite(p) and near(value, p, 1e-4) and not near(correct, p, 1e-4)]
    return diagnose(*confirmed[0]) if len(confirmed) == 1 else None


def not_written(error):
    return str(error).startswith("NotImplementedError")


def compare(run, real, fake, claims, label, weight=1.0):
    out = run("gan_losses", real=real, fake=fake)
    expected = expected_losses(real, fake)
    for name in LOSSES:
        if out[name] is None:
            error = out[name + "_error"]
            claims.fail(weight * 2, diagnose("not_written", f"{name} is not written yet.") if not_written(error)
                         else f"{name} raised {error}.")
            continue
        value = values(out[name], name)
        if value.size != 1:
            claims.fail(weight * 2, f"{name} should return a 0-dim tensor, got shape {value.shape}.")
            continue
        v, e = float(value.reshape(())), expected[name][0]
        ok = bool(np.isfinite(v)) and near(v, e, 1e-4)
        if ok:
            why = ""
        elif not np.isfinite(v):
            why = f"{name} {label}: got {fmt(v)}, expected {fmt(e)}; " + diagnose(
                "gan_unstable", "it is not finite where the right value is: the formula overflows for large logits "
                "(log(sigmoid(h)) does; F.logsigmoid(h) and F.softplus do not).")
        else:
            reason = identify(name, v, real, fake)
            why = f"{name} {label}: got {fmt(v)}, expected {fmt(e)}" + (("; " + reason) if reason else "") + "."
        claims.claim(weight, ok, why)
        value_ok = ok
        for side, index in (("real", 1), ("fake", 2)):
            grad = out[f"{name}_grad_{side}"]
            exp_grad = expected[name][index]
            if not np.any(exp_grad) and grad is None:
                continue
            good = grad is not None and np.allclose(grad, exp_grad, rtol=1e-3, atol=1e-7)
            # a wrong value explains a wrong gradient: only the value's message is shown then
            claims.claim(weight / 2, good, "" if good or not value_ok else
                         f"the gradient of {name} w.r.t. the {side} logits {label} is "
                         + ("missing (is the loss built from differentiable torch operations?)." if grad is None
                            else "wrong although the value is right."))


def loss_values(run):
    """Values and gradients of the three losses on hidden logits and on generated ones (shapes, scales)."""
    claims = Claims()
    case = golden("gan_losses")["inputs"]
    compare(run, case["real"], case["fake"], claims, "on hidden logits", weight=3)
    @first_failure(HYPOTHESIS, n_real=st.integers(1, 40), n_fake=st.integers(1, 40), scale=st.sampled_from([0.1, 1.0, 5.0, 30.0]),
           seed=st.integers(0, 2 ** 16))
    def failure(n_real, n_fake, scale, seed):
        g = rng("gan", "values", seed)
        sub = Claims()
        compare(run, (g.normal(size=n_real) * scale).astype(np.float32),
                (g.normal(size=(n_fake, 1)) * scale).astype(np.float32), sub, f"on generated logits (scale {scale})")
        if sub.failed:
            return next((m for _, m in sub.failed if m), sub.failed[0][1])

    claims.claim(3, failure is None, failure or "")
    return claims.outcome()


def loss_nonsaturating(run):
    """d_loss and g_loss on hidden weights and data equal the reference's (golden); d_loss sends no
    gradient into G, g_loss does, d_loss trains D; z is drawn once per call. The claims about where
    gradients go and how often z is drawn earn points only when d_loss or g_loss has the right value."""
    case = golden("gan_step")
    inputs, expected = case["inputs"], case["expected"]
    out = run("gan_step", state=inputs["state"], z_dim=int(inputs["z_dim"]), x_real=inputs["x_real"],
              seed=int(inputs["seed"]))
    d_loss, g_loss = values(out["d_loss"], "d_loss"), values(out["g_loss"], "g_loss")
    if d_loss.size != 1 or g_loss.size != 1:
        raise CheckFailed(f"d_loss and g_loss should be 0-dim tensors, got shapes {d_loss.shape} and {g_loss.shape}.")
    d, g = float(d_loss.ravel()[0]), float(g_loss.ravel()[0])
    ed, eg = float(expected["d_loss"]), float(expected["g_loss"])
    ok_d, ok_g = near(d, ed, 1e-4), near(g, eg, 1e-4)
    why = None
    if not (ok_d and ok_g):
        preds = {"gan_step_swapped": ((eg, ed), "the two losses are returned in swapped order: return (d_loss, g_loss)")}
        if out.get("z") is not None:
            state = inputs["state"]
            lr = numeric.discriminator_logits(state, inputs["x_real"].astype(np.float64))
            lf = numeric.discriminator_logits(state, numeric.generator(state, np.asarray(out["z"], np.float64)))
            preds["gan_step_d_args_swapped"] = ((-ls(lf).mean() - ls(-lr).mean(), eg), "d_loss equals "
                                                "discriminator_loss with the fake logits first and the real ones second")
            preds["gan_step_minimax"] = ((ed, ls(-lf).mean()), "g_loss equals the minimax generator loss; this "
                                         "method trains G with the non-saturating one")
        match = lambda a, b: near(a[0], b[0], 1e-4) and near(a[1], b[1], 1e-4)
        confirmed = [(k, t) for k, (p, t) in preds.items() if match((d, g), p) and not match((ed, eg), p)]
        why = diagnose(*confirmed[0]) if len(confirmed) == 1 else None
    claims = Claims()
    wrong = [f"{n} is {fmt(o)}, expected {fmt(e)}" for n, o, e, ok in (("d_loss", d, ed, ok_d), ("g_loss", g, eg, ok_g))
             if not ok]
    message = "" if not wrong else "; ".join(wrong) + ((": " + why) if why else "") + "."
    claims.claim(1, ok_d, message)
    claims.claim(1, ok_g, message)
    substance = ok_d or ok_g
    unearned = ("where the gradients go and how often z is drawn earn points once d_loss or g_loss has the right "
                "value.")
    claims.form(1, out["distinct_z"] == 1, diagnose(
        "gan_step_fresh_z", f"the generator saw {out['distinct_z']} different z in one call: both losses must judge "
        "the same fake batch, generated once from the z the template draws."), substance, unearned)
    claims.form(2, out["d_loss_grad_g"] == 0.0, diagnose(
        "gan_step_no_detach", "d_loss sends gradient into the generator: the discriminator's loss must see the fake "
        "images cut from the generator's graph (detached), so that D's update does not move G."), substance, unearned)
    claims.form(2, out["g_loss_grad_g"] > 0.0, diagnose(
        "gan_step_detached_g", "g_loss sends no gradient into the generator: the generator's loss must see the fake "
        "images still attached to G (not detached)."), substance, unearned)
    claims.form(1, out["d_loss_grad_d"] > 0.0, "d_loss sends no gradient into the discriminator.", substance, unearned)
    return claims.outcome()
