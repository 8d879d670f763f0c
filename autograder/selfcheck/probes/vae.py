"""The probes of models/vae.py: the bound with a sample the judge controls (bound and vae_model are
the hidden tests' probes' too, autograder/hidden/probes.py)."""
import contextlib

import torch

from .common import StudentValueError, array, grad_array, probe, unpack


@contextlib.contextmanager
def controlled_sampler(hw, eps, transform):
    """Replace ut.sample_gaussian with transform(m, v, noise) for a noise eps the judge chose."""
    calls = []
    original = hw.utils.sample_gaussian

    def sample(m, v):
        calls.append(tuple(m.shape))
        noise = torch.as_tensor(eps, dtype=m.dtype)
        if noise.shape != m.shape:
            raise StudentValueError(f"ut.sample_gaussian was called with a mean of shape {tuple(m.shape)}; "
                                    f"expected {tuple(noise.shape)} (batch, z_dim)")
        return transform(m, v, noise)

    hw.utils.sample_gaussian = sample
    try:
        yield calls
    finally:
        hw.utils.sample_gaussian = original


def vae_model(hw, z_dim, state=None):
    model = hw.vae.VAE(z_dim=z_dim)
    if state is not None:
        model.load_state_dict({k: torch.tensor(a) for k, a in state.items()}, strict=False)
    return model


def bound(hw, state, z_dim, x, eps, gradients, transform, model=None):
    """nelbo, kl, rec of the student's bound with the controlled sample, and (if asked) their gradients;
    on `model` when given (already holding `state`), else on a model built for this call."""
    hw.require("models/vae.py")
    model = vae_model(hw, z_dim, state) if model is None else model
    with controlled_sampler(hw, eps, transform) as calls:
        result = unpack(model.negative_elbo_bound(torch.tensor(x)), 3, "negative_elbo_bound")
    named = {n: p for n, p in model.named_parameters() if p.requires_grad}
    out = {"sampler_calls": len(calls), "numbers": []}
    for label, value in zip(("nelbo", "kl", "rec"), result):
        if label != "nelbo" and isinstance(value, (int, float)) and not isinstance(value, bool):
            # kl.item(): its value still counts (2.1); that it is no tensor is judged once (2.2)
            out["numbers"].append(f"{label} as a {type(value).__name__}")
            value = torch.tensor(float(value))
        out[label] = array(value, label)
        out[f"{label}_grad"] = None
        if gradients and isinstance(value, torch.Tensor) and value.requires_grad and value.numel() == 1:
            grads = torch.autograd.grad(value.sum(), list(named.values()), allow_unused=True, retain_graph=True)
            out[f"{label}_grad"] = {n: grad_array(g) for n, g in zip(named, grads)}
    return out


@probe
def vae_bound_stand_in(hw, state, z_dim, x, eps, gradients=True):
    """The public check's probe. Its z = m + v * eps is a stand-in, NOT a Gaussian sample: differentiable
    in m and v and driven by the judge's noise, which is all the bound's properties need. (The hidden
    tests' probes, with the real sample, are not in the handout: see autograder/hidden/probes.py in the grader.)"""
    return bound(hw, state, z_dim, x, eps, gradients, transform=lambda m, v, noise: m + v * noise)
