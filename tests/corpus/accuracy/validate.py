"""Check that every corpus variant is classified as its `kind` says.

Run: .venv/bin/python tests/corpus/accuracy/validate.py [-k SUBSTRING] [-v]

For each variant: apply it to a copy of the reference (tests/corpus/accuracy/apply.py), import the
copy, and compare it with the reference on a few random inputs. A CORRECT variant must match the
reference (values and gradients to 1e-5 relative; for sample_gaussian: sample statistics over 200k
draws, the reparameterization gradient, repeatability under torch.manual_seed, dtype, no input
mutation). A WRONG variant must differ somewhere (values, gradients, dtype, input mutation, mode
restore, NaN/inf at t = 1 or at logits of 1e4, an exception, ...). Exits 1 on any misclassification.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
REFERENCE = REPO / "reference"
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO))
from apply import GRADED_FILES, apply_variant, extract_region, find_region, load_variants  # noqa: E402
from autograder.selfcheck.surface import GRADED  # noqa: E402

SUPPORT_FILES = ("models/__init__.py", "models/nns.py")
MODULE_NAMES = ("utils", "models", "models.nns", "models.vae", "models.gan", "diffusion", "ewc")
RTOL = 1e-5
torch.set_num_threads(1)  # small tensors: threads only add contention


# ----------------------------------------------------------------------------- loading

def load_modules(folder: Path) -> dict:
    """Import the homework modules from `folder` (fresh module objects)."""
    for name in MODULE_NAMES:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        mods = {name: importlib.import_module(name) for name in ("utils", "models.vae", "models.gan", "diffusion", "ewc")}
    finally:
        sys.path.remove(str(folder))
        for name in MODULE_NAMES:
            sys.modules.pop(name, None)
    return mods


def materialize(variant: dict | None, root: Path) -> Path:
    if variant is None:
        for rel in GRADED_FILES:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REFERENCE / rel, root / rel)
    else:
        apply_variant(REFERENCE, variant, root)
    for rel in SUPPORT_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REFERENCE / rel, root / rel)
    return root


# ----------------------------------------------------------------------------- comparison helpers

def close(a, b) -> bool:
    """a matches b (the reference) to RTOL, relative to b's scale; same dtype, broadcastable shape."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.dtype != b.dtype:
        return False
    try:
        a = torch.broadcast_to(a, b.shape)
    except RuntimeError:
        return False
    a64, b64 = a.detach().double(), b.detach().double()
    if not torch.isfinite(a64).all():
        return False
    scale = b64.abs().max().item() if b64.numel() else 0.0
    return bool(torch.allclose(a64, b64, rtol=RTOL, atol=RTOL * max(scale, 1e-12)))


def grad_or_zero(p):
    return torch.zeros_like(p) if p.grad is None else p.grad


def gradient_mismatch(model, ref_model):
    """The first parameter whose gradient differs from the reference's, or None. Relative to the largest
    gradient entry of the whole model: a bias that feeds batch norm has a gradient of rounding noise,
    which no formula reproduces to 1e-5 of itself."""
    pairs = [(n, grad_or_zero(p), grad_or_zero(q)) for (n, p), (_, q) in
             zip(model.named_parameters(), ref_model.named_parameters())]
    scale = max((b.detach().double().abs().max().item() for _, _, b in pairs if b.numel()), default=0.0)
    for n, a, b in pairs:
        a64, b64 = a.detach().double(), b.detach().double()
        if (a.dtype != b.dtype or a.shape != b.shape or not torch.isfinite(a64).all()
                or not torch.allclose(a64, b64, rtol=RTOL, atol=RTOL * max(scale, 1e-12))):
            return n
    return None


class Checker:
    def __init__(self):
        self.problems: list[str] = []

    def need(self, ok, what: str):
        if not ok:
            self.problems.append(what)
        return ok


# ----------------------------------------------------------------------------- utils.sample_gaussian

