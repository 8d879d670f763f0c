"""Train the homework's VAE or GAN and save 200 samples tiled 10 x 20.

    python experiment.py --model vae [--iter-max 10000] [--seeds 1] [--seed 0] [--z-dim 10]
    python experiment.py --model gan [--iter-max 3000] [--gan-arch conv|mlp]
    [--dataset mnist|fashion-mnist] [--out runs/] [--threads 1]

Uses CUDA when it is available, the CPU otherwise, with --threads torch threads (default 1).
"""
import argparse
import json
import math
import sys
import time

import torch
from torchvision.utils import save_image

import data
import train
import utils as ut
from models.gan import GAN
from models.nns import GANS
from models.vae import VAE

ITER_MAX = {"vae": 10000, "gan": 3000}   # the conv GAN: ~0.14 s an iteration on one CPU thread, 7-9 minutes
Z_DIM = {"vae": 10, "gan": 64}


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the docstring's layout and shows every option's default, unless its help already says it
    (or the option is required)."""

    def _get_help_string(self, action):
        if "default:" in (action.help or "") or action.required:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", choices=("vae", "gan"), required=True, help="which model to train (required)")
    p.add_argument("--iter-max", type=int, default=None,
                   help=f"training iterations (default: {ITER_MAX['vae']} for vae, {ITER_MAX['gan']} for gan)")
    p.add_argument("--seed", type=int, default=0, help="the first seed")
    p.add_argument("--seeds", type=int, default=1, help="train this many times (seed, seed+1, ...)")
    p.add_argument("--z-dim", type=int, default=None,
                   help=f"latent size (default: {Z_DIM['vae']} for vae, {Z_DIM['gan']} for gan)")
    p.add_argument("--gan-arch", choices=tuple(GANS), default="conv",
                   help="the GAN's generator and discriminator (models/nns.py); the grader's checks use mlp")
    p.add_argument("--dataset", choices=data.DATASETS, default="mnist", help="the training data (see data.py)")
    p.add_argument("--out", default="runs", help="folder for the outputs")
    train.add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run_once(args, seed, train_split, test_split, device, out):
    torch.manual_seed(seed)
    if args.model == "vae":
        model = VAE(z_dim=args.z_dim, name=f"vae_seed{seed}").to(device)
        train.train_vae(model, train_split, iter_max=args.iter_max, seed=seed, device=device,
                        progress=not args.no_progress)
        metrics = train.evaluate_vae(model, test_split, device=device)
    else:
        model = GAN(z_dim=args.z_dim, name=f"gan_seed{seed}", arch=args.gan_arch).to(device)
        history = train.train_gan(model, train_split, iter_max=args.iter_max, seed=seed, device=device,
                                  progress=not args.no_progress)
        metrics = {key: values[-1] for key, values in history.items() if key != "iteration"}
        plot_gan_history(history, out / f"gan_training_seed{seed}.png")
    samples = draw_samples(model, seed, device)
    grid = out / f"{args.model}_samples_seed{seed}.png"
    save_image(samples.reshape(200, 1, 28, 28).cpu(), grid, nrow=20, padding=2)
    torch.save(model.state_dict(), out / f"{args.model}_seed{seed}.pt")
    print(f"seed {seed}: " + "  ".join(f"{k} {v:.2f}" for k, v in metrics.items()) + f"  samples: {grid}")
    if args.model == "gan":
        print(f"seed {seed}: losses and D's accuracy over training in gan_summary.json and "
              f"{out / f'gan_training_seed{seed}.png'}")
        return {"final": metrics, "history": history}
    return metrics


def plot_gan_history(history, path):
    """Two panels over the iterations: D's and G's losses; D's accuracy on real and on generated images.
    (A healthy run keeps both losses moving and D's accuracies away from 1; D at 100% on both while
    g_loss climbs means G has stopped fooling it.)"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (losses, accuracy) = plt.subplots(1, 2, figsize=(9, 3.2))
    for key in ("d_loss", "g_loss"):
        losses.plot(history["iteration"], history[key], label=key)
    for key, label in (("d_accuracy_real", "on real"), ("d_accuracy_generated", "on generated")):
        accuracy.plot(history["iteration"], history[key], label=label)
    losses.set(xlabel="iteration", ylabel="loss", title="losses")
    accuracy.set(xlabel="iteration", ylabel="D's accuracy", ylim=(-0.02, 1.02), title="discriminator accuracy")
    for ax in (losses, accuracy):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@torch.no_grad()
def draw_samples(model, seed, device):
    """The 200 samples of the grid, drawn after torch.manual_seed(seed): (200, 784) in [0, 1]."""
    torch.manual_seed(seed)
    return model.sample_x(200) if isinstance(model, VAE) else model.sample_x(200, device)


def mean_and_stderr(values):
    """(mean, standard error of the mean); the standard error is None for fewer than two values."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var / len(values))


def strict_json(tree):
    """JSON text without NaN or Infinity (not JSON): non-finite floats become null."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value
    return json.dumps(clean(tree), indent=2, allow_nan=False)


def main(argv=None):
    args = parse_args(argv)
    args.iter_max = ITER_MAX[args.model] if args.iter_max is None else args.iter_max
    args.z_dim = Z_DIM[args.model] if args.z_dim is None else args.z_dim
    device = ut.device()
    out, threads = train.start_run(args.out, args.threads, device)
    try:
        train_split, test_split, description = data.load(args.dataset)
    except data.DataError as error:
        sys.exit(f"error: {error}")
    started = time.time()
    runs = [run_once(args, args.seed + k, train_split, test_split, device, out) for k in range(args.seeds)]
    summary = {"model": args.model, "iter_max": args.iter_max, "z_dim": args.z_dim, "seeds": args.seeds,
               "data": description, "device": str(device), "threads": threads,
               "seconds": round(time.time() - started, 1), "runs": runs}
    if args.model == "gan":
        summary["gan_arch"] = args.gan_arch
    if args.model == "vae":
        for key in ("nelbo", "kl", "rec"):
            mean, stderr = mean_and_stderr([r[key] for r in runs])
            summary[key] = {"mean": mean, "stderr": stderr}
            if stderr is None:
                print(f"test {key}: {mean:.2f} (one seed: no standard error)")
            else:
                print(f"test {key}: {mean:.2f} +/- {stderr:.2f} (mean +/- standard error over {args.seeds} seeds)")
    (out / f"{args.model}_summary.json").write_text(strict_json(summary) + "\n")
    return summary


if __name__ == "__main__":
    main()
