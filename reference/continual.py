"""Continual learning on permuted MNIST: naive fine-tuning, EWC and rehearsal (provided).

Task k shows every image with its pixels shuffled by a fixed permutation (task 0: the identity).
After each task the accuracy on every task so far is printed.

    python continual.py --method naive|ewc|rehearsal [--arch cnn|mlp] [--tasks 3] [--threads 1]
    python continual.py --method ewc --lam 1 10 100 1000     # a sweep, plotted into one figure
"""
import argparse
import json
import sys

import torch
import torch.nn.functional as F
from torch import nn

import data
import train as training
import utils as ut
from ewc import ewc_penalty, fisher_diagonal


class SmallCNN(nn.Module):
    """The course's small CNN: two 5x5 conv layers with max-pooling, then two linear layers."""

    def __init__(self, dropout=0.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Dropout(dropout), nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x.reshape(-1, 1, 28, 28)))


class MLP(nn.Module):
    def __init__(self, hidden=256, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1))


ARCHS = {"cnn": SmallCNN, "mlp": MLP}


def permutations(tasks, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.arange(784)] + [torch.randperm(784, generator=g) for _ in range(tasks - 1)]


def permuted(split, perm):
    return data.Split(split.name, split.x[:, perm], split.y)


def as_loader(split, batch_size=100, limit=None):
    n = len(split) if limit is None else min(limit, len(split))
    return [(split.x[i:i + batch_size], split.y[i:i + batch_size]) for i in range(0, n, batch_size)]


@torch.no_grad()
def accuracy(model, split, device):
    model.eval()
    correct = sum((model(x.to(device)).argmax(-1) == y.to(device)).sum().item() for x, y in as_loader(split, 500))
    return correct / len(split)


