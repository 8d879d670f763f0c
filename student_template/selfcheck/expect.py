"""Judge-side vocabulary of a check: outcomes, errors, claims with weights, numeric comparisons.

A check is `check(run) -> Outcome | None`. It states claims about what `run(probe, **inputs)`
returns; each claim has a weight, and the fraction of the weight that holds is the test's score.
Messages say what was expected, what was observed, and the likely mistake; never hidden inputs.
"""
import math

import numpy as np


class StudentError(Exception):
    """The student's code raised, crashed, hung or ran out of memory: the test fails with this message."""


class CheckFailed(Exception):
    """A claim that fails the whole test."""


class Outcome:
    def __init__(self, fraction, message):
        self.fraction = max(0.0, min(1.0, float(fraction)))
        self.message = message

    def __repr__(self):
        return f"Outcome({self.fraction:.3f}, {self.message!r})"


class Claims:
    """Weighted claims; `outcome()` is None when all hold, else the partial credit and messages."""

    def __init__(self):
        self.held, self.failed = [], []

    def claim(self, weight, holds, message):
        (self.held if holds else self.failed).append((weight, message))
        return bool(holds)

    def outcome(self):
        if not self.failed:
            return None
        total = sum(w for w, _ in self.held) + sum(w for w, _ in self.failed)
        fraction = sum(w for w, _ in self.held) / total
        messages = list(dict.fromkeys(m for _, m in self.failed))   # each mistake once
        return Outcome(fraction, "\n".join(f"- {m}" for m in messages))


def values(x, what, shape=None):
    """x as a float64 array, or CheckFailed naming what is wrong with it."""
    if x is None:
        raise CheckFailed(f"{what}: nothing was returned (None, or not a differentiable tensor)")
    a = np.asarray(x)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number):
        raise CheckFailed(f"{what}: expected a float tensor, got dtype {a.dtype}")
    if shape is not None and tuple(a.shape) != tuple(shape):
        raise CheckFailed(f"{what}: expected shape {tuple(shape)}, got {tuple(a.shape)}")
    return a.astype(np.float64)


def scalar(x, what):
    a = values(x, what)
    if a.size != 1:
        raise CheckFailed(f"{what}: expected a 0-dim tensor (one number), got shape {tuple(a.shape)}; "
                          "did you forget to average over the batch?")
    return float(a.reshape(()))


def close(observed, expected, rtol=1e-5, atol=1e-6):
    o, e = np.asarray(observed, np.float64), np.asarray(expected, np.float64)
    return o.shape == e.shape and bool(np.all(np.isfinite(o) == np.isfinite(e))) and bool(
        np.allclose(o, e, rtol=rtol, atol=atol, equal_nan=False))


def ratio(observed, expected):
    """observed / expected for scalars (or medians of arrays), for recognizing a mistake's pattern."""
    o, e = float(np.median(np.asarray(observed, np.float64))), float(np.median(np.asarray(expected, np.float64)))
    return o / e if e != 0 and math.isfinite(o) and math.isfinite(e) else float("nan")


def near(x, target, rel=1e-3):
    return math.isfinite(x) and abs(x - target) <= rel * max(1.0, abs(target))


def fmt(x):
    return f"{x:.6g}"
