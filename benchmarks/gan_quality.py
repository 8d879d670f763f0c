"""How recognizable and how varied are the default GAN run's 200 samples?

    .venv/bin/python benchmarks/gan_quality.py [--dataset mnist] [--weights runs/gan_seed0.pt]
        [--iter-max N] [--gan-arch conv|mlp] [--out runs/gan_quality] [--threads 1]

Trains the GAN the way `python experiment.py --model gan` does (its defaults, seed 0), unless
--weights names the state dict such a run saved, and draws the same 200 samples it tiles into its
grid. A classifier (the course's small CNN from continual.py) is trained on the training split and
its test accuracy printed. Two figures score a set of 200 images:

- confident: the share the classifier assigns to one class with probability > 0.9;
- class entropy: the entropy (bits) of the histogram of predicted classes, log2(10) = 3.32 when all
  ten classes are equally frequent, 0 when every image is given the same class (mode collapse).

The same two figures for 200 real test images are the baseline. Prints a table; asserts nothing.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "reference"))

import continual  # noqa: E402
import data  # noqa: E402
import experiment  # noqa: E402
import train  # noqa: E402
from models.gan import GAN  # noqa: E402

CONFIDENT = 0.9


def train_classifier(split, *, steps=2000, batch_size=64, lr=1e-3, seed=0):
    torch.manual_seed(seed)
    model = continual.SmallCNN(dropout=0.25)
    continual.train_task(model, split, steps=steps, lr=lr, batch_size=batch_size, seed=seed, device="cpu")
    return model.eval()


@torch.no_grad()
def score(classifier, images):
    """(share classified with confidence > 0.9, entropy in bits of the predicted-class histogram, counts)."""
    probs = F.softmax(classifier(images), dim=-1)
    confidence, predicted = probs.max(-1)
    counts = torch.bincount(predicted, minlength=10)
    shares = counts[counts > 0].double() / len(images)
    entropy = float(-(shares * shares.log2()).sum())
    return float((confidence > CONFIDENT).double().mean()), entropy, counts.tolist()


def gan_samples(args, train_split, test_split):
    """The 200 samples of experiment.py's run (seed 0), the run's settings and its wall time."""
    settings = {"iter_max": args.iter_max or experiment.ITER_MAX["gan"], "gan_arch": args.gan_arch,
                "z_dim": experiment.Z_DIM["gan"], "seed": 0}
    if args.weights:
        model = GAN(z_dim=settings["z_dim"], arch=args.gan_arch)
        model.load_state_dict(torch.load(args.weights, map_location="cpu"))
        seconds, source = None, f"weights {args.weights}"
    else:
        out = Path(args.out)
        argv = ["--model", "gan", "--gan-arch", args.gan_arch, "--iter-max", str(settings["iter_max"]),
                "--dataset", args.dataset, "--out", str(out), "--threads", str(args.threads), "--no-progress"]
        print("training: experiment.py " + " ".join(argv), flush=True)
        summary = experiment.main(argv)
        model = GAN(z_dim=settings["z_dim"], arch=args.gan_arch)
        model.load_state_dict(torch.load(out / "gan_seed0.pt", map_location="cpu"))
        seconds, source = summary["seconds"], f"this run ({out / 'gan_samples_seed0.png'})"
    samples = experiment.draw_samples(model, seed=0, device="cpu")
    return samples, settings, seconds, source


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=experiment.HelpFormatter)
    p.add_argument("--dataset", choices=data.DATASETS, default="mnist", help="the GAN's and the classifier's data")
    p.add_argument("--weights", default=None, help="score a saved GAN state dict instead of training one")
    p.add_argument("--iter-max", type=int, default=None,
                   help=f"GAN iterations (default: experiment.py's, {experiment.ITER_MAX['gan']})")
    p.add_argument("--gan-arch", choices=("conv", "mlp"), default="conv", help="the GAN's networks")
    p.add_argument("--classifier-steps", type=int, default=2000, help="Adam steps of the classifier (batch 64)")
    p.add_argument("--out", default="runs/gan_quality", help="folder for the GAN run's outputs")
    train.add_threads_argument(p)
    args = p.parse_args(argv)
    threads = train.set_threads(args.threads)
    train_split, test_split, description = data.load(args.dataset)

    started = time.time()
    classifier = train_classifier(train_split, steps=args.classifier_steps)
    accuracy = continual.accuracy(classifier, test_split, "cpu")
    print(f"classifier: small CNN, {args.classifier_steps} Adam steps, test accuracy {accuracy:.3f} "
          f"({len(test_split)} test images, {time.time() - started:.0f} s)", flush=True)

    samples, settings, seconds, source = gan_samples(args, train_split, test_split)
    rows = [("200 real test images", *score(classifier, test_split.x[:200])),
            (f"200 GAN samples ({settings['gan_arch']})", *score(classifier, samples.reshape(200, 784)))]
    print(f"\n{description}; {threads} torch thread(s)")
    print(f"GAN: {settings['gan_arch']}, {settings['iter_max']} iterations, batch 64, Adam 2e-4 betas (0.5, 0.999), "
          f"z_dim {settings['z_dim']}, seed 0; samples of {source}"
          + (f"; trained in {seconds:.0f} s" if seconds is not None else ""))
    print(f"classifier test accuracy: {accuracy:.3f}\n")
    print(f"| images | confident (p > {CONFIDENT}) | class entropy (bits, max {math.log2(10):.2f}) | "
          "predicted classes 0-9 |")
    print("| --- | --- | --- | --- |")
    for name, confident, entropy, counts in rows:
        print(f"| {name} | {confident:.2f} | {entropy:.2f} | {' '.join(map(str, counts))} |")
    result = {"data": description, "threads": threads, "classifier_accuracy": accuracy, "gan": settings,
              "gan_seconds": seconds, "rows": [dict(zip(("images", "confident", "entropy_bits", "counts"), r))
                                               for r in rows]}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "gan_quality.json").write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result


if __name__ == "__main__":
    main()