def check_sample_gaussian(mod, ref, c: Checker):
    f = mod["utils"].sample_gaussian
    for dtype in (torch.float32, torch.float64):
        g = torch.Generator().manual_seed(1)
        m0 = torch.randn(1000, 200, generator=g, dtype=dtype)
        v0 = torch.rand(1000, 200, generator=g, dtype=dtype) * 3 + 0.05
        m, v = m0.clone().requires_grad_(), v0.clone().requires_grad_()
        torch.manual_seed(123)
        z = f(m, v)
        tag = f"[{str(dtype)[6:]}]"
        if not c.need(isinstance(z, torch.Tensor), f"{tag} returns no tensor"):
            return
        c.need(z.shape == m.shape, f"{tag} shape {tuple(z.shape)}")
        c.need(z.dtype == m.dtype, f"{tag} dtype {z.dtype}")
        c.need(torch.equal(m.detach(), m0) and torch.equal(v.detach(), v0), f"{tag} modifies its inputs")
        c.need(not bool((z.detach() == m0).all(dim=1).any()), f"{tag} a row of z without noise")
        eps = ((z.detach().double() - m0.double()) / v0.double().sqrt())
        c.need(abs(eps.mean().item()) < 0.02, f"{tag} noise mean {eps.mean().item():.3f}")
        # independent draws do not average exactly 0 (|N(0, 1)| < 1e-4 has probability 8e-5)
        c.need(abs(eps.mean().item()) * eps.numel() ** 0.5 > 1e-4, f"{tag} noise re-centred on its own mean")
        c.need(abs(eps.var().item() - 1) < 0.03, f"{tag} standardized variance {eps.var().item():.3f}")
        kurt = (eps ** 4).mean().item() / eps.var().item() ** 2
        c.need(abs(kurt - 3) < 0.15, f"{tag} non-Gaussian noise (kurtosis {kurt:.2f})")
        # 0.27% of N(0, 1) lies beyond 3: 540 of these 200,000 draws (sd 23)
        c.need((eps.abs() > 3.0001).double().mean().item() > 0.002, f"{tag} noise without tails beyond 3")
        c.need(eps.std(dim=0).mean().item() > 0.9, f"{tag} noise shared across the batch")
        c.need(eps.std(dim=1).mean().item() > 0.9, f"{tag} noise shared within a row")
        rows = torch.corrcoef(torch.stack([eps[1:].reshape(-1), eps[:-1].reshape(-1)]))[0, 1].item()
        c.need(abs(rows) < 0.02, f"{tag} neighbouring rows correlated ({rows:.3f})")
        # reparameterization gradient
        if c.need(z.requires_grad, f"{tag} no gradient"):
            w = torch.randn(z.shape, generator=g, dtype=dtype)
            m.grad = v.grad = None
            z.backward(w)
            c.need(m.grad is not None and torch.allclose(m.grad, w, rtol=1e-4, atol=1e-6), f"{tag} dz/dm wrong")
            want = w.double() * eps / (2 * v0.double().sqrt())
            c.need(v.grad is not None and torch.allclose(v.grad.double(), want, rtol=1e-3, atol=1e-4),
                   f"{tag} dz/dv wrong")
        # repeatability with the default generator
        with torch.no_grad():
            torch.manual_seed(7)
            a = f(m0.clone()[:4], v0.clone()[:4])
            torch.manual_seed(7)
            b = f(m0.clone()[:4], v0.clone()[:4])
            torch.manual_seed(8)
            d = f(m0.clone()[:4], v0.clone()[:4])
            small = f(torch.zeros(1000, 1, dtype=dtype), torch.full((1000, 1), 1e-4, dtype=dtype))
            three = f(torch.zeros(2, 3, 4, dtype=dtype), torch.ones(2, 3, 4, dtype=dtype))
        c.need(small.shape == (1000, 1), f"{tag} shape {tuple(small.shape)} for m of shape (1000, 1)")
        c.need(three.shape == (2, 3, 4), f"{tag} shape {tuple(three.shape)} for m of shape (2, 3, 4)")
        small_sd = small.double().std().item()
        c.need(abs(small_sd / 1e-2 - 1) < 0.15, f"{tag} standard deviation {small_sd:.3g} at v = 1e-4")
        c.need(torch.equal(a, b), f"{tag} not repeatable under torch.manual_seed")
        c.need(not torch.equal(a, d), f"{tag} same sample for different seeds")


