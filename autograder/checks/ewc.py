"""Checks of ewc.fisher_diagonal and ewc.ewc_penalty, against numpy per-sample gradients of a small
tanh network with dropout (so a Fisher computed in train mode is revealed). Deterministic.

A cause is named only when the returned values equal what that mistake computes on the same model
and data (numpy, here) and the correct values do not, or when the evidence is direct (the Fisher is
right in eval mode and wrong in train mode; the parameters changed)."""
import numpy as np
from hypothesis import strategies as st

from autograder.redaction import student_text
from autograder.selfcheck.expect import (CheckFailed, Claims, StudentError, deferred, diagnose, fmt, identify, join, near,
                                         values)
from autograder.selfcheck.public.common import backward_failed
from autograder.checks import numeric
from .inputs import first_failure, golden, hypothesis_settings, rng, small_net_state
from .ewc_mistakes import fisher_diagnosis, penalty_hypotheses, same, zip_hypotheses

HYPOTHESIS = hypothesis_settings(max_examples=20)


def fisher_case():
    inputs = golden("fisher")["inputs"]
    return inputs["state"], inputs["x"], inputs["y"], int(inputs["batch_size"])


def ask_fisher(run, state, x, y, batch_size, train_mode, dropout=0.5):
    out = run("fisher", state=state, x=x, y=y, batch_size=batch_size, train_mode=train_mode, dropout=dropout)
    got = out["fisher"]
    missing = sorted(set(state) - set(got))
    if missing:
        raise CheckFailed(diagnose("fisher_missing_keys", f"fisher_diagonal returned no entry for {', '.join(missing)}: "
                                   "return one tensor per name in model.named_parameters() that requires grad."))
    return out, {k: values(got[k], f"fisher[{k!r}]", state[k].shape) for k in state}


def how_far(got, expected, state):
    broken = [k for k in state if not np.all(np.isfinite(got[k]))]
    if broken:
        return f"{', '.join(broken)} contain NaN or inf"
    if not any(np.any(got[k]) for k in state):
        return "it is zero everywhere (every entry of every parameter's Fisher)"
    # a least-squares factor: every tensor off by the same one is said as such, not as its worst tensor alone
    factor = (sum(float((got[k] * expected[k]).sum()) for k in state)
              / max(sum(float((expected[k] ** 2).sum()) for k in state), 1e-300))
    if not near(factor, 1.0) and all(np.allclose(got[k], factor * expected[k], rtol=1e-3, atol=1e-10) for k in state):
        return f"every entry of every parameter's Fisher is {fmt(factor)} times the right one (one constant factor)"
    worst = max(state, key=lambda k: float(np.abs(got[k] - expected[k]).max()))
    scale = max(float(np.abs(expected[worst]).max()), 1e-12)
    return f"{worst} is off by up to {fmt(float(np.abs(got[worst] - expected[worst]).max()) / scale)} of its largest entry"


# the golden's 40 samples in batches of 12, 12, 12 and 4: a loader whose last batch is smaller (the golden's
# batch size, 8, divides 40, and there averaging batch means or counting batch_size * len(loader) is right)
PARTIAL_BATCH_SIZE = 12


