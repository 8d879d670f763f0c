"""Judge-side vocabulary of a check: outcomes, errors, claims with weights, diagnoses, comparisons.

A check is `check(run) -> Outcome | None`. It states claims about what `run(probe, **inputs)`
returns; each claim has a weight, and the fraction of the weight that holds is the test's score.
Messages say what was expected, what was observed and by how much it is off; they name a cause
only through `diagnose(key, text)`, and only when the evidence identifies it (the output matches
what that mistake would produce on the same inputs, and not the correct output). Never hidden inputs.

Every named cause has a key of DIAGNOSES (diagnoses.py). The key travels with the message (`Text.keys`, invisible
to students) and is noted by `recording()`, which is how the accuracy audit measures precision and
recall of the feedback without parsing English.
"""
import contextlib
import math

import numpy as np

from .diagnoses import DIAGNOSES


class Text(str):
    """A message (plain English to students) with the keys of the causes it names, and whether it describes
    something to fix (`actionable`; false for `deferred` text: points that wait on another claim)."""

    def __new__(cls, text, keys=(), actionable=None):
        self = super().__new__(cls, text)
        self.keys = frozenset(keys) | keys_of(text)
        self.actionable = actionable_of(text) if actionable is None else actionable
        return self

    def __add__(self, other):
        return Text(str(self) + str(other), self.keys | keys_of(other), self.actionable or actionable_of(other))

    def __radd__(self, other):
        return Text(str(other) + str(self), keys_of(other) | self.keys, actionable_of(other) or self.actionable)


def keys_of(x):
    return getattr(x, "keys", frozenset()) if isinstance(x, Text) else frozenset()


def actionable_of(x):
    """Whether x describes something to fix: any non-empty text, except `deferred` text."""
    return x.actionable if isinstance(x, Text) else bool(x)


def deferred(text):
    """A sentence that says which points wait on another claim or test ("... earn points once the values are
    right"): it describes nothing to fix by itself, so no advice to fix it follows a message made only of these."""
    return Text(text, actionable=False)


def diagnose(key, text):
    """A sentence naming a cause the evidence confirmed; `key` must be in DIAGNOSES."""
    if key not in DIAGNOSES:
        raise KeyError(f"unknown diagnosis key {key!r}: add it to selfcheck/diagnoses.py's DIAGNOSES")
    return Text(text, {key})


def join(*parts):
    """Concatenate parts (str or Text), keeping their keys."""
    out = Text("")
    for p in parts:
        if p:
            out = out + p
    return out


# --- what the audit observes: the keys named and the claims decided --------------------------------

_RECORDS = []


@contextlib.contextmanager
def recording():
    """Collect, while open, the keys of the causes named to the student and every claim's verdict
    ((name of the claim, held)). Used by the accuracy audit; no effect on grading."""
    record = {"keys": set(), "claims": []}
    _RECORDS.append(record)
    try:
        yield record
    finally:
        _RECORDS.remove(record)


def _note_keys(keys):
    for record in _RECORDS:
        record["keys"].update(keys)


def _note_claim(name, holds):
    for record in _RECORDS:
        record["claims"].append((name, bool(holds)))


class StudentError(Exception):
    """The student's code raised, crashed, hung or ran out of memory: the test fails with this message.
    `inputs`: the judge's own description of the arrays it sent in that call (input_shapes), trusted where
    the student's text is redacted."""

    def __init__(self, message, inputs=""):
        super().__init__(message)
        self.inputs = inputs


def input_shapes(inputs):
    """"this call's inputs: m of shape (4, 3, 2), ..." for the arrays the judge sent (not dicts of weights, not
    numbers): facts the judge knows without trusting the worker, which the redacted error text may hide."""
    shapes = [f"{name} of shape {tuple(np.shape(a))}" for name, a in inputs.items()
              if isinstance(a, np.ndarray) and a.ndim >= 1]
    return f"this call's inputs: {', '.join(shapes)}" if shapes else ""