# ----------------------------------------------------------------------------- VAE

def check_vae(mod, ref, c: Checker):
    torch.manual_seed(0)
    ref_model = ref["models.vae"].VAE(z_dim=3)
    model = mod["models.vae"].VAE(z_dim=3)
    model.load_state_dict(ref_model.state_dict())
    g = torch.Generator().manual_seed(3)
    x = torch.bernoulli(torch.full((6, 784), 0.3), generator=g)
    outs = []
    for m in (ref_model, model):
        torch.manual_seed(11)
        out = m.negative_elbo_bound(x)
        m.zero_grad()
        outs.append(out)
    r, s = outs
    if not c.need(isinstance(s, tuple) and len(s) == 3, "does not return 3 values"):
        return
    for name, a, b in zip(("nelbo", "kl", "rec"), s, r):
        if not c.need(isinstance(a, torch.Tensor) and a.dim() == 0, f"{name} not a 0-dim tensor"):
            return
        c.need(close(a, b), f"{name} {a.item():.4g} vs {b.item():.4g}")
    # a larger batch than the grader's hidden one (8): a bound that depends on the batch's size shows here
    x12 = torch.bernoulli(torch.full((12, 784), 0.3), generator=g)
    with torch.no_grad():
        torch.manual_seed(13)
        r12 = ref_model.negative_elbo_bound(x12)
        torch.manual_seed(13)
        s12 = model.negative_elbo_bound(x12)
    for name, a, b in zip(("nelbo", "kl", "rec"), s12, r12):
        c.need(isinstance(a, torch.Tensor) and a.numel() == 1 and close(a.reshape(()), b), f"batch of 12: {name}")
    # in eval mode (the VAE's networks have no mode-dependent layers: the bound is the same)
    model.eval()
    with torch.no_grad():
        torch.manual_seed(13)
        e12 = model.negative_elbo_bound(x12)
    model.train()
    for name, a, b in zip(("nelbo", "kl", "rec"), e12, r12):
        c.need(isinstance(a, torch.Tensor) and a.numel() == 1 and close(a.reshape(()), b), f"eval mode: {name}")
    if c.need(s[0].requires_grad, "nelbo has no gradient"):
        r[0].backward()
        s[0].backward()
        n = gradient_mismatch(model, ref_model)
        c.need(n is None, f"gradient of nelbo w.r.t. {n}")
    # the same with a second seed-free batch, for kl/rec individually differentiable
    model.zero_grad()
    ref_model.zero_grad()
    for idx, name in ((1, "kl"), (2, "rec")):
        torch.manual_seed(12)
        r2 = ref_model.negative_elbo_bound(x)[idx]
        torch.manual_seed(12)
        s2 = model.negative_elbo_bound(x)[idx]
        if not s2.requires_grad:
            c.need(False, f"{name} has no gradient")
            continue
        r2.backward()
        s2.backward()
        n = gradient_mismatch(model, ref_model)
        c.need(n is None, f"gradient of {name} w.r.t. {n}")
        model.zero_grad()
        ref_model.zero_grad()
    # a latent size of one (where a squeeze changes which dimension a sum runs over): values only
    torch.manual_seed(0)
    ref_1 = ref["models.vae"].VAE(z_dim=1)
    model_1 = mod["models.vae"].VAE(z_dim=1)
    model_1.load_state_dict(ref_1.state_dict())
    values_1 = []
    for m in (ref_1, model_1):
        torch.manual_seed(13)
        values_1.append(m.negative_elbo_bound(x))
    for name, a, b in zip(("nelbo", "kl", "rec"), values_1[1], values_1[0]):
        c.need(isinstance(a, torch.Tensor) and a.numel() == 1 and close(a.reshape(()), b),
               f"z_dim 1: {name} {float(a.reshape(-1)[0]) if isinstance(a, torch.Tensor) else a:.4g} vs {b.item():.4g}")


# ----------------------------------------------------------------------------- GAN

