"""Training loops, the course's evaluation of a VAE, the thread setting and the start of a run (provided)."""
from pathlib import Path

import torch
from tqdm import tqdm

import data

# One torch thread by default. These models are small (batches of 64-100 through layers of a few
# hundred units), so extra intra-op threads gain little even on an idle machine, while on a busy or
# shared one torch's default (one thread per core) oversubscribes the cores: a 300-iteration VAE took
# 60.5 s with the default threads and 5.2 s with one thread on a busy 2-core machine. On CUDA the GPU
# does the work and the setting hardly matters. Pass --threads N on an idle many-core machine.
DEFAULT_THREADS = 1


def add_threads_argument(parser):
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help="torch CPU threads (torch.set_num_threads); 0 keeps torch's own default")


def set_threads(threads):
    """torch.set_num_threads(threads) when threads > 0; returns torch.get_num_threads()."""
    if threads < 0:
        raise ValueError(f"--threads must be 0 (torch's default) or positive, not {threads}")
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def start_run(out, threads, device):
    """Set torch's threads, make the output folder and announce both; returns (out, threads)."""
    threads = set_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device: {device} ({threads} torch thread{'s' * (threads != 1)}); outputs in {out.resolve()}")
    return out, threads


def train_vae(model, train, *, iter_max, batch_size=100, lr=1e-3, seed=0, device="cpu", progress=True):
    """Adam on the negative ELBO, each batch binarized afresh with torch.bernoulli (as the course does)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    stream = data.batches(train, batch_size, torch.Generator().manual_seed(seed), device)
    bar = tqdm(range(iter_max), desc="vae", disable=not progress, mininterval=1.0)
    for _ in bar:
        x, _ = next(stream)
        loss, summaries = model.loss(torch.bernoulli(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.set_postfix(loss=f"{summaries['train/loss']:.2f}", kl=f"{summaries['gen/kl_z']:.2f}",
                        rec=f"{summaries['gen/rec']:.2f}", refresh=False)
    return model


@torch.no_grad()
def evaluate_vae(model, test, *, subset=1000, repeats=100, device="cpu"):
    """Test NELBO, KL and reconstruction the course's way: a fixed test subset, binarized once
    with seed 0, the bound averaged over `repeats` passes. Returns a dict of floats."""
    torch.manual_seed(0)
    x = torch.bernoulli(test.x[:subset]).to(device)
    totals = torch.zeros(3)
    for _ in range(repeats):
        totals += torch.stack([t.detach().cpu() for t in model.negative_elbo_bound(x)])
    nelbo, kl, rec = (totals / repeats).tolist()
    return {"nelbo": nelbo, "kl": kl, "rec": rec}


def train_gan(model, train, *, iter_max, batch_size=64, lr=2e-4, seed=0, device="cpu", progress=True, records=100):
    """Alternating Adam steps on the non-saturating losses, on [0, 1] images. Returns the history: at
    about `records` iterations spread over the run, D's and G's losses and D's accuracy on that real
    batch and on a fresh generated one (see gan_accuracy)."""
    d_opt = torch.optim.Adam(model.d.parameters(), lr=lr, betas=(0.5, 0.999))
    g_opt = torch.optim.Adam(model.g.parameters(), lr=lr, betas=(0.5, 0.999))
    stream = data.batches(train, batch_size, torch.Generator().manual_seed(seed), device)
    probe_z = torch.Generator().manual_seed(seed + 1)   # its own noise: training draws the same z as without it
    every = max(1, iter_max // records)
    history = {"iteration": [], "d_loss": [], "g_loss": [], "d_accuracy_real": [], "d_accuracy_generated": []}
    bar = tqdm(range(iter_max), desc="gan", disable=not progress, mininterval=1.0)
    for step in bar:
        x, _ = next(stream)
        d_loss, g_loss = model.loss_nonsaturating(x, device=device)
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        # The generator's step needs D's new weights: recompute its loss.
        _, g_loss = model.loss_nonsaturating(x, device=device)
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
        if step % every == 0 or step == iter_max - 1:
            real, generated = gan_accuracy(model, x, probe_z)
            for key, value in (("iteration", step + 1), ("d_loss", d_loss.item()), ("g_loss", g_loss.item()),
                               ("d_accuracy_real", real), ("d_accuracy_generated", generated)):
                history[key].append(value)
        bar.set_postfix(d_loss=f"{d_loss.item():.3f}", g_loss=f"{g_loss.item():.3f}", refresh=False)
    return history


@torch.no_grad()
def gan_accuracy(model, x_real, generator):
    """D's accuracy on a real batch (logit > 0) and on as many samples G makes now (logit < 0), in the
    modes training uses; G's batch-norm running statistics are put back, so sampling later is unchanged."""
    saved = [b.clone() for b in model.g.buffers()]
    z = torch.randn(len(x_real), model.g.z_dim, generator=generator).to(x_real.device)
    real = (model.d(x_real) > 0).float().mean().item()
    generated = (model.d(model.g(z)) < 0).float().mean().item()
    for buffer, value in zip(model.g.buffers(), saved):
        buffer.copy_(value)
    return real, generated
