"""What each recognizable mistake of the three GAN losses returns on given logits (numpy, float64): the
hypotheses checks/gan.py names a cause from (only when the returned value equals exactly one of them and
the correct value does not)."""
import numpy as np

from autograder.selfcheck.expect import diagnose
from autograder.checks import numeric

ls = numeric.logsigmoid


def logits_as_probabilities(h, eps):
    """log of h clamped into [eps, 1 - eps] and log of 1 minus it, as binary_cross_entropy computes them
    for logits passed where it expects probabilities (its logs are clamped at -100)."""
    p = np.clip(h, eps, 1 - eps)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)


CLAMPS = (0.0, 1e-12, 1e-8, 1e-7, 1e-6, 1e-5)   # the clamps students put around logits fed to BCE


def hypotheses(name, real, fake, correct):
    """[(key, value that mistake returns, what to say)] for one loss on these logits (`correct`: its right value)."""
    r, f = real.astype(np.float64), fake.astype(np.float64)
    h = [("gan_sign", -correct, "it is the negative of the right value: the sign is flipped"),
         ("gan_half", correct / 2, "it is half the right value (as a stray factor 1/2 or one mean over the real "
                                   "and fake logits together would give)")]
    probabilities = ("the logits were used as probabilities D(x) (clamped and passed to binary_cross_entropy or "
                     "log): D(x) = sigmoid(h); use F.binary_cross_entropy_with_logits or F.logsigmoid")
    per_row = lambda a: a.sum() / a.shape[0]   # the mean over the batch of each row's sum
    if f.ndim > 1 and f.size > f.shape[0]:
        h.append(("gan_batch_mean", {"discriminator_loss": -per_row(ls(r)) - per_row(ls(-f)),
                                     "generator_loss_minimax": per_row(ls(-f)),
                                     "generator_loss_nonsaturating": -per_row(ls(f))}[name],
                  f"it is divided by the batch size ({f.shape[0]}), not the number of elements ({f.size}): "
                  "the losses average over all elements"))
    if name == "discriminator_loss":
        if r.size > 1 or f.size > 1:
            h.append(("gan_sum", -ls(r).sum() - ls(-f).sum(), f"it equals the sum over the logits ({r.size} real, "
                      f"{f.size} fake): average each term with .mean()"))
        h += [("gan_d_swapped", -ls(f).mean() - ls(-r).mean(), "it equals the loss with real and fake in swapped "
               "roles: D should push real logits up and fake ones down"),
              ("gan_one_minus_h", -ls(r).mean() - ls(1 - f).mean(), "log(1 - D(x)) was written as logsigmoid(1 - h); "
               "1 - sigmoid(h) = sigmoid(-h)"),
              ("gan_d_count_copied", -ls(r).mean() - ls(-f).sum() / r.size, f"its fake term is divided by the "
               f"number of REAL logits ({r.size}), not of fake ones ({f.size}): average each term over its own "
               "logits"),   # the right loss where the two counts are equal: identify leaves it out there
              ("gan_d_real_only", -ls(r).mean(), "it equals the real term alone: the fake term -mean log(1 - D(G(z))) "
               "is missing"),
              ("gan_d_fake_as_real", -ls(r).mean() - ls(f).mean(), "its fake term is -mean log D(G(z)), which "
               "rewards D for calling fakes real: it is -mean log(1 - D(G(z))) = -mean logsigmoid(-h_fake)"),
              ("gan_mean_before_log", -ls(np.array(r.mean())) - ls(np.array(-f.mean())), "it equals the loss of the "
               "MEAN logits (real and fake each averaged before the log-sigmoid): average the per-logit losses, "
               "after the nonlinearity")]
        h += [("gan_logits_as_probabilities", -logits_as_probabilities(r, e)[0].mean()
               - logits_as_probabilities(f, e)[1].mean(), probabilities) for e in CLAMPS]
    elif name == "generator_loss_minimax":
        if f.size > 1:
            h.append(("gan_sum", ls(-f).sum(), "it equals the sum over the logits: average with .mean()"))
        h += [("gan_minimax_is_nonsat", -ls(f).mean(), "it equals the non-saturating loss -mean log D(G(z)); the "
               "minimax one is mean log(1 - D(G(z)))"),
              ("gan_one_minus_h", ls(1 - f).mean(), "log(1 - D(x)) was written as logsigmoid(1 - h); 1 - sigmoid(h) "
               "= sigmoid(-h)")]
        h += [("gan_logits_as_probabilities", logits_as_probabilities(f, e)[1].mean(), probabilities) for e in CLAMPS]
    else:
        if f.size > 1:
            h.append(("gan_sum", -ls(f).sum(), "it equals the sum over the logits: average with .mean()"))
        h += [("gan_nonsat_is_minimax", ls(-f).mean(), "it equals the minimax loss mean log(1 - D(G(z))); the "
               "non-saturating one is -mean log D(G(z))"),
              ("gan_bce_zero_targets", -ls(-f).mean(), "it equals binary cross-entropy against zeros: the generator's "
               "targets are ones (it wants its fakes called real)")]
        h += [("gan_logits_as_probabilities", -logits_as_probabilities(f, e)[0].mean(), probabilities) for e in CLAMPS]
    return h


def raised_on_shapes(name, error, real, fake):
    """The shapes' part in a discriminator_loss that raised: an elementwise operation between tensors of the
    real and the fake logits' shapes fails exactly where those shapes do not broadcast ('' otherwise)."""
    try:
        np.broadcast_shapes(real.shape, fake.shape)
        return ""
    except ValueError:
        pass
    if name != "discriminator_loss" or "must match the size of tensor" not in str(error):
        return ""
    return " " + diagnose("gan_terms_elementwise", f"An elementwise operation raised on tensors of mismatched sizes, "
                          f"and the real and fake logits here, of shapes {real.shape} and {fake.shape}, do not broadcast "
                          "against each other: the two batches may differ in size, so average each term over its own "
                          "logits before combining them.")