def gan_logits():
    g = torch.Generator().manual_seed(5)
    yield "random", torch.randn(7, 3, generator=g) * 3, torch.randn(5, generator=g) * 3
    yield "rows of 4", torch.randn(6, 4, generator=g) * 3, torch.randn(8, 4, generator=g) * 3   # any shape
    big = torch.tensor([1e4, -1e4, 0.0, 5.0, -30.0])
    yield "|h|=1e4", big, big.flip(0) * 1.0


def check_gan_loss(name, mod, ref, c: Checker):
    f, fr = getattr(mod["models.gan"], name), getattr(ref["models.gan"], name)
    for tag, a0, b0 in gan_logits():
        args = [a0.clone().requires_grad_(), b0.clone().requires_grad_()]
        rargs = [a0.clone().requires_grad_(), b0.clone().requires_grad_()]
        n_args = 2 if name == "discriminator_loss" else 1
        if n_args == 1:
            args, rargs = args[1:], rargs[1:]
        out, rout = f(*args), fr(*rargs)
        if not c.need(isinstance(out, torch.Tensor) and out.dim() == 0, f"[{tag}] not a 0-dim tensor"):
            return
        if not c.need(bool(torch.isfinite(out)), f"[{tag}] not finite: {out.item()}"):
            continue
        c.need(close(out, rout), f"[{tag}] value {out.item():.5g} vs {rout.item():.5g}")
        if c.need(out.requires_grad, f"[{tag}] no gradient"):
            out.backward()
            rout.backward()
            for i, (p, q) in enumerate(zip(args, rargs)):
                c.need(close(grad_or_zero(p), grad_or_zero(q)), f"[{tag}] gradient w.r.t. argument {i}")


def check_gan_method(mod, ref, c: Checker):
    torch.manual_seed(0)
    ref_model = ref["models.gan"].GAN(z_dim=8)
    model = mod["models.gan"].GAN(z_dim=8)
    model.load_state_dict(ref_model.state_dict())
    x = torch.rand(6, 784, generator=torch.Generator().manual_seed(2))
    outs = []
    for m in (ref_model, model):
        torch.manual_seed(21)
        outs.append(m.loss_nonsaturating(x, device="cpu"))
    (rd, rg), (sd, sg) = outs
    c.need(close(sd, rd), "d_loss value")
    c.need(close(sg, rg), "g_loss value")
    for tag, s, r in (("d_loss", sd, rd), ("g_loss", sg, rg)):
        model.zero_grad()
        ref_model.zero_grad()
        if not c.need(isinstance(s, torch.Tensor) and s.requires_grad, f"{tag} has no gradient"):
            continue
        s.backward(retain_graph=True)
        r.backward(retain_graph=True)
        n = gradient_mismatch(model, ref_model)
        c.need(n is None, f"gradient of {tag} w.r.t. {n}")


# ----------------------------------------------------------------------------- diffusion

def betas_cases():
    yield "linear32", torch.linspace(1e-4, 0.02, 50)
    yield "random64", torch.rand(20, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 0.3 + 0.01


def check_alpha_bars(mod, ref, c: Checker):
    for tag, b0 in betas_cases():
        b, rb = b0.clone().requires_grad_(), b0.clone().requires_grad_()
        out, rout = mod["diffusion"].alpha_bars(b), ref["diffusion"].alpha_bars(rb)
        if not c.need(close(out, rout) and out.shape == rout.shape, f"[{tag}] values"):
            continue
        if out.dtype == torch.float64:   # float64 betas: float64 accuracy, not float32's cast back
            c.need(torch.allclose(out.detach(), rout.detach(), rtol=1e-12, atol=0), f"[{tag}] float64 accuracy")
        w = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(1))
        if c.need(out.requires_grad, f"[{tag}] no gradient"):
            (out * w).sum().backward()
            (rout * w).sum().backward()
            c.need(close(grad_or_zero(b), grad_or_zero(rb)), f"[{tag}] gradient w.r.t. betas")


