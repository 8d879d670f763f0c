"""Checks of the GAN losses and GAN.loss_nonsaturating. Deterministic: no false failures.

A cause is named only when the returned value equals what that mistake computes on the same logits
(numpy, here) and the correct value does not, and no other suspected mistake predicts it too."""
import numpy as np
from hypothesis import strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, deferred, diagnose, fmt, identify, input_shapes, join, keys_of, near, values
from autograder.selfcheck.public.common import backward_failed, not_written, raised_or_returned
from autograder.selfcheck.public.gan import UNSTABLE
from autograder.checks import numeric
from .gan_mistakes import hypotheses, raised_on_shapes
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


def raised(name, error):
    """What to say of a loss that raised or returned what the probe refused: not written yet, the error or the
    refusal (redacted: it may hold the logits)."""
    return (diagnose("not_written", f"{name} is not written yet.") if not_written(error)
            else name + " " + raised_or_returned(error))   # + keeps a named cause's key


def compare(run, real, fake, claims, label, weight=1.0, said=None):
    """Claims about the three losses on these logits. `said` ({loss: [keys of what was said]}, shared by the
    calls of one test): a loss's mistake is described once; a later case adds words only when it shows
    something new (a cause not named yet)."""
    said = {} if said is None else said

    def once(name, message):
        keys = sorted(keys_of(message))
        if not message or keys in said.setdefault(name, []):
            return ""
        said[name].append(keys)
        return message

    out = run("gan_losses", real=real, fake=fake)
    expected = expected_losses(real, fake)
    for name in LOSSES:
        if out[name] is None:
            sent = {"logits_real": real, "logits_fake": fake} if name == "discriminator_loss" else {"logits_fake": fake}
            error = out[name + "_error"]
            claims.fail(weight * 2, once(name, raised(name, error) + f" ({label}; {input_shapes(sent)})."
                                         + raised_on_shapes(name, error, real, fake)))
            continue
        value = values(out[name], name)
        if value.size != 1:
            claims.fail(weight * 2, once(name, f"{name} should return a 0-dim tensor, got shape {value.shape} ({label})."))
            continue
        v, e = float(value.reshape(())), expected[name][0]
        ok = bool(np.isfinite(v)) and near(v, e, 1e-4)
        if ok:
            why = ""
        elif not np.isfinite(v):
            why = f"{name} {label}: got {fmt(v)}, expected {fmt(e)}; " + diagnose("gan_unstable", UNSTABLE)
        else:
            reason = identify(v, e, hypotheses(name, real, fake, e), lambda a, b: bool(np.isfinite(b)) and near(a, b, 1e-4))
            why = f"{name} {label}: got {fmt(v)}, expected {fmt(e)}" + (("; " + reason) if reason else "") + "."
        claims.claim(f"{name} value", weight, ok, once(name, why))
        for side, index in (("real", 1), ("fake", 2)):
            grad = out[f"{name}_grad_{side}"]
            exp_grad = expected[name][index]
            if not np.any(exp_grad) and grad is None:
                continue
            good = grad is not None and np.allclose(grad, exp_grad, rtol=1e-3, atol=1e-7)
            # a wrong value explains a wrong gradient: only the value's message is shown then
            claims.claim(f"{name} gradient", weight / 2, good, "" if good or not ok else once(
                name + " gradient", f"the gradient of {name} w.r.t. the {side} logits {label} is "
                + (diagnose("gan_loss_no_gradient", "missing: no gradient reaches the logits (a .detach(), .item(), "
                            "numpy or a new tensor cuts it).") if grad is None
                   else "wrong although the value is right.")))


# The homework's own flow: GAN.loss_nonsaturating passes self.d's logits for a batch of real and a batch
# of fake images of the same size (16 in the experiments' smallest batch); the discriminator returns (N,)
# and a student's may return (N, 1).
HOMEWORK_SHAPES = [((16,), (16,)), ((16, 1), (16, 1))]
MULTI_LOGIT_SHAPE = (8, 4)


