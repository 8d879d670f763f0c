"""Short training runs with the student's code; the judge scores the returned weights itself, with
trusted numpy code. Each run is seeded and single-threaded, so its result is reproducible; the
thresholds sit between what the reference reaches and what the recognizable mistakes reach (see
tests/test_checks.py, which measures both)."""
import numpy as np

from autograder.selfcheck.expect import CheckFailed, Claims, fmt
from autograder.checks import numeric
from .inputs import gan_state, golden, rng, small_net_state

VAE_STEPS, VAE_Z = 150, 10
# Sized to what the threshold needs (measured over the corpus at 150/200/300 steps and 2/4 held-out
# passes): after 150 steps the reference reaches 172.7 and every mistake this test catches is above
# 205 (detached sample 205.8, mis-scaled terms 205.7-223.4, mean decoded 288, sign errors and zeros
# far above); 190 sits between, with the same verdicts over the corpus as 300 steps and a limit of 175.
VAE_MAX_NELBO = 190.0
GAN_STEPS = 40
EWC_STEPS, EWC_LAM, EWC_LR, EWC_HIDDEN = 300, 1000.0, 1e-2, 16   # reference: naive keeps 71% of task A, EWC 86%


def digits():
    d = golden("digits")["inputs"]
    return d["train_x"].astype(np.float32) / 255.0, d["train_y"], d["test_x"].astype(np.float32) / 255.0, d["test_y"]


def held_out_nelbo(state, x, repeats=2):
    g = rng("training", "vae", "held-out")
    xb = (g.random(x.shape) < x).astype(np.float64)
    z_dim = state["dec.net.0.weight"].shape[1]
    return float(np.mean([numeric.vae_bound(state, xb, g.normal(size=(len(xb), z_dim)))[0] for _ in range(repeats)]))


def vae(run):
    """150 Adam steps of the course VAE on the student's bound; the judge's held-out NELBO must fall below 190."""
    train_x, _, test_x, _ = digits()
    out = run("vae_train", x=train_x, z_dim=VAE_Z, steps=VAE_STEPS, batch_size=100, seed=0)
    nelbo = held_out_nelbo(out["state"], test_x)
    if np.isfinite(nelbo):
        getattr(run, "measured", {})["held-out NELBO"] = round(nelbo, 2)   # the leaderboard's column
    if not np.isfinite(nelbo) or nelbo > VAE_MAX_NELBO:
        raise CheckFailed(f"after {VAE_STEPS} training steps on your negative_elbo_bound, the held-out negative "
                          f"ELBO (computed by the grader from your trained weights) is {fmt(nelbo)}; a correct bound "
                          f"reaches about 173 (limit {VAE_MAX_NELBO:g}). The bound's gradient does not train the "
                          "model well: check the signs, batch means and that z stays attached to the encoder.")


def gan(run):
    """Phase 1: the student's d_loss trains D (G fixed) until it separates held-out real digits from fakes.
    Phase 2: the student's g_loss trains G (D fixed) until the non-saturating loss falls."""
    train_x, _, test_x, _ = digits()
    z_dim = 16
    state = gan_state(rng("training", "gan"), z_dim)
    out = run("gan_train", state=state, z_dim=z_dim, x=train_x, steps=GAN_STEPS, batch_size=64, seed=0)
    d_state, g_state = out["after_d"], out["after_g"]
    z = rng("training", "gan", "z").normal(size=(256, z_dim))
    claims = Claims()
    real = numeric.discriminator_logits(d_state, test_x[:256].astype(np.float64))
    fake_before = numeric.discriminator_logits(d_state, numeric.generator(d_state, z))
    separation = float(np.mean(real[:, None] > fake_before[None, :]))   # AUC of D's logits
    x_test = test_x[:256].astype(np.float64)
    initial_margin = (numeric.discriminator_logits(state, x_test).mean()
                      - numeric.discriminator_logits(state, numeric.generator(d_state, z)).mean())
    margin = real.mean() - fake_before.mean()
    # reference: the logit margin between real and fake grows from ~0 to ~11 in 40 steps
    claims.claim(1, margin > initial_margin + 2.0, f"after {GAN_STEPS} discriminator steps on your d_loss, D's mean "
                 f"logit on real digits exceeds its mean logit on fakes by {fmt(margin)} (it started at "
                 f"{fmt(initial_margin)}): D did not learn. Check that d_loss pushes real logits up and fake ones down.")
    claims.claim(1, separation > 0.95, f"after {GAN_STEPS} discriminator steps on your d_loss, D separates held-out "
                 f"real digits from generated ones only {separation:.0%} of the time (expected > 95%): check the "
                 "sign of each term and which logits are real and which fake.")
    if margin <= initial_margin + 2.0 or separation <= 0.95:
        # G learns against the D of phase 1: with a D that did not learn, its loss says nothing of g_loss.
        claims.fail(1, "the generator's steps could not be judged: they train against the discriminator your d_loss "
                       "trained, which did not learn (above).")
        return claims.outcome()
    fake_after = numeric.discriminator_logits(d_state, numeric.generator(g_state, z))
    loss_before, loss_after = (float(numeric.softplus(-f).mean()) for f in (fake_before, fake_after))
    # reference: from about 5.9 to 0.14
    claims.claim(1, loss_after < loss_before - 0.05,
                 f"after {GAN_STEPS} generator steps on your g_loss, the generator's non-saturating loss against "
                 f"the fixed D went from {fmt(loss_before)} to {fmt(loss_after)}; it should fall by more than 0.05: "
                 "check the sign of g_loss and that it is not detached from G.")
    return claims.outcome()


def ewc(run):
    """Task A then task B (a pixel permutation); EWC with the student's Fisher and penalty must keep
    more of task A than naive training, by at least 5 accuracy points, and still learn task B."""
    train_x, train_y, test_x, test_y = digits()
    perm = rng("training", "ewc", "perm").permutation(784)
    state = small_net_state(rng("training", "ewc"), 784, EWC_HIDDEN, 10)
    out = run("ewc_train", state=state, xa=train_x, ya=train_y, xb=train_x[:, perm], yb=train_y, steps=EWC_STEPS,
              lam=EWC_LAM, batch_size=64, seed=0, fisher_samples=500, lr=EWC_LR)
    acc = lambda s, x: numeric.small_net_accuracy(s, x, test_y)
    naive_a, ewc_a, ewc_b = acc(out["naive"], test_x), acc(out["ewc"], test_x), acc(out["ewc"], test_x[:, perm])
    claims = Claims()
    claims.claim(2, ewc_a > naive_a + 0.05, f"with your EWC, accuracy on task A after learning task B is {ewc_a:.1%}, "
                 f"naive training keeps {naive_a:.1%}: EWC should keep at least 5 points more. Check the Fisher "
                 "(per-sample squared gradients, eval mode) and the penalty (lam / 2 * sum F (theta - star)^2).")
    claims.claim(1, ewc_b > 0.5, f"with your EWC, task B reaches only {ewc_b:.1%} accuracy (expected above "
                 "50%): the penalty holds the parameters too close to task A's.")
    return claims.outcome()
