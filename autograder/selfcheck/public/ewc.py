"""The public check of ewc.py (students' pytest only: EWC's graded tests are hidden): properties of
fisher_diagonal and ewc_penalty on a small net."""
import numpy as np

from ..expect import CheckFailed, Claims, deferred, diagnose, fmt, near, values
from .common import ask

# The weights of the homework's linear layers and of EWC's small net, as torch's nn.Linear draws them:
# the judge's too (checks/inputs.py imports them), defined here because the public EWC check ships.

def linear_state(g, prefix, n_in, n_out, dtype=np.float32):
    bound = 1 / np.sqrt(n_in)
    return {f"{prefix}.weight": g.uniform(-bound, bound, (n_out, n_in)).astype(dtype),
            f"{prefix}.bias": g.uniform(-bound, bound, n_out).astype(dtype)}


def small_net_state(g, d_in, hidden, classes, dtype=np.float32):
    return {**linear_state(g, "hidden", d_in, hidden, dtype), **linear_state(g, "out", hidden, classes, dtype)}


def ewc_properties(run):
    """Properties of fisher_diagonal (one finite, non-negative, detached tensor per parameter; the
    same whatever the loader's batch size and whether the model arrives in train or eval mode; mode
    and parameters left as they were) and of ewc_penalty (zero at theta = star, quadratic in
    theta - star, the value and gradient of a case worked out by hand, nothing into fisher or star)."""
    state = small_net_state(np.random.default_rng(5), 4, 5, 3)
    claims = Claims()
    stubs = []
    for part in (_fisher_properties, _penalty_properties):
        try:
            part(run, state, claims)
        except CheckFailed as failed:
            if "not_written" not in failed.keys:
                raise
            stubs.append(str(failed).split(" is not written", 1)[0])
            claims.fail(6, str(failed))
    if len(stubs) == 2:
        raise CheckFailed(diagnose("not_written", "fisher_diagonal and ewc_penalty are not written yet (they raise "
                                                  "NotImplementedError)."))
    return claims.outcome()


def _fisher_properties(run, state, claims):
    g = np.random.default_rng(6)
    x, y = g.normal(size=(12, 4)).astype(np.float32), g.integers(0, 3, 12)
    runs = {}
    for label, batch_size, train_mode in (("batches of 4, eval", 4, False), ("batches of 1, eval", 1, False),
                                          ("batches of 4, train", 4, True)):
        out = ask(run, "fisher", "fisher_diagonal", state=state, x=x, y=y, batch_size=batch_size, train_mode=train_mode)
        missing = sorted(set(state) - set(out["fisher"]))
        if missing:
            raise CheckFailed(diagnose("fisher_missing_keys", f"fisher_diagonal returned no entry for "
                                       f"{', '.join(missing)}: one tensor per parameter that requires grad."))
        runs[label] = out, {k: values(out["fisher"][k], f"fisher[{k!r}]", state[k].shape) for k in state}
    out, f = runs["batches of 4, eval"]
    sane = all(np.all(np.isfinite(a)) and np.all(a >= 0) for a in f.values()) and any(np.any(a) for a in f.values())
    claims.claim("finite, non-negative", 1, sane, "the Fisher should be finite, non-negative (a mean of squares) and not all zero.")
    same = lambda a, b: all(np.allclose(a[k], b[k], rtol=1e-4, atol=1e-7) for k in state)
    claims.claim("independent of batch size", 2, same(f, runs["batches of 1, eval"][1]), "the Fisher changes with the loader's batch size: it is a "
                 "mean over samples of per-sample squared gradients, which does not depend on how samples are batched.")
    claims.claim("independent of mode", 1, same(f, runs["batches of 4, train"][1]), diagnose(
        "fisher_train_mode", "the Fisher changes when the model arrives in train mode (dropout was active): compute it "
        "in eval mode."))
    unearned = "mode, parameters and detaching earn points once the Fisher is finite, non-negative and not all zero."
    for label, (o, _) in runs.items():
        claims.form("mode restored", 1, o["training_after"] == label.endswith("train"), diagnose(
            "fisher_mode_not_restored", "fisher_diagonal did not restore the model's previous mode."), sane, unearned)
        claims.form("parameters unchanged", 1, all(np.array_equal(o["state_after"][k], state[k]) for k in state), diagnose(
            "fisher_params_changed", "fisher_diagonal changed the model's parameters (an optimizer step or an "
            "in-place update)."), sane, unearned)
        claims.form("detached", 1, not o["requires_grad"], diagnose("fisher_not_detached", "the returned Fisher tensors still "
                                                         "require grad: detach them."), sane, unearned)


def _penalty_properties(run, state, claims):
    # the penalty: fisher 2 everywhere, theta - star = 1 everywhere, lam 1 -> 1/2 * 2 * 1 per element
    fisher = {k: np.full(a.shape, 2.0, np.float32) for k, a in state.items()}
    count = sum(a.size for a in state.values())
    star = {k: a - 1 for k, a in state.items()}
    p = ask(run, "ewc_penalty", "ewc_penalty", state=state, fisher=fisher, star=star, lam=1.0)
    value = values(p["value"], "the penalty")
    v = float(value.ravel()[0]) if value.size == 1 else float("nan")
    claims.claim("value", 2, near(v, count, 1e-4), f"with fisher = 2, theta - star = 1 for all {count} parameters and lam = 1 "
                 f"the penalty should be 1/2 * 2 * 1 * {count} = {count}; got {fmt(v)}.")
    at_star = values(ask(run, "ewc_penalty", "ewc_penalty", state=state, fisher=fisher, star=state, lam=1.0)["value"],
                     "the penalty")
    claims.claim("zero at star", 1, at_star.size == 1 and abs(float(at_star.ravel()[0])) < 1e-6,
                 "the penalty should be 0 when the parameters equal star.")
    far = {k: a - 2 for k, a in state.items()}
    v2 = values(ask(run, "ewc_penalty", "ewc_penalty", state=state, fisher=fisher, star=far, lam=1.0)["value"], "the penalty")
    doubled = float(v2.ravel()[0]) if v2.size == 1 else float("nan")
    # a zero penalty is quadratic trivially: it earns nothing, and is not called non-quadratic
    claims.claim("quadratic", 1, near(doubled, 4 * v, 1e-4) and v != 0, deferred(
        "whether the penalty is quadratic in theta - star is judged once it is not 0 (here it is 0 both times).")
        if v == 0 and doubled == 0 else f"doubling theta - star should multiply the penalty by 4 (it is quadratic in "
        f"theta - star): it went from {fmt(v)} to {fmt(doubled)}.")
    grads = p["grad"]
    claims.claim("gradient", 1, grads is not None and all(grads.get(k) is not None and np.allclose(grads[k], 2.0, rtol=1e-4)
                                              for k in state), diagnose(
        "penalty_no_gradient", "no gradient reaches the model's parameters: build the penalty from "
        "model.named_parameters() (not .data, .item() or copies).") if grads is None else
        "the penalty's gradient w.r.t. each parameter should be lam * fisher * (theta - star) = 2 here.")
    claims.claim("nothing into fisher or star", 1, not p["leak"], diagnose("penalty_leak", "gradient flows into fisher or star: they are constants "
                                                            "of the penalty (detach them)."))