def loss_values(run):
    """Values and gradients of the three losses on hidden logits, on the homework's own shapes ((N,) and
    (N, 1) for real and fake alike) and on generated ones (other shapes, sizes and scales)."""
    claims, said = Claims(), {}
    case = golden("gan_losses")["inputs"]
    compare(run, case["real"], case["fake"], claims, "on hidden logits", weight=3, said=said)
    g = rng("gan", "homework shapes")
    for real_shape, fake_shape in HOMEWORK_SHAPES:
        compare(run, g.normal(size=real_shape).astype(np.float32), g.normal(size=fake_shape).astype(np.float32),
                claims, f"on real and fake logits of shape {real_shape}", weight=1, said=said)

    # fake logits (n,) or (n, 1): 1-D ones of another length than the real ones do not broadcast against them
    @first_failure(HYPOTHESIS, n_real=st.integers(1, 40), fake_shape=st.integers(1, 40).flatmap(
        lambda n: st.sampled_from([(n,), (n, 1)])), scale=st.sampled_from([0.1, 1.0, 5.0, 30.0]), seed=st.integers(0, 2 ** 16))
    def failure(n_real, fake_shape, scale, seed):
        g = rng("gan", "values", seed)
        sub = Claims()
        compare(run, (g.normal(size=n_real) * scale).astype(np.float32), (g.normal(size=fake_shape) * scale).astype(np.float32),
                sub, f"on real logits of shape ({n_real},) and fake ones of shape {fake_shape}, scale {scale}",
                said=dict((k, list(v)) for k, v in said.items()))
        if sub.failed:
            return next((m for _, m in sub.failed if m), None) or "already described"

    # the contract's "logits of any shape, averaged over all elements": rows of more than one logit
    compare(run, g.normal(size=MULTI_LOGIT_SHAPE).astype(np.float32), g.normal(size=MULTI_LOGIT_SHAPE).astype(np.float32),
            claims, f"on logits of shape {MULTI_LOGIT_SHAPE}", weight=2, said=said)
    claims.claim("generated logits", 2, failure is None, "" if failure in (None, "already described") else failure)
    return claims.outcome()


def helpers_wrong(run):
    """The helpers GAN.loss_nonsaturating calls that are wrong on test 3.1's hidden logits or on logits of the
    shape self.d returns, (N,) (they are graded in the same file: a method that calls a wrong helper is not wrong
    itself)."""
    case = golden("gan_losses")["inputs"]
    g = rng("gan", "helpers")
    wrong = []
    for real, fake in ((case["real"], case["fake"]), tuple(g.normal(size=(2, 16)).astype(np.float32))):
        out = run("gan_losses", real=real, fake=fake)
        expected = expected_losses(real, fake)
        for name in ("discriminator_loss", "generator_loss_nonsaturating"):
            got = None if out[name] is None else values(out[name], name)
            if name not in wrong and (got is None or got.size != 1 or not near(float(got.reshape(())),
                                                                              expected[name][0], 1e-4)):
                wrong.append(name)
    return [name for name in LOSSES if name in wrong]


def loss_nonsaturating(run):
    """d_loss and g_loss on hidden weights and data equal the reference's (golden); d_loss sends no
    gradient into G, g_loss does, d_loss trains D; z is drawn once per call. A wrong helper
    (discriminator_loss, generator_loss_nonsaturating: test 3.1) is named as what to fix first, and no
    mistake of the method is named; the method's value claims wait on it (their points are lost while the
    helper is wrong: README, "How points follow mistakes"). The claims about where gradients go and how often z is drawn earn points only
    when d_loss or g_loss has the right value, or a wrong helper explains why neither has."""
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
    wrong_helpers = helpers_wrong(run) if not (ok_d and ok_g) else []
    why = None
    if not (ok_d and ok_g) and not wrong_helpers:   # the helpers are right: the method's own mistakes
        state = inputs["state"]
        lr = numeric.discriminator_logits(state, inputs["x_real"].astype(np.float64))
        hypotheses = [("gan_step_swapped", (eg, ed), "the two losses are returned in swapped order: return "
                       "(d_loss, g_loss)"),
                      ("gan_step_g_on_real", (ed, -ls(lr).mean()), "g_loss equals the non-saturating generator loss "
                       "of D(x_real), the real images' logits: the generator's loss is judged on D of the images G "
                       "generated")]
        if out.get("z") is not None:
            lf = numeric.discriminator_logits(state, numeric.generator(state, np.asarray(out["z"], np.float64)))
            hypotheses += [("gan_step_d_args_swapped", (-ls(lf).mean() - ls(-lr).mean(), eg), "d_loss equals "
                            "discriminator_loss with the fake logits first and the real ones second"),
                           ("gan_step_minimax", (ed, ls(-lf).mean()), "g_loss equals the minimax generator loss; "
                            "this method trains G with the non-saturating one")]
        why = identify((d, g), (ed, eg), hypotheses, lambda a, b: near(a[0], b[0], 1e-4) and near(a[1], b[1], 1e-4))
    claims = Claims()
    wrong = [f"{n} is {fmt(o)}, expected {fmt(e)}" for n, o, e, ok in (("d_loss", d, ed, ok_d), ("g_loss", g, eg, ok_g))
             if not ok]
    first = (f"; your {' and '.join(wrong_helpers)} {'is' if len(wrong_helpers) == 1 else 'are'} wrong (test 3.1): "
             f"fix {' and '.join(wrong_helpers)} first, then see whether this method is right" if wrong_helpers else "")
    message = "" if not wrong else "; ".join(wrong) + ((": " + why) if why else first) + "."
    claims.claim("d_loss value", 1, ok_d, message)
    claims.claim("g_loss value", 1, ok_g, message)
    substance = ok_d or ok_g or (bool(wrong_helpers) and np.isfinite(d) and np.isfinite(g) and (d != 0 or g != 0))
    unearned = deferred("where the gradients go and how often z is drawn earn points once d_loss or g_loss has the "
                        "right value.")
    # with a wrong helper the gradients are the helper's: say what was seen, not why
    cause = diagnose if not wrong_helpers else (
        lambda key, text: text.split(":")[0] + f" (with your {' and '.join(wrong_helpers)}, which test 3.1 finds wrong).")
    claims.form("one z", 1, out["distinct_z"] == 1, diagnose(
        "gan_step_fresh_z", f"the generator saw {out['distinct_z']} different z in one call: both losses must judge "
        "the same fake batch, generated once from the z the template draws."), substance, unearned)
    # a loss whose backward raised (the probe's norms are None): its claims fail with that one sentence
    failed = out["grad_error"] and join("loss_nonsaturating ", backward_failed(out["grad_error"]), ".")
    d_to_g, g_to_g, d_to_d = out["d_loss_grad_g"], out["g_loss_grad_g"], out["d_loss_grad_d"]
    claims.form("d_loss detached from G", 2, d_to_g == 0.0, failed if d_to_g is None else cause(
        "gan_step_no_detach", "d_loss sends gradient into the generator: the discriminator's loss must see the fake "
        "images cut from the generator's graph (detached), so that D's update does not move G."), substance, unearned)
    claims.form("g_loss reaches G", 2, g_to_g is not None and g_to_g > 0.0,
                failed if g_to_g is None else g_loss_cut_off(ok_g, why, cause), substance, unearned)
    reaches, reaches_message = (False, failed) if d_to_d is None else d_loss_trains_d(out, inputs, ok_d and not wrong_helpers)
    claims.form("d_loss reaches D", 2, reaches, reaches_message, substance, unearned)
    left = " and ".join(net for net in ("D", "G") if out.get(f"{net.lower()}_params_frozen"))   # the probe's record
    claims.form("parameters left trainable", 1, not left, left and diagnose("gan_left_frozen", f"after loss_nonsaturating "
                f"returned, parameters of {left} no longer require grad (they did before the call), so the caller cannot "
                "train them with it: leave requires_grad as the call found it."), substance, unearned)
    return claims.outcome()


