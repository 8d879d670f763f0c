"""Judge-side vocabulary of a check: outcomes, errors, claims with weights, diagnoses, comparisons.

A check is `check(run) -> Outcome | None`. It states claims about what `run(probe, **inputs)`
returns; each claim has a weight, and the fraction of the weight that holds is the test's score.
Messages say what was expected, what was observed and by how much it is off; they name a cause
only through `diagnose(key, text)`, and only when the evidence identifies it (the output matches
what that mistake would produce on the same inputs, and not the correct output). Never hidden inputs.

Every named cause has a key of DIAGNOSES. The key travels with the message (`Text.keys`, invisible
to students) and is noted by `recording()`, which is how the accuracy audit measures precision and
recall of the feedback without parsing English.
"""
import contextlib
import math

import numpy as np

# The vocabulary of causes a message may name: key -> what it means. One place, so that the corpus
# (tests/corpus/accuracy/*.yaml `key:`) and the checks speak the same words.
DIAGNOSES = {
    # utils.sample_gaussian
    "sg_std_for_variance": "v used as the standard deviation (m + v * eps)",
    "sg_logvar": "v used as a log-variance or log-std (exp(v / 2) or exp(v))",
    "sg_unscaled": "noise not scaled (m + eps)",
    "sg_v_squared": "noise scaled by v ** 2",
    "sg_fourth_root": "noise scaled by v ** 0.25",
    "sg_scaled": "noise scaled by a constant factor k * sqrt(v)",
    "sg_offset": "a constant offset added to z",
    "sg_mean_missing": "m not added: z is the noise alone",
    "sg_uniform": "uniform noise (rand_like) in place of standard normal noise",
    "sg_recentred": "eps shifted by its own sample mean (standardized over the tensor): its elements are dependent",
    "sg_shared_batch": "one noise draw shared by every row of the batch",
    "sg_shared_row": "one noise draw shared by every element of a row",
    "sg_shared_all": "one scalar noise value shared by every element",
    "sg_no_noise": "z equals m: no noise at all",
    "sg_same_each_call": "every call returns the same noise (a seed or generator inside)",
    "sg_not_default_generator": "noise not from torch's default generator (manual_seed does not repeat it)",
    "sg_no_gradient": "z carries no gradient to m and v (not reparameterized)",
    "sg_no_gradient_m": "no gradient reaches m (m detached)",
    "sg_inputs_modified": "m or v modified in place",
    "sg_dtype": "z does not keep m's dtype",
    # models/vae.py
    "vae_batch_sum": "kl and rec summed over the batch",
    "vae_rec_batch_sum": "rec summed over the batch, kl averaged",
    "vae_kl_batch_sum": "kl summed over the batch, rec averaged",
    "vae_kl_reversed": "KL(p || q) in place of KL(q || p)",
    "vae_kl_sign": "the KL's sign flipped",
    "vae_rec_sign": "rec = +log p(x|z)",
    "vae_nelbo_kl_minus_rec": "nelbo = kl - rec",
    "vae_order": "kl and rec returned in swapped order",
    "vae_kl_latent_mean": "KL averaged over latent dimensions",
    "vae_kl_logvar": "KL written for v as a log-variance",
    "vae_kl_std": "KL written for v as a standard deviation",
    "vae_kl_half": "KL without its factor 1/2",
    "vae_kl_no_minus_one": "KL without its -1 per latent dimension",
    "vae_decode_mean": "rec decodes the mean m, not a sample",
    "vae_std_into_sampler": "sqrt(v) passed to sample_gaussian, which takes the variance",
    "vae_sigmoid_twice": "probabilities passed where logits are expected",
    "vae_rec_pixel_mean": "rec averaged over pixels",
    "vae_sampler_calls": "ut.sample_gaussian called more than once or never",
    "vae_rec_no_encoder_gradient": "no gradient of rec reaches the encoder (z detached)",
    "vae_kl_no_gradient": "the KL sends no gradient into nelbo (kl detached from the encoder's m and v)",
    "vae_not_differentiable": "nelbo carries no gradient",
    "vae_terms_not_tensors": "kl or rec returned as a Python number (.item() or float()), not a 0-dim tensor",
    # models/gan.py
    "gan_sum": "a sum where the mean belongs",
    "gan_batch_mean": "the sum divided by the batch size (shape[0]), not by the number of elements",
    "gan_sign": "the loss's sign flipped",
    "gan_d_swapped": "real and fake logits in swapped roles",
    "gan_minimax_is_nonsat": "the non-saturating loss written for the minimax one",
    "gan_nonsat_is_minimax": "the minimax loss written for the non-saturating one",
    "gan_one_minus_h": "log(1 - D) written as logsigmoid(1 - h)",
    "gan_half": "a stray factor 1/2",
    "gan_d_real_only": "the discriminator loss without its fake term",
    "gan_d_fake_as_real": "the fake term written as -log D(G(z)), which pushes fake logits up",
    "gan_bce_zero_targets": "BCE against zeros where the generator's targets are ones",
    "gan_unstable": "not finite at large logits (log of sigmoid)",
    "gan_logits_as_probabilities": "logits used as probabilities (clamped and fed to BCE or log)",
    "gan_step_swapped": "(g_loss, d_loss) returned in place of (d_loss, g_loss)",
    "gan_step_d_args_swapped": "discriminator_loss called with fake and real swapped",
    "gan_step_minimax": "the minimax generator loss in GAN.loss_nonsaturating",
    "gan_step_no_detach": "d_loss sends gradient into the generator",
    "gan_step_detached_g": "g_loss sends no gradient into the generator",
    "gan_step_d_fake_detached": "the fake logits detached in d_loss: D gets no gradient from its fake term",
    "gan_step_fresh_z": "more than one z drawn per call",
    # diffusion.py
    "ab_cumprod_betas": "cumulative product of betas, not of 1 - betas",
    "ab_alpha_t": "1 - beta_t without the cumulative product",
    "ab_cumsum": "a cumulative sum in place of a cumulative product",
    "ab_shifted": "alpha_bars shifted by one (alpha_bar_0 at index 0)",
    "fwd_alpha_t": "1 - beta_t used in place of alpha_bar_t",
    "fwd_off_by_one": "alpha_bar_{t+1} used for time t",
    "fwd_mean_no_sqrt": "the mean scales x0 by alpha_bar_t, not its square root",
    "fwd_var_sqrt": "the variance returned as a standard deviation",
    "fwd_var_ab_prev": "the variance 1 - alpha_bar_{t-1} in place of 1 - alpha_bar_t",
    "post_swapped": "the x0 and x_t coefficients swapped",
    "post_typo_ab_prev": "sqrt(alpha_bar_{t-1}) in the x_t coefficient where sqrt(1 - beta_t) belongs",
    "post_var_sqrt": "the posterior variance returned as a standard deviation",
    "post_var_beta": "beta_t returned as the posterior variance",
    "post_ab_t_in_xt": "sqrt(alpha_bar_t) in the x_t coefficient",
    "post_var_no_beta": "the variance without its factor beta_t",
    "post_off_by_one": "alpha_bar indexed one step late (alpha_bar_t for alpha_bar_{t-1})",
    "post_t1_wraps": "at t = 1, alpha_bar_{t-1} read from index -1 (the last element)",
    "post_t1_nan": "NaN or inf at t = 1 (a division by 1 - alpha_bar_0 = 0)",
    "post_t1_xt": "at t = 1 the mean returned as x_t, not x0",
    "dtype_not_kept": "the output's dtype is not the input's",
    "index_past_end": "an index past the end at t = T (time used as a 0-based index)",
    # ewc.py
    "fisher_batch_square": "the square of a batch gradient, not per-sample squares",
    "fisher_predicted_label": "the Fisher at the predicted label, not the true one",
    "fisher_sum": "a sum over samples, not the mean",
    "fisher_per_batch_mean": "divided by the number of batches, not of samples",
    "fisher_not_squared": "gradients not squared",
    "fisher_abs": "absolute values in place of squares",
    "fisher_first_batch": "only the first batch used",
    "fisher_prob_not_log": "the gradient of the probability, not of its log",
    "fisher_train_mode": "the Fisher computed with dropout active (train mode)",
    "fisher_forced_train": "fisher_diagonal switches the model to train mode (dropout on) itself",
    "fisher_unbiased": "divided by N - 1, not N",
    "fisher_divided_twice": "each batch's mean of squared gradients summed, then divided by N again",
    "fisher_grad_accumulated": ".grad not zeroed between samples: running sums of gradients squared",
    "fisher_mode_not_restored": "the model's previous mode not restored",
    "fisher_params_changed": "the model's parameters changed",
    "fisher_not_detached": "the returned tensors require grad",
    "fisher_missing_keys": "entries missing from the returned dict",
    "penalty_no_half": "the penalty without its factor 1/2",
    "penalty_no_lam": "the penalty without its strength lam (1/2 sum F (theta - star)^2)",
    "penalty_not_squared": "(theta - star) not squared",
    "penalty_no_fisher": "no Fisher weights (plain L2)",
    "penalty_mean_fisher": "the mean Fisher in place of element-wise weights",
    "penalty_mean": "a mean over elements in place of the sum",
    "penalty_sqrt_fisher": "weighted by the square root of the Fisher",
    "penalty_first_only": "only one parameter tensor summed",
    "penalty_no_gradient": "no gradient reaches the model's parameters",
    "penalty_leak": "gradient flows into fisher or star",
    "penalty_sign": "the penalty's sign flipped",
    "penalty_frozen_parameters": "summed over every named parameter, frozen ones (not in fisher) included",
    # any file
    "not_written": "the function still raises NotImplementedError",
    "device_fixed": "a tensor created on a fixed device (the CPU), not on its inputs' device (selfcheck/devices.py)",
}


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
        raise KeyError(f"unknown diagnosis key {key!r}: add it to expect.DIAGNOSES")
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