def fisher_values(run):
    """The Fisher of a hidden model and data equals the per-sample computation in eval mode, whether
    the model was handed over in eval mode (3 points) or in train mode with dropout active (2), and
    when the loader's last batch is smaller than the others (2)."""
    state, x, y, batch_size = fisher_case()
    assert len(x) % batch_size == 0 and len(x) % PARTIAL_BATCH_SIZE, "the cases need full and partial batches"
    expected = numeric.small_net_fisher(state, x.astype(np.float64), y)
    claims = Claims()
    out_eval, got_eval = ask_fisher(run, state, x, y, batch_size, train_mode=False)
    ok_eval = same(got_eval, expected, state)
    moved = not all(np.array_equal(out_eval["state_after"][k], state[k]) for k in state)
    why = None
    if not ok_eval and moved:
        why = diagnose("fisher_params_changed", "the model's parameters changed while fisher_diagonal ran (an "
                       "optimizer step or an in-place update), so later gradients were taken elsewhere; compute "
                       "gradients only")
    elif not ok_eval:
        # direct evidence of dropout switched on: the same model without dropout gets the right Fisher
        _, without_dropout = ask_fisher(run, state, x, y, batch_size, train_mode=False, dropout=0.0)
        why = diagnose("fisher_forced_train", "the Fisher is right for the same model without dropout, so dropout "
                       "was active although the model was handed over in eval mode: fisher_diagonal must not "
                       "switch to train mode (model.train()); compute in eval mode and restore the previous mode"
                       ) if same(without_dropout, expected, state) else fisher_diagnosis(
                           got_eval, expected, state, x, y, batch_size)
    claims.claim("eval mode", 3, ok_eval, "" if ok_eval else "the Fisher of a model in eval mode is wrong: "
                 + how_far(got_eval, expected, state) + ((": " + why) if why else "") + ".")
    _, got_train = ask_fisher(run, state, x, y, batch_size, train_mode=True)
    ok_train = same(got_train, expected, state)
    claims.claim("train mode", 2, ok_train, "" if ok_train or not ok_eval else diagnose(
        "fisher_train_mode", "the Fisher is right for a model in eval mode and wrong for the same model in train "
        "mode: dropout was active. Switch to eval mode before computing it (and restore the previous mode after)."))
    claims.claim("smaller last batch", 2, *partial_batch(run, state, x, y, expected, ok_eval))
    return claims.outcome()


def partial_batch(run, state, x, y, expected, ok_eval):
    """(holds, message) of the Fisher for a loader whose last batch is smaller; its mistake is said only when
    the Fisher is right for equal batches (otherwise that claim's message already describes it)."""
    _, got = ask_fisher(run, state, x, y, PARTIAL_BATCH_SIZE, train_mode=False)
    if same(got, expected, state):
        return True, ""
    if not ok_eval:
        return False, ""
    sizes = [len(x[i:i + PARTIAL_BATCH_SIZE]) for i in range(0, len(x), PARTIAL_BATCH_SIZE)]
    why = fisher_diagnosis(got, expected, state, x, y, PARTIAL_BATCH_SIZE)
    return False, (f"the Fisher is right when every batch has the same size, and wrong for the same {len(x)} samples "
                   f"in batches of {', '.join(map(str, sizes[:-1]))} and {sizes[-1]}: "
                   + how_far(got, expected, state) + ((": " + why) if why else "") + ".")


def fisher_side_effects(run):
    """Mode restored, parameters unchanged, returned tensors detached; earned only when the Fisher's
    values are right for the model in at least one mode, or are what one recognized mistake computes
    (test 5.1 names and charges it, once)."""
    state, x, y, batch_size = fisher_case()
    expected = numeric.small_net_fisher(state, x.astype(np.float64), y)
    claims = Claims()
    runs = [(mode,) + ask_fisher(run, state, x, y, batch_size, train_mode=mode) for mode in (True, False)]
    # substance: values right in one mode, or what a recognized mistake of 5.1 computes (test 5.1 charges that
    # mistake; these claims are then judged on a real computation, not on zeros, NaN or garbage)
    substance = any(same(got, expected, state) or fisher_diagnosis(got, expected, state, x, y, batch_size) is not None
                    for _, _, got in runs) or same(ask_fisher(run, state, x, y, batch_size, train_mode=False,
                                                              dropout=0.0)[1], expected, state)   # dropout switched on
    unearned = deferred("mode, parameters and detaching earn points once the Fisher's values are right (see test 5.1).")
    # what these claims see is observed directly, whatever the values: it is said (without naming a cause
    # to the audit) even when the points wait for the values
    say = diagnose if substance else (lambda key, text: text)
    for mode, out, _ in runs:
        claims.form("mode restored", 1, out["training_after"] == mode, say(
            "fisher_mode_not_restored", f"a model handed over in {'train' if mode else 'eval'} mode came back in "
            f"{'train' if out['training_after'] else 'eval'} mode: remember model.training before switching to eval "
            "mode and restore it at the end."), substance, unearned)
        claims.form("parameters unchanged", 1, all(np.array_equal(out["state_after"][k], state[k]) for k in state),
                    say("fisher_params_changed", "fisher_diagonal changed the model's parameters: compute gradients "
                        "only (no optimizer step, no in-place update)."), substance, unearned)
        claims.form("detached", 1, not out["requires_grad"], say(
            "fisher_not_detached", "the returned Fisher tensors still require grad: detach them."), substance, unearned)
    claims.form("trainable parameters only", 1, *frozen_entries(run, state, x, y, batch_size, say), substance, unearned)
    return claims.outcome()


