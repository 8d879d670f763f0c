"""Worker-side probes: run the student's functions on inputs from the judge and return plain data.

`PROBES[name](hw, **inputs) -> dict` where inputs and outputs are numpy arrays and Python scalars
(they cross the data-only channel). Probes never decide anything: the judge compares what they
return with what it expects. They run inside the sandboxed worker, or in-process for self-checks.
"""
import contextlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .homework import describe

PROBES = {}


def probe(function):
    PROBES[function.__name__] = function
    return function


class StudentValueError(Exception):
    """The student's function returned something that is not what the API promises."""


def array(x, what):
    """A tensor returned by student code, as a numpy array (tensor subclasses lose their tricks)."""
    if not isinstance(x, torch.Tensor):
        raise StudentValueError(f"{what} should be a torch.Tensor, but it is a {type(x).__name__}")
    with torch._C.DisableTorchFunctionSubclass():
        plain = torch.Tensor.as_subclass(x, torch.Tensor).detach().cpu()
        if plain.dtype == torch.bfloat16 or plain.is_complex():
            raise StudentValueError(f"{what} has dtype {plain.dtype}, expected a float tensor")
        return plain.clone().numpy()


def grad_array(g):
    # In the dtype it was computed in: the goldens' rounding tolerance follows that dtype.
    return None if g is None else array(g, "gradient")


def tensors(arrays, requires_grad=False):
    return {k: torch.tensor(v, requires_grad=requires_grad) for k, v in arrays.items()}


class Adam:
    """torch.optim.Adam's CPU update (single-tensor; no weight decay, amsgrad or maximize) written out:
    the same steps bit for bit (tests/test_reference.py), without torch.optim's first use importing
    torch._dynamo, which costs 1.4 s of every grading."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, (self.beta1, self.beta2), self.eps = list(params), lr, betas, eps
        self.state = [(torch.zeros_like(p), torch.zeros_like(p), [0]) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, (exp_avg, exp_avg_sq, step) in zip(self.params, self.state):
            if p.grad is None:
                continue
            step[0] += 1
            exp_avg.lerp_(p.grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            step_size = self.lr / (1 - self.beta1 ** float(step[0]))
            denom = (exp_avg_sq.sqrt() / (1 - self.beta2 ** float(step[0])) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


def unpack(result, count, what):
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise StudentValueError(f"{what} should return a tuple of {count} tensors, "
                                f"but it returned {type(result).__name__}"
                                + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


# --- utils.py -------------------------------------------------------------------------------------

@probe
def sample_gaussian(hw, m, v, seed=0, gradient=True):
    """z from two consecutive calls, z again after re-seeding, and d(sum z)/dm, d(sum z)/dv."""
    hw.require("utils.py")
    f = hw.utils.sample_gaussian
    fresh = lambda: (torch.tensor(m), torch.tensor(v))   # each call its own inputs: one that modifies them
    mt = torch.tensor(m, requires_grad=gradient)          # in place cannot change what the next call sees
    vt = torch.tensor(v, requires_grad=gradient)
    torch.manual_seed(seed)
    z1 = f(mt, vt)
    z = array(z1, "z")                                    # copied now: z1 may be m itself, changed later
    z2 = array(f(*fresh()), "z")
    torch.manual_seed(seed)
    z3 = array(f(*fresh()), "z")
    out = {"z": z, "z_next": z2, "z_reseeded": z3,
           "dtype": str(z1.dtype).replace("torch.", ""), "shape": list(z1.shape),
           "m_after": array(mt, "m"), "v_after": array(vt, "v"), "grad_m": None, "grad_v": None}
    if gradient and z1.requires_grad:
        gm, gv = torch.autograd.grad(z1.sum(), (mt, vt), allow_unused=True)
        out["grad_m"], out["grad_v"] = grad_array(gm), grad_array(gv)
    return out


# --- models/vae.py --------------------------------------------------------------------------------

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


def bound(hw, state, z_dim, x, eps, gradients, transform):
    """nelbo, kl, rec of the student's bound with the controlled sample, and (if asked) their gradients."""
    hw.require("models/vae.py")
    model = vae_model(hw, z_dim, state)
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


# --- models/gan.py --------------------------------------------------------------------------------

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
    torch.manual_seed(seed)
    d_loss, g_loss = unpack(model.loss_nonsaturating(torch.tensor(x_real), device="cpu"), 2, "loss_nonsaturating")
    distinct = []
    for z in seen:
        if not any(z.shape == d.shape and np.array_equal(z, d) for d in distinct):
            distinct.append(z)
    out = {"d_loss": array(d_loss, "d_loss"), "g_loss": array(g_loss, "g_loss"), "distinct_z": len(distinct),
           "z": distinct[0] if distinct else None}   # the judge predicts suspected mistakes from it
    groups = {"g": list(model.g.parameters()), "d": list(model.d.parameters())}
    for label, loss in (("d_loss", d_loss), ("g_loss", g_loss)):
        for group, params in groups.items():
            norm = 0.0
            if loss.requires_grad:
                grads = torch.autograd.grad(loss.sum(), params, allow_unused=True, retain_graph=True)
                norm = float(sum(g.detach().pow(2).sum() for g in grads if g is not None)) ** 0.5
            out[f"{label}_grad_{group}"] = norm
    return out