def train_task(model, split, *, steps, lr, batch_size, seed, device, penalty=None, replay=None):
    """Adam on cross-entropy (+ penalty(model)); replay: a Split mixed into every batch."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    stream = data.batches(split, batch_size, torch.Generator().manual_seed(seed), device)
    replay_stream = (data.batches(replay, batch_size, torch.Generator().manual_seed(seed + 1), device)
                     if replay is not None and len(replay) >= batch_size else None)
    for _ in range(steps):
        x, y = next(stream)
        if replay_stream is not None:
            rx, ry = next(replay_stream)
            x, y = torch.cat([x, rx]), torch.cat([y, ry])
        loss = F.cross_entropy(model(x), y)
        if penalty is not None:
            loss = loss + penalty(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def run(method, *, arch="cnn", tasks=3, lam=100.0, steps=500, lr=1e-3, batch_size=64, fisher_samples=500,
        buffer=500, seed=0, dataset="mnist", device="cpu", splits=None, verbose=True):
    """Train on the tasks in order; returns the accuracy matrix acc[i][j] = task j after task i."""
    torch.manual_seed(seed)
    train, test, _ = splits or data.load(dataset, verbose=verbose)
    perms = permutations(tasks, seed)
    model = ARCHS[arch]().to(device)
    anchors, memory, matrix = [], [], []   # EWC (fisher, star) per past task; rehearsal samples
    for k, perm in enumerate(perms):
        task_train = permuted(train, perm)
        penalty = None
        if method == "ewc" and anchors:
            penalty = lambda m: sum(ewc_penalty(m, f, s, lam) for f, s in anchors)
        replay = None
        if method == "rehearsal" and memory:
            replay = data.Split("replay", torch.cat([m.x for m in memory]), torch.cat([m.y for m in memory]))
        train_task(model, task_train, steps=steps, lr=lr, batch_size=batch_size, seed=seed + k,
                   device=device, penalty=penalty, replay=replay)
        if method == "ewc":
            loader = [(x.to(device), y.to(device)) for x, y in as_loader(task_train, 100, fisher_samples)]
            fisher = fisher_diagonal(model, loader)
            star = {n: p.detach().clone() for n, p in model.named_parameters() if n in fisher}
            anchors.append((fisher, star))
        if method == "rehearsal":
            keep = torch.randperm(len(task_train), generator=torch.Generator().manual_seed(seed + k))[:buffer]
            memory.append(data.Split("memory", task_train.x[keep], task_train.y[keep]))
        row = [accuracy(model, permuted(test, p), device) for p in perms[:k + 1]]
        matrix.append(row)
        if verbose:
            print(f"{label(method, lam)} after task {k + 1}: "
                  + "  ".join(f"task {j + 1} {a:.3f}" for j, a in enumerate(row)), flush=True)
    return matrix


def label(method, lam):
    """The name of a run in the printout, the JSON and the figure: 'naive', 'ewc lam=100', 'rehearsal'."""
    return f"ewc lam={lam:g}" if method == "ewc" else method


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the docstring's layout and shows every option's default."""


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--method", choices=("naive", "ewc", "rehearsal"), nargs="+", default=["naive", "ewc", "rehearsal"],
                   help="the methods to run, in order")
    p.add_argument("--arch", choices=tuple(ARCHS), default="cnn", help="the classifier")
    p.add_argument("--tasks", type=int, default=3, help="permuted-MNIST tasks (task 1: unpermuted)")
    p.add_argument("--lam", type=float, nargs="+", default=[100.0], help="EWC strength; several values sweep")
    p.add_argument("--steps", type=int, default=500, help="training steps per task")
    p.add_argument("--fisher-samples", type=int, default=500, help="training images for EWC's Fisher")
    p.add_argument("--buffer", type=int, default=500, help="rehearsal samples kept per task")
    p.add_argument("--seed", type=int, default=0, help="seed of the permutations and the training")
    p.add_argument("--dataset", choices=data.DATASETS, default="mnist", help="the training data (see data.py)")
    p.add_argument("--out", default="runs", help="folder for the outputs")
    training.add_threads_argument(p)
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    device = ut.device()
    out, _ = training.start_run(args.out, args.threads, device)
    try:
        splits = data.load(args.dataset)
    except data.DataError as error:
        sys.exit(f"error: {error}")
    results = {}
    for method in args.method:
        for lam in (args.lam if method == "ewc" else [None]):
            results[label(method, lam)] = run(method, arch=args.arch, tasks=args.tasks, lam=lam or 0.0,
                                              steps=args.steps, fisher_samples=args.fisher_samples,
                                              buffer=args.buffer, seed=args.seed, device=device, splits=splits)
    print(f"\nfinal accuracy per task ({args.arch}, {args.tasks} tasks):")
    for name, matrix in results.items():
        final = matrix[-1]
        print(f"  {name:<16}" + "  ".join(f"{a:.3f}" for a in final) + f"   mean {sum(final) / len(final):.3f}")
    (out / f"continual_{args.arch}.json").write_text(json.dumps(results, indent=2))
    plot(results, out / f"continual_{args.arch}.png")
    print(f"figure: {out / f'continual_{args.arch}.png'}")
    return results


def figure(results):
    """The accuracy on task 1 after each task, one line per run: a matplotlib Figure (one Axes) with a
    tick at each whole number of tasks, and no others."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    tasks = max(len(matrix) for matrix in results.values())
    for name, matrix in results.items():
        ax.plot(range(1, len(matrix) + 1), [m[0] for m in matrix], marker="o", label=name)
    ax.set_xticks(range(1, tasks + 1))   # whole tasks only (the default locator puts ticks at 1.25, 1.5, ...)
    ax.set_xlim(0.8, tasks + 0.2)
    ax.set_xlabel("tasks trained")
    ax.set_ylabel("accuracy on task 1")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    return fig


def plot(results, path):
    """Save figure(results) to path; returns the x-axis tick values."""
    import matplotlib.pyplot as plt
    fig = figure(results)
    ticks = fig.axes[0].get_xticks().tolist()
    fig.savefig(path)
    plt.close(fig)
    return ticks


if __name__ == "__main__":
    main()