def diffusion_inputs():
    g = torch.Generator().manual_seed(9)
    for tag, betas in betas_cases():
        for dtype in (torch.float32, torch.float64):
            x0 = torch.randn(4, 3, generator=g, dtype=torch.float64).to(dtype)
            xt = torch.randn(4, 3, generator=g, dtype=torch.float64).to(dtype)
            for t in (1, 2, len(betas) // 2, len(betas)):
                yield f"{tag} x:{str(dtype)[6:]} t={t}", betas, x0, xt, t


def as_accurate(a, ref, truth) -> bool:
    """a matches the reference `ref`, or (in float32, where 1 - alpha_bar cancels) is at least about as
    close to the float64 `truth` as the float32 reference is."""
    if close(a, ref):
        return True
    if not isinstance(a, torch.Tensor) or a.dtype != torch.float32 or a.dtype != ref.dtype:
        return False
    try:
        a64 = torch.broadcast_to(a.detach().double(), truth.shape)
        r64 = torch.broadcast_to(ref.detach().double(), truth.shape)
    except RuntimeError:
        return False
    t64 = truth.detach().double()
    scale = max(t64.abs().max().item(), 1e-30)
    return (a64 - t64).abs().max().item() <= 2 * (r64 - t64).abs().max().item() + 2e-6 * scale


def run_diffusion(name, module, betas, x0, xt, t):
    """(mean, var, grads of (mean * w).sum() w.r.t. the inputs) for one call."""
    f = getattr(module["diffusion"], name)
    ins = [x0.clone().requires_grad_(), xt.clone().requires_grad_()]
    if name == "q_xt_given_x0":
        out = f(ins[0], t, betas.clone())
        ins = ins[:1]
    else:
        out = f(ins[1], ins[0], t, betas.clone())
    if not (isinstance(out, tuple) and len(out) == 2):
        return None
    mean, var = out
    var = torch.as_tensor(var)
    grads = None
    if isinstance(mean, torch.Tensor) and mean.requires_grad:
        w = torch.randn(x0.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(t)).to(mean.dtype)
        (mean * w).sum().backward()
        grads = [grad_or_zero(p) for p in ins]
    return mean, var, grads


def check_diffusion_pair(name, mod, ref, c: Checker):
    for tag, betas, x0, xt, t in diffusion_inputs():
        out = run_diffusion(name, mod, betas, x0, xt, t)
        if not c.need(out is not None, f"[{tag}] not (mean, var)"):
            return
        mean, var, grads = out
        rmean, rvar, rgrads = run_diffusion(name, ref, betas, x0, xt, t)
        tmean, tvar, tgrads = run_diffusion(name, ref, betas.double(), x0.double(), xt.double(), t)
        ok = c.need(torch.isfinite(mean).all() and torch.isfinite(var).all(), f"[{tag}] NaN or inf")
        ok = c.need(mean.dtype == x0.dtype and var.dtype == x0.dtype, f"[{tag}] dtype {mean.dtype}/{var.dtype}") and ok
        if not ok:
            continue
        c.need(mean.shape == x0.shape and as_accurate(mean, rmean, tmean), f"[{tag}] mean")
        try:
            var_ok = as_accurate(torch.broadcast_to(var, x0.shape), torch.broadcast_to(rvar, x0.shape),
                                 torch.broadcast_to(tvar, x0.shape))
        except RuntimeError:
            var_ok = False
        c.need(var_ok, f"[{tag}] var")
        if c.need(grads is not None, f"[{tag}] mean has no gradient"):
            for i, (p, q, r) in enumerate(zip(grads, rgrads, tgrads)):
                c.need(as_accurate(p, q, r), f"[{tag}] gradient of mean w.r.t. input {i}")


# ----------------------------------------------------------------------------- EWC

class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 5))
        self.offset = nn.Parameter(torch.linspace(-0.2, 0.2, 5), requires_grad=False)  # frozen

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1)) + self.offset


def ewc_loader():
    g = torch.Generator().manual_seed(6)
    return [(torch.randn(n, 12, generator=g), torch.randint(0, 5, (n,), generator=g)) for n in (5, 3, 4)]


