"""Checks of the GAN losses and GAN.loss_nonsaturating. Deterministic: no false failures."""
import numpy as np
from hypothesis import given, strategies as st

from autograder.selfcheck.expect import Claims, fmt, near, values
from autograder.selfcheck.public_checks import compare
from .inputs import golden, hypothesis_settings, rng

HYPOTHESIS = hypothesis_settings(max_examples=25)


def loss_values(run):
    """Values and gradients of the three losses on hidden logits and on generated ones (shapes, scales)."""
    claims = Claims()
    case = golden("gan_losses")["inputs"]
    compare(run, case["real"], case["fake"], claims, "on hidden logits", weight=3)
    reasons = []

    @HYPOTHESIS
    @given(n_real=st.integers(1, 40), n_fake=st.integers(1, 40), scale=st.sampled_from([0.1, 1.0, 5.0, 30.0]),
           seed=st.integers(0, 2 ** 16))
    def prop(n_real, n_fake, scale, seed):
        g = rng("gan", "values", seed)
        sub = Claims()
        compare(run, (g.normal(size=n_real) * scale).astype(np.float32),
                (g.normal(size=(n_fake, 1)) * scale).astype(np.float32), sub, f"on generated logits (scale {scale})")
        if sub.failed:
            reasons.append(sub.failed[0][1])
            raise AssertionError

    try:
        prop()
        claims.claim(3, True, "")
    except AssertionError:
        claims.claim(3, False, reasons[-1])
    return claims.outcome()


def loss_nonsaturating(run):
    """d_loss and g_loss on hidden weights and data equal the reference's (golden); d_loss sends no
    gradient into G, g_loss does; z is drawn once per call."""
    case = golden("gan_step")
    inputs, expected = case["inputs"], case["expected"]
    out = run("gan_step", state=inputs["state"], z_dim=int(inputs["z_dim"]), x_real=inputs["x_real"],
              seed=int(inputs["seed"]))
    claims = Claims()
    claims.claim(1, out["distinct_z"] == 1, f"the generator saw {out['distinct_z']} different z: draw z once "
                 "(the template's z), compute x_fake = self.g(z) once, and use it for both losses.")
    d_loss, g_loss = values(out["d_loss"], "d_loss"), values(out["g_loss"], "g_loss")
    claims.claim(1, d_loss.size == 1 and near(float(d_loss.ravel()[0]), float(expected["d_loss"]), 1e-4),
                 f"d_loss is {fmt(float(d_loss.ravel()[0]))}, expected {fmt(float(expected['d_loss']))}: "
                 "d_loss = discriminator_loss(self.d(x_real), self.d(x_fake.detach())).")
    claims.claim(1, g_loss.size == 1 and near(float(g_loss.ravel()[0]), float(expected["g_loss"]), 1e-4),
                 f"g_loss is {fmt(float(g_loss.ravel()[0]))}, expected {fmt(float(expected['g_loss']))}: "
                 "g_loss = generator_loss_nonsaturating(self.d(x_fake)).")
    claims.claim(2, out["d_loss_grad_g"] == 0.0, "d_loss sends gradient into the generator: detach x_fake "
                 "(self.d(x_fake.detach())) in the discriminator's loss.")
    claims.claim(2, out["g_loss_grad_g"] > 0.0, "g_loss sends no gradient into the generator: do not detach "
                 "x_fake in the generator's loss.")
    claims.claim(1, out["d_loss_grad_d"] > 0.0, "d_loss sends no gradient into the discriminator.")
    return claims.outcome()
