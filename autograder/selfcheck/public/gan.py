"""The public check of models/gan.py (also graded test 3.2): the three losses stable and accurate at
|logits| = 1e4, values and gradients."""
import numpy as np

from ..expect import CheckFailed, Claims, diagnose, fmt, near, values
from .common import not_written, raised_or_returned

LOSSES = ("discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating")
UNSTABLE = ("it is not finite where the right value is: at large |logits| a formula that forms sigmoid(h) or "
            "exp(h) before taking the log gets log(0) or exp overflow there; F.logsigmoid(h) and F.softplus stay finite.")
# (real, fake) logits and, for each loss, (value, d/dreal, d/dfake): literals from the reference in
# float64 (e.g. -mean logsigmoid at 1e4, -1e4, 30 is (0 + 1e4 + 9.4e-14) / 3).
LARGE = [
    (np.array([1e4, -1e4, 30.0], np.float32), np.array([-1e4, 1e4, -30.0], np.float32), {
        "discriminator_loss": (2e4 / 3, [0.0, -1 / 3, 0.0], [0.0, 1 / 3, 0.0]),
        "generator_loss_minimax": (-1e4 / 3, None, [0.0, -1 / 3, 0.0]),
        "generator_loss_nonsaturating": ((1e4 + 30) / 3, None, [-1 / 3, 0.0, -1 / 3]),
    }),
    (np.array([1e4, 2e3], np.float32), np.array([1e4, -1e4], np.float32), {
        "discriminator_loss": (5e3, [0.0, 0.0], [0.5, 0.0]),
        "generator_loss_minimax": (-5e3, None, [-0.5, 0.0]),
        "generator_loss_nonsaturating": (5e3, None, [0.0, -0.5]),
    }),
]


# moderate logits, where every formulation is exact: a loss wrong here is wrong everywhere (test 3.1 charges
# that), and its values at |h| = 1e4 say nothing more
MODERATE = (np.array([0.5, -1.0, 2.0], np.float32), np.array([-0.3, 1.5, 0.0], np.float32), {
    "discriminator_loss": 1.6210607952508422, "generator_loss_minimax": -0.9829719010037415,
    "generator_loss_nonsaturating": 0.5829719010037416})


def wrong_at_moderate_logits(run):
    """{loss: message} for the losses that return a finite but wrong value at MODERATE logits."""
    real, fake, expected = MODERATE
    out = run("gan_losses", real=real, fake=fake)
    wrong = {}
    for name in LOSSES:
        got = None if out[name] is None else np.asarray(out[name], np.float64)
        if got is None or got.size != 1 or not np.isfinite(got).all() or near(float(got.reshape(())), expected[name], 1e-4):
            continue
        at = ("at real logits [0.5, -1, 2] and fake logits [-0.3, 1.5, 0]" if name == "discriminator_loss"
              else "at fake logits [-0.3, 1.5, 0]")   # the generator's losses take no real ones
        wrong[name] = (f"{name} is wrong at moderate logits too ({at}: got {fmt(float(got.reshape(())))}, expected "
                       f"{fmt(expected[name])}; test 3.1 judges its formula, so the formula is what to fix, not how "
                       "stable it is at large |h|): its values at |logits| = 1e4 are judged once it is right there.")
    return wrong


def gan_large_logits(run):
    """Finite and accurate at |h| = 1e4 (the stable formulations), values and gradients: deterministic. A loss
    already wrong at moderate logits is said so once (its large-logit values earn nothing, and are not
    described again)."""
    claims = Claims()
    wrong_formula = None
    for real, fake, expected in LARGE:
        out = run("gan_losses", real=real, fake=fake)
        fake_at = f"fake logits [{', '.join(map(fmt, fake.ravel()))}]"
        both_at = f"at real logits [{', '.join(map(fmt, real))}] and {fake_at}"
        errors = [out[n + "_error"] for n in LOSSES if out[n] is None]
        if len(errors) == len(LOSSES) and all(map(not_written, errors)):
            raise CheckFailed(diagnose("not_written", f"{', '.join(LOSSES[:-1])} and {LOSSES[-1]} are not written "
                                                      "yet (they raise NotImplementedError)."))
        for name in LOSSES:
            value, grad_real, grad_fake = expected[name]
            if out[name] is None:
                error = out[name + "_error"]
                claims.fail(2, diagnose("not_written", f"{name} is not written yet.") if not_written(error)
                             else name + " " + raised_or_returned(error) + ".")
                continue
            got = values(out[name], name)
            if got.size != 1:
                claims.fail(2, f"{name} should return a 0-dim tensor, got shape {got.shape}.")
                continue
            v = float(got.reshape(()))
            ok = bool(np.isfinite(v)) and near(v, value, 1e-4)
            at = both_at if name == "discriminator_loss" else f"at {fake_at}"   # the generator's take no real ones
            if not ok and np.isfinite(v) and wrong_formula is None:
                wrong_formula = wrong_at_moderate_logits(run)
            claims.claim("value", 1, ok, "" if ok else wrong_formula[name] if np.isfinite(v) and name in wrong_formula
                         else f"{name} {at}: got {fmt(v)}, expected {fmt(value)}; " + (
                diagnose("gan_unstable", UNSTABLE) if not np.isfinite(v)
                else "it is finite but wrong here although it is right at moderate logits: the docstring's "
                     "F.logsigmoid / F.softplus stay exact at any |h|."))
            for side, want in (("real", grad_real), ("fake", grad_fake)):
                grad = out[f"{name}_grad_{side}"]
                if want is None and grad is None:
                    continue
                want = np.zeros(real.shape) if want is None else np.array(want)
                good = grad is not None and np.allclose(grad, want, rtol=1e-3, atol=1e-7)
                if not good and ok and wrong_formula is None:
                    wrong_formula = wrong_at_moderate_logits(run)
                # a value right here by a coincidence of the logits (a wrong formula can be) explains nothing
                claims.claim("gradient", 0.5, good, "" if good or not ok else wrong_formula[name] if name in wrong_formula
                             else f"the gradient of {name} w.r.t. the {side} logits "
                             f"{at} is " + ("missing" if grad is None else f"[{', '.join(map(fmt, np.ravel(grad) + 0.0))}]")
                             + f", expected [{', '.join(map(fmt, want.ravel()))}], although the value there is right.")
    return claims.outcome()