class CheckFailed(Exception):
    """A claim that fails the whole test (its keys are noted when it is raised to the judge)."""

    def __init__(self, message, keys=()):
        super().__init__(message)
        self.keys = frozenset(keys) | keys_of(message)
        _note_keys(self.keys)


class Outcome:
    def __init__(self, fraction, message, keys=()):
        self.fraction = max(0.0, min(1.0, float(fraction)))
        self.message = message
        self.keys = frozenset(keys) | keys_of(message)
        self.actionable = actionable_of(message)

    def __repr__(self):
        return f"Outcome({self.fraction:.3f}, {self.message!r})"


class Claims:
    """Weighted claims, each with a short name where it is written (the audit's claim matrix keys on
    (test, name)); `outcome()` is None when all hold, else the partial credit and messages."""

    def __init__(self):
        self.held, self.failed = [], []

    def claim(self, name, weight, holds=None, message=None):
        if not isinstance(name, str):   # the unnamed form (weight, holds, message) of checks not yet named
            name, weight, holds, message = "(unnamed)", name, weight, holds
        holds = bool(holds)
        _note_claim(name, holds)
        (self.held if holds else self.failed).append((weight, message))
        return holds

    def fail(self, weight, message):
        """A loss that is not a claim about the function's behaviour (it raised, is not written yet, returned
        the wrong kind of object): recorded as failed, without a claim name for the audit."""
        self.failed.append((weight, message))
        return False

    def form(self, name, weight, holds, message, substance, unearned):
        """A claim about form (shape, dtype, side effects, repeatability): it earns its weight only when
        `substance` holds (the function's values are right somewhere); otherwise it fails with
        `unearned` (what is wrong with the values), and, when the form is wrong as well and its message
        names no cause (a cause read off wrong values is not established), with that message too: a
        defect of form is not hidden behind the values."""
        if not substance:
            _note_claim(name, False)
            shown = not holds and message and not keys_of(message)
            self.failed.append((weight, message if shown else unearned))
            if shown:
                self.failed.append((0, unearned))   # said once, however many claims wait
            return False
        return self.claim(name, weight, holds, message)

    def outcome(self):
        if not self.failed:
            return None
        total = sum(w for w, _ in self.held) + sum(w for w, _ in self.failed)
        fraction = sum(w for w, _ in self.held) / total
        messages = list(dict.fromkeys(m for _, m in self.failed if m))   # each mistake once
        keys = frozenset().union(*(keys_of(m) for m in messages))
        _note_keys(keys)
        return Outcome(fraction, Text("\n".join(f"- {m}" for m in messages), keys, any(map(actionable_of, messages))))


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
        raise CheckFailed(f"{what}: expected a 0-dim tensor (one number), got shape {tuple(a.shape)}")
    return float(a.reshape(()))


def near(x, target, rel=1e-3):
    return math.isfinite(x) and abs(x - target) <= rel * max(1.0, abs(target))


def identify(observed, correct, hypotheses, match):
    """The cause the observation confirms, as a diagnosis, or None: the one rule behind every named cause.

    `hypotheses`: (key, prediction, text) triples: what each suspected mistake would produce on the same
    inputs (None where it cannot be predicted there). A hypothesis is confirmed when `match(observed,
    prediction)` holds and its prediction is not also the correct output (there the mistake is
    invisible). Confirmed hypotheses of one key (two ways to write the same mistake) name it with the
    first one's words; when those of different keys are confirmed the evidence does not decide between
    them, and nothing is named."""
    confirmed = []
    with np.errstate(all="ignore"):
        for key, prediction, text in hypotheses:
            try:
                if prediction is None or match(correct, prediction) or not match(observed, prediction):
                    continue
            except (ValueError, TypeError, FloatingPointError):
                continue
            confirmed.append((key, text))
    if len({key for key, _ in confirmed}) != 1:
        return None
    return diagnose(*confirmed[0])


def fmt(x):
    return f"{x:.6g}"