def g_loss_cut_off(ok_g, why, cause):
    """What to say when g_loss sends no gradient into G. A detached fake batch is established only by a right
    g_loss value (the right function of G's images, cut from G); a g_loss of D(x_real), named above, cannot reach
    G; otherwise the cause is not known and only the observation is said."""
    if ok_g:
        return cause("gan_step_detached_g", "g_loss has the right value but sends no gradient into the generator: its graph "
                     "is cut between G's images and the loss (a .detach() on them, or D called on them under torch.no_grad()).")
    if why is not None and "gan_step_g_on_real" in why.keys:
        return "g_loss sends no gradient into the generator, as a loss of D(x_real) cannot (above)."
    return "g_loss sends no gradient into the generator."


def d_loss_trains_d(out, inputs, judge_size):
    """(holds, message) of the claim that d_loss sends D its gradient. Where d_loss has the right value from
    right helpers (`judge_size`) and the generator's z is known, the gradient's norm must be the reference's
    (the fake term as well as the real one: a d_loss whose fake logits are detached has the right value and
    teaches D nothing about fakes); otherwise only that some gradient reaches D."""
    observed = float(out["d_loss_grad_d"])
    if not judge_size or out.get("z") is None:
        return observed > 0.0, "d_loss sends no gradient into the discriminator."
    state = inputs["state"]
    x_real = inputs["x_real"].astype(np.float64)
    x_fake = numeric.generator(state, np.asarray(out["z"], np.float64))
    lr, lf = numeric.discriminator_logits(state, x_real), numeric.discriminator_logits(state, x_fake)
    real_part, fake_part = -(1 - numeric.sigmoid(lr)) / lr.size, numeric.sigmoid(lf) / lf.size
    x = np.concatenate([x_real, x_fake])
    norm = lambda real, fake: numeric.discriminator_grad_norm(state, x, np.concatenate([real, fake]))
    expected = norm(real_part, fake_part)
    close = lambda a, b: near(a, b, 1e-3)
    if close(observed, expected):
        return True, ""
    why = identify(observed, expected, [
        ("gan_step_d_fake_detached", norm(real_part, 0 * fake_part), "it is the gradient of the real term alone, as "
         "when the fake logits (not the fake images) are detached: D must learn from D(x_fake.detach())"),
    ], close)
    return False, join(f"the gradient of d_loss w.r.t. the discriminator's parameters has norm {fmt(observed)}, "
                       f"expected {fmt(expected)}", ": " if why else "", why, ".")