def frozen_entries(run, state, x, y, batch_size, say, frozen="hidden.weight"):
    """(holds, message): with a parameter frozen (requires_grad=False) the Fisher has no entry for it, as the
    API asks (one entry per parameter that requires grad: EWC's penalty then skips what does not train)."""
    try:
        got = run("fisher", state=state, x=x, y=y, batch_size=batch_size, train_mode=False, frozen=[frozen])["fisher"]
    except StudentError as error:
        return False, f"with {frozen} frozen (requires_grad=False), fisher_diagonal raised {student_text(str(error))}."
    if frozen in got:
        return False, say("fisher_frozen_entries", f"with {frozen} frozen (requires_grad=False), fisher_diagonal still "
                          f"returned an entry for it: return one per parameter that requires grad.")
    return True, ""


PENALTY_LAMS = [0.25, 1.0, 3.0, 100.0]


def penalty(run):
    """The penalty's value lam/2 sum F (theta - star)^2, its gradient lam F (theta - star), and no gradient
    into fisher or star, on hidden and generated models and strengths. The three earn independently
    (each is judged on every case; the first failing case of each is shown); the gradient and
    nothing-into-fisher-or-star claims earn points only when the value is right somewhere."""
    wrong = {"value": None, "gradient": None, "leak": None}
    substance = False

    @first_failure(HYPOTHESIS, seed=st.integers(0, 10 ** 6), lam=st.sampled_from(PENALTY_LAMS), hidden=st.integers(1, 6))
    def failure(seed, lam, hidden):
        nonlocal substance
        g = rng("ewc", "penalty", seed)
        state = small_net_state(g, 5, hidden, 3)
        fisher = {k: g.uniform(0, 2, v.shape).astype(np.float32) for k, v in state.items()}
        star = {k: (v + g.normal(0, 0.5, v.shape)).astype(np.float32) for k, v in state.items()}
        out = run("ewc_penalty", state=state, fisher=fisher, star=star, lam=lam)
        value = values(out["value"], "the penalty")
        if value.size != 1:
            raise CheckFailed(f"the penalty should be a 0-dim tensor, got shape {value.shape}.")
        diff = {k: state[k].astype(np.float64) - star[k] for k in state}
        expected = lam / 2 * sum((fisher[k] * diff[k] ** 2).sum() for k in state)
        v = float(value.ravel()[0])
        if np.isclose(v, expected, rtol=1e-4):
            substance = True
        elif wrong["value"] is None:
            why = identify(v, expected, penalty_hypotheses(state, fisher, star, lam),
                           lambda a, b: bool(np.isclose(a, b, rtol=1e-4)))
            wrong["value"] = (f"the penalty is {fmt(v)}, expected {fmt(expected)} (lam = {lam})"
                              + ((": " + why) if why else "") + ".")
        grads = out["grad"]
        if wrong["gradient"] is None and np.isclose(v, expected, rtol=1e-4):   # a wrong value's gradient is its own
            if out.get("grad_error"):
                wrong["gradient"] = join("ewc_penalty ", backward_failed(out["grad_error"]), ".")
            elif not out.get("tensor", True):
                wrong["gradient"] = diagnose("penalty_no_gradient", "the penalty is a Python number, not a tensor, so "
                                             "no gradient can reach the model's parameters: keep it a tensor (no "
                                             ".item() or float()).")
            elif grads is None:
                wrong["gradient"] = diagnose("penalty_no_gradient", "no gradient reaches the model's parameters: "
                                             "build the penalty from model.named_parameters() (not .data, .detach() "
                                             "or copies).")
            elif not all(grads.get(k) is not None and np.allclose(grads[k], lam * fisher[k] * diff[k], rtol=1e-3,
                                                                  atol=1e-6) for k in state):
                wrong["gradient"] = ("its gradient w.r.t. the model's parameters is not lam * fisher * (theta - star)"
                                     f" (lam = {lam}).")
        if out.get("written") and wrong["leak"] is None:
            wrong["leak"] = diagnose("penalty_writes_inputs", f"ewc_penalty changed {', '.join(out['written'][:3])}"
                                     f"{', ...' if len(out['written']) > 3 else ''} in place (a .detach() shares its "
                                     "tensor's storage): fisher and star are the caller's, read them without writing.")
        if out["leak"] and wrong["leak"] is None:
            wrong["leak"] = diagnose("penalty_leak", "gradient flows into fisher or star: they are constants of the "
                                     "penalty (use fisher[name].detach() and star[name].detach()).")
        # returns nothing: every example is judged, each claim keeps its first failure

    claims = Claims()
    unearned = deferred("the penalty's gradient and its constants earn points once its value is right.")
    claims.claim("value", 2, wrong["value"] is None, wrong["value"])
    frozen = frozen_parameters(run, substance and wrong["value"] is None)
    claims.form("frozen parameter", 1, frozen is None, frozen, substance, unearned)
    claims.form("gradient", 2, wrong["gradient"] is None, wrong["gradient"], substance, unearned)
    claims.form("nothing into fisher or star", 1, wrong["leak"] is None, wrong["leak"], substance, unearned)
    return claims.outcome()


