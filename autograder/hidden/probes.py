"""Probes of the hidden VAE tests (2.1-2.4), kept out of the handout: they build the reparameterized
sample, which is the answer to sample_gaussian (tests 1.1-1.4). It exists only as a local function
inside these calls, never as a name a student's sample_gaussian could import and delegate to.
Importing this module registers the probes (the worker and the staff tools do; the handout cannot)."""
import numpy as np
import torch

if __package__ == "hidden":   # in the worker, whose scratch folder holds selfcheck/ beside hidden/
    from selfcheck.probes import Adam, array, backward, bound, on_cpu, probe, training_device, unpack, vae_model
else:                         # the judge's local runs (autograder.selfcheck.local)
    from ..selfcheck.probes import Adam, array, backward, bound, on_cpu, probe, training_device, unpack, vae_model


@probe
def vae_bound(hw, state, z_dim, x, eps, gradients=True):
    """nelbo, kl, rec of the student's bound with the sample m + sqrt(v) * eps (eps the judge's), and
    (if asked) their gradients."""
    return bound(hw, state, z_dim, x, eps, gradients, transform=lambda m, v, noise: m + v.sqrt() * noise)


@probe
def vae_bound_repeated(hw, state, z_dim, x, eps):
    """vae_bound without gradients on one model four times (test 2.2): on the batch, on it again, on the
    batch passed twice (x and eps each concatenated with themselves), and on the batch in eval mode. One model and one transfer of
    its weights for the three, not three (0.1 s a grading)."""
    hw.require("models/vae.py")
    model = vae_model(hw, z_dim, state)
    sample = lambda m, v, noise: m + v.sqrt() * noise
    doubled_x, doubled_eps = np.concatenate([x, x]), np.concatenate([eps, eps])
    out = {"once": bound(hw, state, z_dim, x, eps, False, sample, model),
           "again": bound(hw, state, z_dim, x, eps, False, sample, model),
           "twice": bound(hw, state, z_dim, doubled_x, doubled_eps, False, sample, model)}
    model.eval()   # the VAE's networks have no mode-dependent layers: a correct bound is the same in eval mode
    out["in_eval"] = bound(hw, state, z_dim, x, eps, False, sample, model)
    return out


@probe
def vae_train(hw, x, z_dim, steps, batch_size, seed, lr=1e-3, device="cpu"):
    """Train the course's VAE with the student's bound and a trusted sampler; return the weights. The
    batches are drawn on the CPU (the same on every device); the sampler's noise on the device."""
    hw.require("models/vae.py")
    device = training_device(device)
    torch.manual_seed(seed)
    model = vae_model(hw, z_dim).to(device)
    optimizer = Adam(model.parameters(), lr=lr)
    data = torch.tensor(x)
    generator = torch.Generator().manual_seed(seed)
    original = hw.utils.sample_gaussian
    hw.utils.sample_gaussian = lambda m, v: m + v.sqrt() * torch.randn_like(m)
    try:
        losses = []
        for step in range(steps):
            batch = data[torch.randint(len(data), (batch_size,), generator=generator)]
            nelbo = unpack(model.negative_elbo_bound(torch.bernoulli(batch, generator=generator).to(device)), 3,
                           "negative_elbo_bound")[0]
            optimizer.zero_grad()
            backward(nelbo, "nelbo", step)
            optimizer.step()
            losses.append(float(array(nelbo, "nelbo")))
    finally:
        hw.utils.sample_gaussian = original
    return {"state": on_cpu(model.state_dict()), "losses": np.array(losses), "device": str(device)}
