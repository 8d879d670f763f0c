"""The probes of models/gan.py: the three losses on given logits, one step of GAN.loss_nonsaturating,
and a short training run of D, then G."""
import numpy as np
import torch

from ..homework import describe
from .common import Adam, array, backward, frozen_parameters, grad_array, on_cpu, probe, training_device, unpack


@probe
def gan_losses(hw, real, fake):
    """The three losses on the given logits, with their gradients w.r.t. the logits."""
    hw.require("models/gan.py")
    out = {}
    calls = {"discriminator_loss": lambda r, f: hw.gan.discriminator_loss(r, f),
             "generator_loss_minimax": lambda r, f: hw.gan.generator_loss_minimax(f),
             "generator_loss_nonsaturating": lambda r, f: hw.gan.generator_loss_nonsaturating(f)}
    for name, call in calls.items():
        r, f = torch.tensor(real, requires_grad=True), torch.tensor(fake, requires_grad=True)
        try:
            value = call(r, f)
            out[name] = array(value, name)
            grads = (None, None)
            if value.requires_grad and value.numel() == 1:
                grads = torch.autograd.grad(value.sum(), (r, f), allow_unused=True)
            out[name + "_grad_real"], out[name + "_grad_fake"] = (grad_array(g) for g in grads)
            out[name + "_error"] = None
        except Exception as error:  # one broken loss must not hide the others
            out[name] = None
            out[name + "_error"] = describe(error, hw.root)   # the judge shows it only through redaction
    return out


@probe
def gan_step(hw, state, z_dim, x_real, seed):
    """d_loss, g_loss of GAN.loss_nonsaturating, the z the generator saw, and where the gradients go."""
    hw.require("models/gan.py")
    model = hw.gan.GAN(z_dim=z_dim)
    model.load_state_dict({k: torch.tensor(a) for k, a in state.items()})
    model.eval()   # batch norm on its running statistics: values independent of how the calls are batched
    seen = []
    g_forward = model.g.forward

    def recording_forward(z):
        seen.append(array(z, "z"))
        return g_forward(z)

    model.g.forward = recording_forward
    frozen_before = {"g": set(frozen_parameters(model.g)), "d": set(frozen_parameters(model.d))}
    torch.manual_seed(seed)
    d_loss, g_loss = unpack(model.loss_nonsaturating(torch.tensor(x_real), device="cpu"), 2, "loss_nonsaturating")
    distinct = []
    for z in seen:
        if not any(z.shape == d.shape and np.array_equal(z, d) for d in distinct):
            distinct.append(z)
    out = {"d_loss": array(d_loss, "d_loss"), "g_loss": array(g_loss, "g_loss"), "distinct_z": len(distinct),
           "z": distinct[0] if distinct else None}   # the judge predicts suspected mistakes from it
    groups = {"g": list(model.g.parameters()), "d": list(model.d.parameters())}
    # parameters that required grad before the call and no longer do were switched off by it (a fact the check
    # may report); they are switched back on for the judge's own gradients below, which the losses' graphs (built
    # before or after the switch) still determine, so torch.autograd.grad never fails on the judge's side
    for group, net in (("g", model.g), ("d", model.d)):
        out[f"{group}_params_frozen"] = len(set(frozen_parameters(net)) - frozen_before[group])
    for params in groups.values():
        for p in params:
            p.requires_grad_(True)
    out["grad_error"] = None
    for label, loss in (("d_loss", d_loss), ("g_loss", g_loss)):
        for group, params in groups.items():
            norm = 0.0
            if loss.requires_grad:
                try:   # an in-place op of the method on a tensor the graph saved fails here, after it returned
                    grads = torch.autograd.grad(loss.sum(), params, allow_unused=True, retain_graph=True)
                    norm = float(sum(g.detach().pow(2).sum() for g in grads if g is not None)) ** 0.5
                except RuntimeError as error:   # this loss's norms are None: the judge says why, once
                    out["grad_error"] = f"BackwardFailed: {label}: {type(error).__name__}: {error}"
                    norm = None
            out[f"{label}_grad_{group}"] = norm
    return out


@probe
def gan_train(hw, state, z_dim, x, steps, batch_size, seed, device="cpu"):
    """Phase 1: D learns with the student's d_loss, G fixed. Phase 2: G learns with g_loss, D fixed."""
    hw.require("models/gan.py")
    device = training_device(device)
    model = hw.gan.GAN(z_dim=z_dim)
    model.load_state_dict({k: torch.tensor(a) for k, a in state.items()})
    model.to(device)
    torch.manual_seed(seed)
    data = torch.tensor(x)
    generator = torch.Generator().manual_seed(seed)
    batches = lambda: data[torch.randint(len(data), (batch_size,), generator=generator)].to(device)
    weights = {"device": str(device)}
    initially_frozen = {"D": set(frozen_parameters(model.d)), "G": set(frozen_parameters(model.g))}
    for phase, (which, net) in enumerate((("after_d", model.d), ("after_g", model.g))):
        optimizer = Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for step in range(steps):
            loss = unpack(model.loss_nonsaturating(batches(), device=device), 2, "loss_nonsaturating")[phase]
            optimizer.zero_grad()
            net_name = ("D", "G")[phase]
            frozen = set(frozen_parameters(net)) - initially_frozen[net_name]
            backward(loss, ("d_loss", "g_loss")[phase], step, "" if not frozen else (
                f": after loss_nonsaturating returned, parameters of {net_name} no longer require grad (they did "
                f"before the first call), so the caller cannot train {net_name} with it"))
            optimizer.step()
        weights[which] = on_cpu(model.state_dict())
    return weights
