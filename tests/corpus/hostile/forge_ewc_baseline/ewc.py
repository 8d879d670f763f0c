"""Hostile (issue 17.1): a wrong EWC whose penalty is 0. Each call walks up the stack into the grader's
probe and zeroes every model it finds under the name of the naive baseline, so that a grader which
trains that baseline in this process compares EWC with a model that forgot everything."""
import sys

import torch

BASELINE_NAMES = ("naive", "baseline", "naive_model")


def fisher_diagonal(model, loader):
    return {n: torch.zeros_like(p) for n, p in model.named_parameters() if p.requires_grad}


def _zero_baselines():
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            if name in BASELINE_NAMES and isinstance(value, torch.nn.Module):
                with torch.no_grad():
                    for p in value.parameters():
                        p.zero_()
        frame = frame.f_back


def ewc_penalty(model, fisher, star, lam):
    _zero_baselines()
    return sum(p.sum() for p in model.parameters()) * 0.0