def check_fisher(mod, ref, c: Checker):
    torch.manual_seed(0)
    base = TinyNet()
    loader = ewc_loader()
    torch.manual_seed(1)
    rmodel = copy.deepcopy(base).train()
    rf = ref["ewc"].fisher_diagonal(rmodel, loader)
    for start in ("train", "eval"):
        model = copy.deepcopy(base).train(start == "train")
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        torch.manual_seed(1)
        out = mod["ewc"].fisher_diagonal(model, loader)
        tag = f"[{start}]"
        c.need(model.training == (start == "train"), f"{tag} mode not restored")
        c.need(all(torch.equal(p.detach(), before[n]) for n, p in model.named_parameters()),
               f"{tag} parameters changed")
        if not c.need(isinstance(out, dict) and set(out) == set(rf), f"{tag} wrong keys"):
            continue
        for n in rf:
            c.need(isinstance(out[n], torch.Tensor) and out[n].shape == rf[n].shape and close(out[n], rf[n]),
                   f"{tag} value of {n}")
            c.need(isinstance(out[n], torch.Tensor) and not out[n].requires_grad, f"{tag} {n} not detached")


def check_penalty(mod, ref, c: Checker):
    torch.manual_seed(0)
    base = TinyNet()
    g = torch.Generator().manual_seed(8)
    names = [n for n, p in base.named_parameters() if p.requires_grad]
    shapes = dict((n, p.shape) for n, p in base.named_parameters())
    fisher0 = {n: torch.rand(shapes[n], generator=g) for n in names}
    star0 = {n: torch.randn(shapes[n], generator=g) * 0.1 + p.detach() for n, p in base.named_parameters() if n in names}
    lam = 0.7
    results = []
    for fn in (ref["ewc"].ewc_penalty, mod["ewc"].ewc_penalty):
        model = copy.deepcopy(base)
        fisher = {n: t.clone().requires_grad_() for n, t in fisher0.items()}
        star = {n: t.clone().requires_grad_() for n, t in star0.items()}
        out = fn(model, fisher, star, lam)
        results.append((model, fisher, star, out))
    (rm, _, _, rout), (m, fisher, star, out) = results
    if not c.need(isinstance(out, torch.Tensor) and out.dim() == 0, "not a 0-dim tensor"):
        return
    c.need(close(out, rout), f"value {out.item():.5g} vs {rout.item():.5g}")
    c.need(all(torch.equal(fisher[n].detach(), fisher0[n]) for n in names), "modifies fisher")
    c.need(all(torch.equal(star[n].detach(), star0[n]) for n in names), "modifies star")
    if not c.need(out.requires_grad, "no gradient"):
        return
    out.backward()
    rout.backward()
    n = gradient_mismatch(m, rm)
    c.need(n is None, f"gradient w.r.t. {n}")
    c.need(all(t.grad is None or not t.grad.any() for t in fisher.values()), "gradient flows into fisher")
    c.need(all(t.grad is None or not t.grad.any() for t in star.values()), "gradient flows into star")


# ----------------------------------------------------------------------------- devices (issue 20)

