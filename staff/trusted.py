"""Proofs that the judge's trusted numpy recomputations (autograder/checks/numeric.py) still compute
what the homework's provided code computes.

numeric.py re-implements, in numpy, code the homework provides and the checks rely on: the VAE's
encoder and decoder (models/nns.py) with `utils.gaussian_parameters`, `utils.kl_normal`,
`utils.log_bernoulli_with_logits`, and the GAN's MLP generator and discriminator. A TA who edits one
of those in reference/ changes what the reference computes but not what the judge expects, and the
reference itself stops getting full marks. Each proof runs one numpy recomputation and the
reference's own code on the same inputs; a disagreement names the helper. `staff goldens --check`
and `staff package` run them.
"""
import numpy as np

from autograder.checks import numeric
from autograder.checks.inputs import gan_state, rng, vae_state
from staff import REPO

RELATIVE = 1e-4   # torch computes in float32, numeric.py in float64: a few epsilons of float32 apart


def _numpy(t):
    return t.detach().double().numpy()


def gaussian_parameters(hw, torch):
    """The encoder's last layer set to a constant h (zero weights): numeric's split of h into
    (m, v) against the helper's, with nothing else in the way."""
    g = rng("trusted", "gaussian_parameters")
    state = vae_state(g, z_dim=3)
    h = g.normal(scale=3, size=6).astype(np.float32)
    state["enc.net.4.weight"] = np.zeros_like(state["enc.net.4.weight"])
    state["enc.net.4.bias"] = h
    x = g.random((5, 784)).astype(np.float32)
    ours = numeric.vae_encode(state, x.astype(np.float64))
    theirs = hw.utils.gaussian_parameters(torch.tensor(np.tile(h, (5, 1))), dim=1)
    return ours, [_numpy(t) for t in theirs]


def vae_encoder(hw, torch):
    from autograder.selfcheck.probes import vae_model
    g = rng("trusted", "encoder")
    state, x = vae_state(g, z_dim=4), g.random((6, 784)).astype(np.float32)
    theirs = vae_model(hw, 4, state).enc.encode(torch.tensor(x))
    return numeric.vae_encode(state, x.astype(np.float64)), [_numpy(t) for t in theirs]


def vae_decoder(hw, torch):
    from autograder.selfcheck.probes import vae_model
    g = rng("trusted", "decoder")
    state, z = vae_state(g, z_dim=4), g.normal(size=(6, 4)).astype(np.float32)
    return numeric.vae_decode(state, z.astype(np.float64)), _numpy(vae_model(hw, 4, state).dec.decode(torch.tensor(z)))


def kl_normal(hw, torch):
    g = rng("trusted", "kl")
    m, v = g.normal(size=(7, 5)), g.uniform(0.05, 4, (7, 5))
    theirs = hw.utils.kl_normal(torch.tensor(m), torch.tensor(v), torch.zeros(7, 5, dtype=torch.float64),
                                torch.ones(7, 5, dtype=torch.float64))
    return numeric.kl_to_standard_normal(m, v), _numpy(theirs)


def log_bernoulli_with_logits(hw, torch):
    g = rng("trusted", "bernoulli")
    x, logits = (g.random((7, 30)) < 0.4).astype(np.float64), g.normal(scale=4, size=(7, 30))
    return (numeric.bernoulli_log_likelihood(x, logits),
            _numpy(hw.utils.log_bernoulli_with_logits(torch.tensor(x), torch.tensor(logits))))


def _gan(hw, state, z_dim, torch):
    model = hw.gan.GAN(z_dim=z_dim)
    model.load_state_dict({k: torch.tensor(a) for k, a in state.items()})
    return model.eval()   # as the judge assumes: batch norm on its running statistics


def _gan_state(g, z_dim):
    state = gan_state(g, z_dim)
    for key in state:   # running statistics away from (0, 1), so that using them is what is proven
        if key.endswith("running_mean"):
            state[key] = g.normal(scale=0.3, size=state[key].shape).astype(np.float32)
        elif key.endswith("running_var"):
            state[key] = g.uniform(0.5, 2.0, state[key].shape).astype(np.float32)
    return state


def gan_discriminator(hw, torch):
    g = rng("trusted", "discriminator")
    state, x = _gan_state(g, 8), g.random((6, 784)).astype(np.float32)
    return numeric.discriminator_logits(state, x.astype(np.float64)), _numpy(_gan(hw, state, 8, torch).d(torch.tensor(x)))


def gan_generator(hw, torch):
    g = rng("trusted", "generator")
    state, z = _gan_state(g, 8), g.normal(size=(6, 8)).astype(np.float32)
    return numeric.generator(state, z.astype(np.float64)), _numpy(_gan(hw, state, 8, torch).g(torch.tensor(z)))


# (numeric.py's function, the provided code of the homework it must agree with, the proof)
PROOFS = [
    ("vae_encode (its split of the encoder's output)", "utils.gaussian_parameters", gaussian_parameters),
    ("vae_encode", "models/nns.py Encoder (v1) with utils.gaussian_parameters", vae_encoder),
    ("vae_decode", "models/nns.py Decoder (v1)", vae_decoder),
    ("kl_to_standard_normal", "utils.kl_normal against N(0, 1)", kl_normal),
    ("bernoulli_log_likelihood", "utils.log_bernoulli_with_logits", log_bernoulli_with_logits),
    ("discriminator_logits", "models/nns.py Discriminator (GAN arch 'mlp')", gan_discriminator),
    ("generator", "models/nns.py Generator (GAN arch 'mlp', eval mode)", gan_generator),
]


def largest_difference(ours, theirs):
    """max |ours - theirs| relative to the largest |theirs|, over matching arrays (inf: shapes differ)."""
    ours, theirs = (list(x) if isinstance(x, (list, tuple)) else [x] for x in (ours, theirs))
    if len(ours) != len(theirs):
        return float("inf")
    worst = 0.0
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)))
    return worst


def disagreements(reference=REPO / "reference", proofs=PROOFS):
    """One line per recomputation that no longer matches the provided code of the homework at
    `reference` (none: all agree)."""
    import torch
    from autograder.selfcheck.homework import Homework
    torch.set_num_threads(1)
    hw = Homework(reference)
    lines = []
    for ours, helper, proof in proofs:
        try:
            worst = largest_difference(*proof(hw, torch))
        except Exception as error:   # the helper's signature or the model's layout changed
            worst, detail = float("inf"), f"{type(error).__name__}: {error}"
        else:
            detail = f"largest difference {worst:.2g} of its scale"
        if not worst <= RELATIVE:
            lines.append(f"the judge's numpy recomputation numeric.{ours} (autograder/checks/numeric.py) no longer "
                         f"agrees with the reference's {helper} ({detail}); numeric.py hard-codes what that "
                         "code computes: make numeric.py match it, or revert the change to the helper")
    return lines