def training_device(device):
    """The device a training probe runs on: 'auto' is CUDA where this process has it, else the CPU.
    Batches are drawn on the CPU and moved, so every device trains on the same samples."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def on_cpu(state):
    return {k: array(v, k) for k, v in state.items()}


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
    for phase, (which, net) in enumerate((("after_d", model.d), ("after_g", model.g))):
        optimizer = Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for _ in range(steps):
            loss = unpack(model.loss_nonsaturating(batches(), device=device), 2, "loss_nonsaturating")[phase]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weights[which] = on_cpu(model.state_dict())
    return weights


# --- diffusion.py ---------------------------------------------------------------------------------

@probe
def diffusion(hw, betas, x0, xt, t):
    """alpha_bars(betas), q_xt_given_x0(x0, t, betas) and q_posterior(xt, x0, t, betas)."""
    hw.require("diffusion.py")
    b, a0, at = torch.tensor(betas), torch.tensor(x0), torch.tensor(xt)
    out = {}
    for name, call, count in (("alpha_bars", lambda: hw.diffusion.alpha_bars(b.clone()), 1),
                              ("q_xt_given_x0", lambda: hw.diffusion.q_xt_given_x0(a0.clone(), int(t), b.clone()), 2),
                              ("q_posterior", lambda: hw.diffusion.q_posterior(at.clone(), a0.clone(), int(t), b.clone()), 2)):
        try:
            result = call()
            parts = [result] if count == 1 else unpack(result, 2, name)
            out[name] = [array(p, name) for p in parts]
            out[name + "_dtype"] = [str(p.dtype).replace("torch.", "") for p in parts]
            out[name + "_error"] = None
        except Exception as error:
            out[name], out[name + "_dtype"] = None, None
            out[name + "_error"] = describe(error, hw.root)   # the judge shows it only through redaction
    return out


# --- ewc.py ---------------------------------------------------------------------------------------

class SmallNet(nn.Module):
    """A small classifier with dropout, so that train mode changes the Fisher."""

    def __init__(self, d_in, hidden, classes, dropout=0.5):
        super().__init__()
        self.hidden = nn.Linear(d_in, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(self.drop(torch.tanh(self.hidden(x))))


def small_net(state, dropout=0.5):
    d_in, hidden, classes = state["hidden.weight"].shape[1], state["hidden.weight"].shape[0], state["out.weight"].shape[0]
    model = SmallNet(d_in, hidden, classes, dropout)
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return model


@probe
def fisher(hw, state, x, y, batch_size, train_mode, seed=0, dropout=0.5):
    """The student's Fisher of a small dropout net (dropout 0: the same net without it), and what it did
    to the model."""
    hw.require("ewc.py")
    model = small_net(state, dropout)
    model.train(bool(train_mode))
    loader = [(torch.tensor(x[i:i + batch_size]), torch.tensor(y[i:i + batch_size]))
              for i in range(0, len(x), batch_size)]
    torch.manual_seed(seed)
    result = hw.ewc.fisher_diagonal(model, loader)
    if not isinstance(result, dict):
        raise StudentValueError(f"fisher_diagonal should return a dict, but it returned {type(result).__name__}")
    return {"fisher": {str(k): array(v, f"fisher[{k!r}]") for k, v in result.items()},
            "requires_grad": any(isinstance(v, torch.Tensor) and v.requires_grad for v in result.values()),
            "state_after": {k: array(v, k) for k, v in model.state_dict().items()},
            "training_after": model.training}


@probe
def ewc_penalty(hw, state, fisher, star, lam, frozen=()):
    """The student's penalty, its gradient w.r.t. the parameters, and any gradient into fisher/star.
    `frozen`: parameters set to requires_grad=False (fisher and star then have no entry for them)."""
    hw.require("ewc.py")
    model = small_net(state)
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    f = tensors(fisher, requires_grad=True)
    s = tensors(star, requires_grad=True)
    value = hw.ewc.ewc_penalty(model, f, s, float(lam))
    if type(value) in (int, float):   # a Python number (e.g. from .item()): the judge says why that fails
        return {"value": np.array(float(value)), "tensor": False, "grad": None, "leak": False}
    out = {"value": array(value, "the penalty"), "tensor": True, "grad": None, "leak": False}
    if isinstance(value, torch.Tensor) and value.requires_grad and value.numel() == 1:
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        leaves = list(params.values()) + list(f.values()) + list(s.values())
        grads = torch.autograd.grad(value.sum(), leaves, allow_unused=True)
        out["grad"] = {n: grad_array(g) for n, g in zip(params, grads)}
        out["leak"] = any(g is not None and bool(g.abs().sum() > 0) for g in grads[len(params):])
    return out


@probe
def ewc_train(hw, after_a, xa, ya, xb, yb, batches, lam, fisher_samples, lr=1e-3, device="cpu"):
    """Task B with EWC (the student's Fisher of the judge's task-A weights `after_a` on task A's first
    `fisher_samples` samples, and the student's penalty), on the judge's batches (rows of indices into
    xb); the weights after it. Task A's training and the naive baseline are the judge's own
    (checks/training.py): nothing the judge compares with is computed in this process."""
    hw.require("ewc.py")
    device = training_device(device)
    model = small_net(after_a, dropout=0.0).to(device)
    xa, ya, xb, yb = (torch.tensor(a) for a in (xa, ya, xb, yb))
    loader = [(xa[i:i + 50].to(device), ya[i:i + 50].to(device)) for i in range(0, fisher_samples, 50)]
    fisher_a = hw.ewc.fisher_diagonal(model, loader)
    star = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = Adam(model.parameters(), lr=lr)
    model.train()
    for index in torch.tensor(batches):
        loss = F.cross_entropy(model(xb[index].to(device)), yb[index].to(device))
        loss = loss + hw.ewc.ewc_penalty(model, fisher_a, star, float(lam))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"ewc": on_cpu(model.state_dict()), "device": str(device)}


# --- every file: the device claim (selfcheck/devices.py) ------------------------------------------

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