def device_problem(fname, mod):
    """Inputs on torch's meta device (a GPU stand-in: a device, no values): torch's error for tensors
    on two devices, or a result on another device, is a tensor made on a fixed device. Other errors
    (the meta device cannot give values) say nothing here."""
    meta = lambda *shape: torch.rand(*shape, device="meta")
    def built(make):   # built on meta, not moved there: .to("meta") would replace the parameters
        with torch.device("meta"):
            return make()
    net = lambda: built(TinyNet)
    gan = lambda: built(lambda: mod["models.gan"].GAN(z_dim=4))
    calls = {
        "sample_gaussian": lambda: mod["utils"].sample_gaussian(meta(4, 2), meta(4, 2)),
        "VAE.negative_elbo_bound": lambda: built(lambda: mod["models.vae"].VAE(z_dim=2)).negative_elbo_bound(meta(3, 784)),
        "discriminator_loss": lambda: mod["models.gan"].discriminator_loss(meta(5), meta(5)),
        "generator_loss_minimax": lambda: mod["models.gan"].generator_loss_minimax(meta(5)),
        "generator_loss_nonsaturating": lambda: mod["models.gan"].generator_loss_nonsaturating(meta(5)),
        "GAN.loss_nonsaturating": lambda: gan().loss_nonsaturating(meta(3, 784), device="meta"),
        "alpha_bars": lambda: mod["diffusion"].alpha_bars(meta(8)),
        "q_xt_given_x0": lambda: mod["diffusion"].q_xt_given_x0(meta(2, 3), 4, meta(8)),
        "q_posterior": lambda: (mod["diffusion"].q_posterior(meta(2, 3), meta(2, 3), 1, meta(8))
                                + mod["diffusion"].q_posterior(meta(2, 3), meta(2, 3), 4, meta(8))),
        "fisher_diagonal": lambda: mod["ewc"].fisher_diagonal(net(), [(meta(3, 12), torch.zeros(3, dtype=torch.long,
                                                                                             device="meta"))]),
        "ewc_penalty": lambda: (lambda m: mod["ewc"].ewc_penalty(m, {n: meta(*p.shape) for n, p in m.named_parameters()},
                                                                 {n: meta(*p.shape) for n, p in m.named_parameters()}, 1.0))(net()),
    }
    try:
        result = calls[fname]()
    except Exception as exc:  # noqa: BLE001
        return f"device mismatch on meta inputs: {str(exc)[:80]}" if "device" in str(exc) else None
    results = list(result.values()) if isinstance(result, dict) else list(result) if isinstance(result, tuple) else [result]
    wrong = [str(r.device) for r in results   # a 0-dim CPU tensor meets tensors on any device
             if isinstance(r, torch.Tensor) and r.device.type != "meta" and not (r.dim() == 0 and r.device.type == "cpu")]
    return f"returns a tensor on {wrong[0]} for inputs on meta" if wrong else None


# ----------------------------------------------------------------------------- driver

# One validator per graded function (main() refuses a graded function without one, or a stale name).
CHECKS = {
    "sample_gaussian": check_sample_gaussian,
    "VAE.negative_elbo_bound": check_vae,
    "discriminator_loss": lambda m, r, c: check_gan_loss("discriminator_loss", m, r, c),
    "generator_loss_minimax": lambda m, r, c: check_gan_loss("generator_loss_minimax", m, r, c),
    "generator_loss_nonsaturating": lambda m, r, c: check_gan_loss("generator_loss_nonsaturating", m, r, c),
    "GAN.loss_nonsaturating": check_gan_method,
    "alpha_bars": check_alpha_bars,
    "q_xt_given_x0": lambda m, r, c: check_diffusion_pair("q_xt_given_x0", m, r, c),
    "q_posterior": lambda m, r, c: check_diffusion_pair("q_posterior", m, r, c),
    "fisher_diagonal": check_fisher,
    "ewc_penalty": check_penalty,
}

FUNCTION_FILES = {name: file for file, names in GRADED.items() for name in names}   # from the surface