def frozen_parameters(run, value_right):
    """What to say when the penalty fails for a model with a parameter that does not require grad (fisher and
    star have no entry for it: the contract's fisher is over the parameters that require grad), else None.
    The frozen parameter is the last one (out.bias), then the first one (hidden.weight): pairing by position
    (zip) stays aligned in the first case only. A wrong value is judged here only when the value claim held
    (`value_right`): otherwise it is that claim's mistake, charged once."""
    for frozen, sizes in (("out.bias", (5, 3, 3)), ("hidden.weight", (3, 3, 3))):
        # sizes (3, 3, 3): every tensor pairs with its shifted neighbour by broadcasting, so zip gives a value
        g = rng("ewc", "penalty", "frozen", frozen)
        state = small_net_state(g, *sizes)
        fisher = {k: g.uniform(0, 2, v.shape).astype(np.float32) for k, v in state.items() if k != frozen}
        star = {k: (state[k] + g.normal(0, 0.5, state[k].shape)).astype(np.float32) for k in fisher}
        lam = 3.0
        setting = (f"with {frozen} frozen (requires_grad False, so fisher and star have no entry for it, as "
                   "fisher_diagonal returns none)")
        try:
            out = run("ewc_penalty", state=state, fisher=fisher, star=star, lam=lam, frozen=[frozen])
        except StudentError as error:
            told = f"{setting}, ewc_penalty raised {student_text(str(error))}: sum over the names in fisher."
            # a KeyError naming the frozen parameter: it looked up fisher or star for every named parameter
            looked_up = str(error).startswith(f"KeyError: '{frozen}'")
            return diagnose("penalty_frozen_parameters", told) if looked_up else told
        value = values(out["value"], "the penalty")
        expected = lam / 2 * sum((fisher[k] * (state[k].astype(np.float64) - star[k]) ** 2).sum() for k in fisher)
        close = lambda a, b: a is not None and bool(np.isclose(a, b, rtol=1e-4))
        if value_right and value.size == 1 and not close(float(value.ravel()[0]), expected):
            why = identify(float(value.ravel()[0]), expected, zip_hypotheses(state, fisher, star, lam), close)
            return (f"{setting}, the penalty is {fmt(float(value.ravel()[0]))}, expected {fmt(expected)} (lam = "
                    f"{lam}, the sum over the names in fisher); with every parameter trainable it is right"
                    + ((": " + why) if why else "") + ".")
    return None
