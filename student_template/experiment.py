"""Train the homework's VAE or GAN and save 200 samples tiled 10 x 20.

    python experiment.py --model vae [--iter-max 10000] [--seeds 1] [--seed 0] [--z-dim 10]
    python experiment.py --model gan [--iter-max 10000]
    [--dataset mnist|fashion-mnist] [--out runs/]

Uses CUDA when it is available, the CPU otherwise.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torchvision.utils import save_image

import data
import train
import utils as ut
from models.gan import GAN
from models.vae import VAE


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=("vae", "gan"), required=True)
    p.add_argument("--iter-max", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0, help="the first seed")
    p.add_argument("--seeds", type=int, default=1, help="train this many times (seed, seed+1, ...)")
    p.add_argument("--z-dim", type=int, default=None, help="latent size (vae 10, gan 64)")
    p.add_argument("--dataset", choices=data.DATASETS, default="mnist")
    p.add_argument("--out", default="runs", help="folder for the outputs")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def run_once(args, seed, train_split, test_split, device, out):
    torch.manual_seed(seed)
    if args.model == "vae":
        model = VAE(z_dim=args.z_dim or 10, name=f"vae_seed{seed}").to(device)
        train.train_vae(model, train_split, iter_max=args.iter_max, seed=seed, device=device,
                        progress=not args.no_progress)
        metrics = train.evaluate_vae(model, test_split, device=device)
    else:
        model = GAN(z_dim=args.z_dim or 64, name=f"gan_seed{seed}").to(device)
        train.train_gan(model, train_split, iter_max=args.iter_max, seed=seed, device=device,
                        progress=not args.no_progress)
        metrics = {}
    with torch.no_grad():
        torch.manual_seed(seed)
        samples = model.sample_x(200) if args.model == "vae" else model.sample_x(200, device)
    grid = out / f"{args.model}_samples_seed{seed}.png"
    save_image(samples.reshape(200, 1, 28, 28).cpu(), grid, nrow=20, padding=2)
    torch.save(model.state_dict(), out / f"{args.model}_seed{seed}.pt")
    print(f"seed {seed}: " + "  ".join(f"{k} {v:.2f}" for k, v in metrics.items()) + f"  samples: {grid}")
    return metrics


def mean_and_stderr(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def main(argv=None):
    args = parse_args(argv)
    device = ut.device()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"device: {device}; outputs in {out.resolve()}")
    try:
        train_split, test_split, description = data.load(args.dataset)
    except data.DataError as error:
        sys.exit(f"error: {error}")
    started = time.time()
    runs = [run_once(args, args.seed + k, train_split, test_split, device, out) for k in range(args.seeds)]
    summary = {"model": args.model, "iter_max": args.iter_max, "seeds": args.seeds, "data": description,
               "device": str(device), "seconds": round(time.time() - started, 1), "runs": runs}
    if args.model == "vae":
        for key in ("nelbo", "kl", "rec"):
            mean, stderr = mean_and_stderr([r[key] for r in runs])
            summary[key] = {"mean": mean, "stderr": stderr}
            print(f"test {key}: {mean:.2f} +/- {stderr:.2f} (mean +/- standard error over {args.seeds} seeds)")
    (out / f"{args.model}_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
