"""The probe of every graded file's device claim (selfcheck/devices.py): its functions with their inputs on
torch's meta device or on CUDA."""
import numpy as np
import torch

from .common import probe
from .ewc import small_net


def on_device_calls(hw, file, device):
    """{function: call()} of `file` with every input on `device` (values matter on CUDA only). Models are
    built under `torch.device(device)`, not moved with `.to()`: moving to meta replaces the parameters,
    which would leave the provided VAE's `self.z_prior` tuple on the CPU (on CUDA `.to()` keeps them)."""
    rand = lambda *shape: torch.rand(*shape, device=device) * 0.8 + 0.1

    def built(make):
        with torch.device(device):   # only while building: the student's own calls run outside it
            return make()
    if file == "utils.py":
        return {"sample_gaussian": lambda: hw.utils.sample_gaussian(rand(5, 3), rand(5, 3))}
    if file == "models/vae.py":
        def bound():
            model = built(lambda: hw.vae.VAE(z_dim=2))
            original = hw.utils.sample_gaussian   # the bound alone: a stand-in that keeps the device
            hw.utils.sample_gaussian = lambda m, v: m + v * torch.randn_like(m)
            try:
                return model.negative_elbo_bound(torch.bernoulli(rand(4, 784)))
            finally:
                hw.utils.sample_gaussian = original
        return {"negative_elbo_bound": bound}
    if file == "models/gan.py":
        logits = lambda: (rand(6) - 0.5) * 8
        return {"discriminator_loss": lambda: hw.gan.discriminator_loss(logits(), logits()),
                "generator_loss_minimax": lambda: hw.gan.generator_loss_minimax(logits()),
                "generator_loss_nonsaturating": lambda: hw.gan.generator_loss_nonsaturating(logits()),
                "GAN.loss_nonsaturating": lambda: built(lambda: hw.gan.GAN(z_dim=4)).loss_nonsaturating(
                    rand(4, 784), device=torch.device(device))}
    if file == "diffusion.py":
        betas = lambda: torch.linspace(1e-3, 0.2, 10, device=device)
        return {"alpha_bars": lambda: hw.diffusion.alpha_bars(betas()),
                "q_xt_given_x0": lambda: hw.diffusion.q_xt_given_x0(rand(3, 4), 5, betas()),
                "q_posterior": lambda: (*hw.diffusion.q_posterior(rand(3, 4), rand(3, 4), 1, betas()),
                                        *hw.diffusion.q_posterior(rand(3, 4), rand(3, 4), 5, betas()))}
    if file == "ewc.py":
        g = np.random.default_rng(0)
        state = {k: g.normal(size=shape).astype(np.float32) for k, shape in
                 (("hidden.weight", (5, 4)), ("hidden.bias", (5,)), ("out.weight", (3, 5)), ("out.bias", (3,)))}
        net = lambda: built(lambda: small_net(state))
        loader = lambda: [(rand(3, 4), torch.tensor([0, 2, 1], device=device)) for _ in range(2)]

        def penalty():
            model = net()
            return hw.ewc.ewc_penalty(model, {n: rand(*p.shape) for n, p in model.named_parameters()},
                                      {n: rand(*p.shape) for n, p in model.named_parameters()}, 10.0)
        return {"fisher_diagonal": lambda: hw.ewc.fisher_diagonal(net(), loader()), "ewc_penalty": penalty}
    raise ValueError(f"no device calls for {file}")


def devices_of(result):
    """The devices of every tensor in a result (tuples, lists and dicts of tensors). A 0-dim tensor on the
    CPU is left out: torch lets it meet tensors on any device (a variance of 0 at t = 1, say)."""
    if isinstance(result, torch.Tensor):
        return [] if result.dim() == 0 and result.device.type == "cpu" else [str(result.device)]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (tuple, list)):
        return [d for r in result[:64] for d in devices_of(r)]
    return []


@probe
def on_device(hw, file, device):
    """Each function of `file` with its inputs on `device` ('meta' or 'cuda'): the error it raised (its
    text, cut short: the judge only matches it) or the devices of what it returned."""
    hw.require(file)
    if device == "cuda" and not torch.cuda.is_available():
        return {"available": False, "calls": {}}
    calls = {}
    for name, call in on_device_calls(hw, file, device).items():
        try:
            calls[name] = {"error": None, "devices": devices_of(call())}
        except Exception as error:   # only a device mismatch is evidence; the judge decides which this is
            calls[name] = {"error": f"{type(error).__name__}: {error}"[:500], "devices": None}
    return {"available": True, "calls": calls}
