"""Checks of ewc.fisher_diagonal and ewc.ewc_penalty, against numpy per-sample gradients of a small
tanh network with dropout (so a Fisher computed in train mode is revealed). Deterministic."""
import numpy as np
from hypothesis import given, strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, fmt, values
from autograder.selfcheck import numeric
from .inputs import golden, hypothesis_settings, rng, small_net_state

HYPOTHESIS = hypothesis_settings(max_examples=20)


def fisher_case():
    inputs = golden("fisher")["inputs"]
    return inputs["state"], inputs["x"], inputs["y"], int(inputs["batch_size"])


def ask_fisher(run, state, x, y, batch_size, train_mode):
    out = run("fisher", state=state, x=x, y=y, batch_size=batch_size, train_mode=train_mode)
    got = out["fisher"]
    missing = sorted(set(state) - set(got))
    if missing:
        raise CheckFailed(f"fisher_diagonal returned no entry for {', '.join(missing)}: return one tensor per "
                          "name in model.named_parameters() that requires grad.")
    return out, {k: values(got[k], f"fisher[{k!r}]", state[k].shape) for k in state}


def fisher_hint(got, state, x, y, batch_size):
    grads = numeric.small_net_per_sample_grads(state, x.astype(np.float64), y)
    n = len(x)
    batch_sq = {k: sum((g[i:i + batch_size].mean(0) ** 2) * len(g[i:i + batch_size]) for i in range(0, n, batch_size)) / n
                for k, g in grads.items()}
    batch_sq_plain = {k: np.mean([(g[i:i + batch_size].mean(0) ** 2) for i in range(0, n, batch_size)], 0)
                      for k, g in grads.items()}
    predicted = numeric.small_net_logits(state, x.astype(np.float64))[0].argmax(-1)
    patterns = {
        "it looks like the square of a batch gradient: square each sample's gradient, then average": batch_sq,
        "it looks like the square of the batch-mean gradient: the Fisher needs per-sample squared gradients": batch_sq_plain,
        "it looks like the Fisher at the predicted label: use the true labels y from the loader":
            numeric.small_net_fisher(state, x.astype(np.float64), predicted),
        "it looks like a sum over samples: divide by the number of samples N":
            {k: (g ** 2).sum(0) for k, g in grads.items()},
        "the gradients are not squared": {k: g.mean(0) for k, g in grads.items()},
        "the gradients are not squared (abs instead of the square?)": {k: np.abs(g).mean(0) for k, g in grads.items()},
        "it looks like only the first batch was used: average over all samples the loader yields":
            {k: (g[:batch_size] ** 2).mean(0) for k, g in grads.items()},
    }
    for why, pattern in patterns.items():
        if all(np.allclose(got[k], pattern[k], rtol=1e-3, atol=1e-7) for k in state):
            return why
    return "F_i = (1/N) sum_n (d/dtheta_i log softmax(model(x_n))[y_n])^2, in eval mode"


def fisher_values(run):
    """The Fisher of a hidden model and data equals the per-sample computation in eval mode, whether
    the model was handed over in eval mode or in train mode (dropout active)."""
    state, x, y, batch_size = fisher_case()
    expected = numeric.small_net_fisher(state, x.astype(np.float64), y)
    claims = Claims()
    _, got_eval = ask_fisher(run, state, x, y, batch_size, train_mode=False)
    ok_eval = all(np.allclose(got_eval[k], expected[k], rtol=1e-3, atol=1e-8) for k in state)
    claims.claim(3, ok_eval, "the Fisher of a model in eval mode is wrong: " + fisher_hint(got_eval, state, x, y, batch_size) + ".")
    _, got_train = ask_fisher(run, state, x, y, batch_size, train_mode=True)
    ok_train = all(np.allclose(got_train[k], expected[k], rtol=1e-3, atol=1e-8) for k in state)
    claims.claim(2, ok_train or not ok_eval,
                 "the Fisher changes when the model arrives in train mode: dropout was active. Call model.eval() "
                 "before computing it (and restore the previous mode afterwards).")
    return claims.outcome()


def fisher_side_effects(run):
    """Mode restored, parameters unchanged, returned tensors detached."""
    state, x, y, batch_size = fisher_case()
    claims = Claims()
    for mode in (True, False):
        out, _ = ask_fisher(run, state, x, y, batch_size, train_mode=mode)
        claims.claim(1, out["training_after"] == mode, "fisher_diagonal did not restore the model's previous mode: "
                     "remember model.training before model.eval() and call model.train(previous) at the end.")
        claims.claim(1, all(np.array_equal(out["state_after"][k], state[k]) for k in state),
                     "fisher_diagonal changed the model's parameters: compute gradients only (no optimizer step, "
                     "no in-place update).")
        claims.claim(1, not out["requires_grad"], "the returned Fisher tensors still require grad: detach them.")
    return claims.outcome()


def penalty(run):
    """The penalty's value lam/2 sum F (theta - star)^2 and its gradient lam F (theta - star), with no
    gradient into fisher or star, on hidden and generated models and strengths."""
    failures = []

    @HYPOTHESIS
    @given(seed=st.integers(0, 10 ** 6), lam=st.sampled_from([0.5, 1.0, 3.0, 100.0]), hidden=st.integers(1, 6))
    def prop(seed, lam, hidden):
        g = rng("ewc", "penalty", seed)
        state = small_net_state(g, 5, hidden, 3)
        fisher = {k: g.uniform(0, 2, v.shape).astype(np.float32) for k, v in state.items()}
        star = {k: (v + g.normal(0, 0.5, v.shape)).astype(np.float32) for k, v in state.items()}
        out = run("ewc_penalty", state=state, fisher=fisher, star=star, lam=lam)
        value = values(out["value"], "the penalty")
        diff = {k: state[k].astype(np.float64) - star[k] for k in state}
        expected = lam / 2 * sum((fisher[k] * diff[k] ** 2).sum() for k in state)
        if value.size != 1 or not np.isclose(value.ravel()[0], expected, rtol=1e-4):
            v = float(value.ravel()[0]) if value.size else float("nan")
            why = ("the factor 1/2 is missing" if np.isclose(v, 2 * expected, rtol=1e-4) else
                   "the difference is not squared" if np.isclose(v, lam / 2 * sum((fisher[k] * diff[k]).sum() for k in state), rtol=1e-4) else
                   "the Fisher weights are missing" if np.isclose(v, lam / 2 * sum((diff[k] ** 2).sum() for k in state), rtol=1e-4) else
                   "expected lam / 2 * sum fisher * (theta - star)^2 over all names")
            failures.append(f"the penalty is {fmt(v)}, expected {fmt(expected)}: {why}." if value.size == 1 else
                            f"the penalty should be a 0-dim tensor, got shape {value.shape}.")
            raise AssertionError
        grads = out["grad"]
        if grads is None or not all(grads.get(k) is not None and np.allclose(grads[k], lam * fisher[k] * diff[k], rtol=1e-3, atol=1e-6)
                                    for k in state):
            failures.append("the penalty's gradient w.r.t. the model's parameters should be lam * fisher * (theta - star)"
                            + ("; no gradient reached them (build it from the model's parameters, not copies)." if grads is None else "."))
            raise AssertionError
        if out["leak"]:
            failures.append("gradient flows into fisher or star: detach them (they are constants of the penalty).")
            raise AssertionError

    try:
        prop()
    except AssertionError:
        raise CheckFailed(failures[-1]) from None