REQUIRED_KEYS = {"name", "kind", "function", "mistake", "hints", "code"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only variants whose name contains this")
    parser.add_argument("-v", action="store_true", help="print every difference found")
    args = parser.parse_args(argv)
    started = time.time()
    variants = load_variants(HERE)
    unmatched = [f"{name}: graded (autograder/selfcheck/surface.py) but has no validator in CHECKS"
                 for name in FUNCTION_FILES if name not in CHECKS]
    unmatched += [f"{name}: has a validator in CHECKS but is not a graded function" for name in CHECKS
                  if name not in FUNCTION_FILES]
    if unmatched:
        print("\n".join(f"SCHEMA: {line}" for line in unmatched))
        return 1
    bad_schema = []
    seen = set()
    for v in variants:
        missing = REQUIRED_KEYS - set(v)
        if missing or v.get("kind") not in ("wrong", "correct") or v["name"] in seen:
            bad_schema.append(f"{v.get('name')}: missing {sorted(missing)} / kind {v.get('kind')} / duplicate?")
        if v.get("kind") == "correct" and v.get("hints"):
            bad_schema.append(f"{v['name']}: correct variant with hints")
        if v.get("kind") == "wrong" and not (1 <= len(v.get("hints") or []) <= 3):
            bad_schema.append(f"{v['name']}: wrong variant needs 1-3 hints")
        if v.get("kind") == "wrong" and not isinstance(v.get("keys"), list):
            bad_schema.append(f"{v['name']}: wrong variant needs keys: [...] (the causes its feedback may name)")
        if v.get("kind") == "correct" and v.get("keys"):
            bad_schema.append(f"{v['name']}: correct variant with keys")
        from autograder.selfcheck.expect import DIAGNOSES
        if any(k not in DIAGNOSES for k in v.get("keys") or []):
            bad_schema.append(f"{v['name']}: keys not in autograder/selfcheck/diagnoses.py DIAGNOSES")
        if v.get("function") not in CHECKS:
            bad_schema.append(f"{v['name']}: unknown function {v.get('function')}")
        elif FUNCTION_FILES[v["function"]] != v["file"]:
            bad_schema.append(f"{v['name']}: {v['function']} is not in {v['file']}")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(v.get("name"))):
            bad_schema.append(f"{v.get('name')}: name is not snake_case")
        if any(h != h.lower() for h in v.get("hints") or []):
            bad_schema.append(f"{v['name']}: hints must be lowercase")
        seen.add(v.get("name"))
    variants = [v for v in variants if args.k in v["name"]]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref = load_modules(materialize(None, tmp / "reference"))
        # sanity: re-applying the reference's own solution body reproduces the reference file
        # without that region's two marker lines
        for fname in CHECKS:
            file = FUNCTION_FILES[fname]
            source = (REFERENCE / file).read_text()
            lines = source.splitlines(keepends=True)
            begin, end = find_region(lines, fname)
            expected = "".join(ln for i, ln in enumerate(lines) if i not in (begin, end))
            body = extract_region(source, fname)
            out = apply_variant(REFERENCE, {"file": file, "function": fname, "code": body}, tmp / "roundtrip")
            if (out / file).read_text() != expected:
                print(f"APPLY ROUND TRIP FAILS for {fname}")
                return 1
        # sanity: the reference against itself must pass every check
        for fname, check in CHECKS.items():
            c = Checker()
            check(load_modules(materialize(None, tmp / "reference_again")), ref, c)
            if c.problems:
                print(f"REFERENCE FAILS {fname}: {c.problems}")
                return 1
        rows, failures = [], []
        for i, v in enumerate(variants):
            c = Checker()
            try:
                mod = load_modules(materialize(v, tmp / f"v{i}"))
                CHECKS[v["function"]](mod, ref, c)
                device = None if c.problems else device_problem(v["function"], mod)
                c.need(device is None, str(device))
            except Exception as exc:  # noqa: BLE001
                c.problems.append(f"raises {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''}")
                if args.v:
                    traceback.print_exc()
            differs = bool(c.problems)
            ok = differs if v["kind"] == "wrong" else not differs
            rows.append((v["file"], v["function"], v["name"], v["kind"], "ok" if ok else "MISCLASSIFIED",
                         c.problems))
            if not ok:
                failures.append(v["name"])

    w_name = max((len(r[2]) for r in rows), default=4)
    w_fn = max((len(r[1]) for r in rows), default=8)
    print(f"{'file':<14} {'function':<{w_fn}} {'variant':<{w_name}} {'kind':<7} result")
    for file, fn, name, kind, res, problems in rows:
        detail = "" if not problems else ("; ".join(problems) if args.v else problems[0]
                                           + (f" (+{len(problems) - 1})" if len(problems) > 1 else ""))
        print(f"{file:<14} {fn:<{w_fn}} {name:<{w_name}} {kind:<7} {res:<13} {detail}")
    counts = {}
    for v in variants:
        counts.setdefault(v["file"], {"wrong": 0, "correct": 0})[v["kind"]] += 1
    print()
    for file, cnt in counts.items():
        print(f"{file:<14} wrong {cnt['wrong']:>3}  correct {cnt['correct']:>3}")
    print(f"total: {len(variants)} variants, {len(failures)} misclassified, {time.time() - started:.1f}s")
    for b in bad_schema:
        print("SCHEMA:", b)
    if failures:
        print("misclassified:", ", ".join(failures))
    return 1 if failures or bad_schema else 0


if __name__ == "__main__":
    sys.exit(main())
