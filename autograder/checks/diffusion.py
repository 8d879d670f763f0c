"""Checks of the diffusion schedule, forward marginal and posterior, on many random schedules and
times. The posterior is compared with the conditional of the joint Gaussian of (x_{t-1}, x_t) given
x_0, computed here independently of the closed form. Deterministic: no false failures.

A cause is named only when the returned values equal, on the same schedule and time, what that
mistake computes (mean AND variance), and the correct values do not (at t = 1 of T = 1, for
instance, 1 - beta_t and alpha_bar_t are equal, so using one for the other cannot be seen there).
Notation, as in the handout's docstrings: alpha_bar_t is the cumulative product of (1 - beta_s); the
one-step factor is written 1 - beta_t (the homework text's alpha_t is the cumulative product).

Values are compared at the precision of the dtype the function RETURNED: a float32 result for float64
inputs is charged once, by test 4.4's dtype claim, not again as wrong values here."""
import numpy as np
from hypothesis import strategies as st

from autograder.redaction import student_text
from autograder.selfcheck.expect import CheckFailed, Claims, deferred, diagnose, fmt, identify, keys_of, values
from autograder.selfcheck.public import diffusion as public_check
from autograder.selfcheck.public.common import not_written, raised_or_returned, returned_text
from autograder.selfcheck.public.diffusion import show_mean
from .diffusion_mistakes import alpha_bar, fits, marginal_hypotheses, pair_match, posterior_hypotheses, shaped_for_images
from .inputs import first_failure, golden, hypothesis_settings, rng

HYPOTHESIS = hypothesis_settings(max_examples=40)


def joint_gaussian_posterior(xt, x0, t, betas):
    """q(x_{t-1} | x_t, x_0) as the conditional of the joint Gaussian of (x_{t-1}, x_t) given x_0."""
    prev = alpha_bar(betas, t - 1)
    mean_prev, var_prev = np.sqrt(prev) * x0, 1 - prev
    a = np.sqrt(1 - betas[t - 1])                        # x_t = a x_{t-1} + sqrt(beta_t) noise
    mean_t, var_t, cov = a * mean_prev, a * a * var_prev + betas[t - 1], a * var_prev
    return mean_prev + cov / var_t * (xt - mean_t), var_prev - cov * cov / var_t


def schedule(draw_seed, T, dtype):
    g = rng("diffusion", draw_seed, T)
    kind = draw_seed % 3
    if kind == 0:
        betas = np.linspace(1e-4, 0.02, T)
    elif kind == 1:
        betas = g.uniform(1e-3, 0.5, T)
    else:
        betas = np.sort(g.uniform(1e-4, 0.9, T))
    return betas.astype(dtype)


def result(out, name, t=None, betas=None):
    if out[name] is None:
        error = str(out[name + "_error"])
        T = None if betas is None else len(betas)
        if not_written(error):
            raise CheckFailed(diagnose("not_written", f"{name} is not written yet (it raises NotImplementedError)."))
        note = "" if betas is None else alpha_bars_note(out, betas)
        if error.startswith("IndexError") and t is not None and t == T and not note:
            # true of every such slip, whichever tensor the code indexed (betas or alpha_bar)
            raise CheckFailed(diagnose("index_past_end", f"{name} at t = T = {T} raised {student_text(error)}; times are "
                                       "1-indexed: beta_t is betas[t - 1] and alpha_bar_t is alpha_bars(betas)[t - 1] "
                                       "(an index t is past the end at t = T)."))
        returned = returned_text(error)
        if returned is not None and returned.endswith("but it is a float"):
            raise CheckFailed(diagnose("diffusion_not_tensor", f"{name} returned what the API does not promise: {returned} "
                                       "(a Python number, as .item() or float() makes): return tensors."))
        raise CheckFailed(f"{name} " + raised_or_returned(error) + (f" (at t = {t} of T = {T})." if t is not None else ".")
                          + note)
    return out[name]


def alpha_bars_note(out, betas):
    """A fact worth knowing when q_xt_given_x0 or q_posterior is wrong: the same submission's alpha_bars
    is wrong on the same schedule (what to fix first, if these functions use it)."""
    observed = out.get("alpha_bars")
    if observed is None:
        return (" Your alpha_bars raises on this schedule (test 4.1); if this function uses it, fix alpha_bars "
                "first." if out.get("alpha_bars_error") else "")
    got = np.asarray(observed[0], np.float64)
    correct = np.cumprod(1 - np.asarray(betas, np.float64))
    written = out.get("betas_after") is not None and changed_input(np.asarray(betas, np.float64), out["betas_after"])
    if written:
        return (f" Your alpha_bars writes into the betas it is given (test 4.1: {written}); if this function calls "
                "it and reads betas afterwards, fix alpha_bars first.")
    rtol, atol = returned_tol(out, "alpha_bars")   # test 4.1's comparison: wrong there is wrong here
    if got.shape == correct.shape and np.allclose(got, correct, rtol=rtol, atol=atol):
        return ""
    return (" Your alpha_bars is also wrong on this schedule (test 4.1); if this function uses it, fix "
            "alpha_bars first.")


def returned_tol(out, name):
    """(rtol, atol) for the precision of what `name` returned (one rule with test 4.4's), and, for
    q_xt_given_x0 and q_posterior, no finer than the alpha_bars returned on the same call: float32
    alpha_bars for float64 betas is charged once, as alpha_bars' dtype (test 4.4), not again as the
    values of the functions that use it, whatever dtype those return."""
    dtypes = list(out.get(name + "_dtype") or [])
    if name != "alpha_bars" and dtypes and out.get("alpha_bars_dtype"):
        dtypes += out["alpha_bars_dtype"]
    tol = public_check.returned_tol({name + "_dtype": dtypes}, name)
    return tol["rtol"], tol["atol"]


def changed_input(given, after):
    """What alpha_bars wrote into the betas it was given, or None when they are as passed."""
    after = np.asarray(after, np.float64)
    if after.shape == given.shape and np.array_equal(after, given):
        return None
    if after.shape != given.shape:
        return f"after the call betas has shape {after.shape}, not the {given.shape} passed in"
    what = ("1 - betas" if np.allclose(after, 1 - given, rtol=1e-6, atol=1e-9) else
            "the returned alpha_bars" if np.allclose(after, np.cumprod(1 - given), rtol=1e-6, atol=1e-9) else None)
    k = int(np.argmax(np.abs(after - given)))
    return (f"after the call betas holds {what}" if what else "after the call betas differs from what was passed in") + (
        f"; betas[{k}] was {fmt(given[k])}, is {fmt(after[k])}")


def alpha_bars(run):
    """alpha_bars equals the explicit product on many schedules (T from 1 to 60, float32 and float64), and
    leaves the betas it is given as they were (earned only when its values are right somewhere)."""
    changed, right_somewhere = [], []

    @first_failure(HYPOTHESIS, T=st.integers(1, 60), seed=st.integers(0, 10 ** 6), dtype=st.sampled_from(["float32", "float64"]))
    def failure(T, seed, dtype):
        betas = schedule(seed, T, dtype)
        out = run("diffusion", betas=betas, x0=np.zeros(2, dtype), xt=np.zeros(2, dtype), t=1)
        observed = values(result(out, "alpha_bars")[0], "alpha_bars")
        b = betas.astype(np.float64)
        written = changed_input(b, out["betas_after"])
        if written and not changed:
            changed.append(diagnose("ab_writes_input", f"alpha_bars changed its input on a schedule of length {T} "
                           f"({dtype}): {written}. It must compute into a new tensor and leave the caller's betas as they "
                           "are (a caller that reads betas after calling alpha_bars reads the changed values)."))
        expected = np.array([alpha_bar(b, t) for t in range(1, T + 1)])
        if observed.shape != expected.shape:
            return f"alpha_bars on a schedule of length {T}: shape {observed.shape}, expected ({T},)."
        rtol, atol = returned_tol(out, "alpha_bars")
        right = np.allclose(observed, expected, rtol=rtol, atol=atol)
        right_somewhere.append(right)
        if not right:
            hypotheses = [
                ("ab_cumprod_betas", np.cumprod(b), "it is the cumulative product of the betas; alpha_bar_t is the "
                                                    "product of (1 - beta_s)"),
                ("ab_alpha_t", 1 - b, "it is 1 - beta_t at each t; alpha_bar_t is the CUMULATIVE product of "
                                      "(1 - beta_s)"),
                ("ab_cumsum", np.cumsum(1 - b), "it is a cumulative sum of (1 - beta_s); alpha_bar_t is a cumulative "
                                                "product"),
                ("ab_shifted", np.concatenate([[1.0], np.cumprod(1 - b)[:-1]]), "it is shifted by one: index t - 1 "
                                                                                "must hold alpha_bar_t, not alpha_bar_(t-1)"),
            ]
            match = lambda a, p: a.shape == p.shape and np.allclose(a, p, rtol=1e-4, atol=1e-7)
            why = identify(observed, expected, hypotheses, match)
            worst = int(np.argmax(np.abs(observed - expected)))
            return (f"alpha_bars on a schedule of length {T} ({dtype}): at t = {worst + 1} "
                    + beside("it", observed[worst], expected[worst], fmt(observed[worst]), fmt(expected[worst]), rtol)
                    + ((": " + why) if why else "") + ".")

    claims = Claims()
    claims.claim("values", 3, failure is None, failure)
    claims.form("betas unchanged", 1, not changed, changed and changed[0], any(right_somewhere),
                deferred("leaving betas unchanged earns its point once the values are right."))
    return claims.outcome()


def beside(what, got, want, shown, shown_expected, rtol):
    """'<what> is <shown>, expected <shown_expected>'; where the two print alike, how far apart they are
    (the comparison reads more digits than are shown)."""
    text = f"{what} is {shown}, expected {shown_expected}"
    if shown != shown_expected:
        return text
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    apart = float(np.max(np.abs(got - want))) / max(float(np.max(np.abs(want))), 1e-300)
    return text + (f" (alike to the digits shown, but {apart:.2g} apart relative to its largest entry, where the returned "
                   f"dtype's tolerance is {rtol:.2g})")


def describe_pair(mean, var, e_mean, e_var, x0, xt=None, rtol=1e-9, atol=1e-12):
    """What is wrong with (mean, var), each observed beside the expected value: nothing is said of a part
    that is right to the precision of the returned dtype (`rtol`, `atol`)."""
    parts = []
    if mean.shape != e_mean.shape:
        parts.append(f"the mean has shape {mean.shape}, expected {e_mean.shape}")
    elif not np.allclose(mean, e_mean, rtol=rtol, atol=atol):
        parts.append(beside("the mean", mean, e_mean, show_mean(mean, x0, xt), show_mean(e_mean, x0, xt), rtol))
    if not fits(var, np.shape(x0)):
        parts.append(f"the variance has shape {var.shape}, which does not broadcast to x0's {np.shape(x0)}")
    elif not fits(var, np.broadcast_shapes(var.shape, np.shape(e_var))):
        parts.append(f"the variance has shape {var.shape}, expected {np.shape(e_var)}")
    else:
        v = np.broadcast_to(var, np.broadcast_shapes(var.shape, np.shape(e_var)))
        if not np.allclose(v, e_var, rtol=rtol, atol=atol):
            parts.append(beside("the variance", v, e_var, fmt(float(np.ravel(v)[0])), fmt(float(np.ravel(e_var)[0])), rtol))
    return " and ".join(parts)


def forward_marginal(run):
    """q_xt_given_x0: mean sqrt(alpha_bar_t) x0 and variance 1 - alpha_bar_t, for every t."""
    failed_at = []

    @first_failure(HYPOTHESIS, T=st.integers(1, 50), data=st.data(), seed=st.integers(0, 10 ** 6))
    def failure(T, data, seed):
        t = data.draw(st.integers(1, T))
        message = marginal_failure(run, T, t, seed)
        if message:
            failed_at.append(t)
        return message

    if failure:
        # an unnamed mistake seen only at t = 1 reads like an edge case: show a middle time too
        if failed_at[-1] == 1 and not keys_of(failure):
            middle = marginal_failure(run, 10, 5, 0)
            failure += f" Also {middle}" if middle else ""
        raise CheckFailed(failure)


def marginal_failure(run, T, t, seed):
    """What is wrong with q_xt_given_x0 at time t of a seeded schedule of length T, or None."""
    b = schedule(seed, T, "float64")
    x0 = rng("diffusion", "x0", seed).normal(size=(3, 4))
    out = run("diffusion", betas=b, x0=x0, xt=x0, t=int(t))
    mean, var = (values(v, n) for v, n in zip(result(out, "q_xt_given_x0", t, b), ("mean", "var")))
    ab = alpha_bar(b, t)
    correct = (np.sqrt(ab) * x0, np.array(1 - ab))
    rtol, atol = returned_tol(out, "q_xt_given_x0")
    ok_mean = mean.shape == x0.shape and np.allclose(mean, correct[0], rtol=rtol, atol=atol)
    ok_var = fits(var, x0.shape) and np.allclose(var, correct[1], rtol=rtol, atol=atol)
    if not (ok_mean and ok_var):
        why = (identify((mean, var), correct, marginal_hypotheses(x0, t, b), pair_match(max(rtol, 1e-6), max(atol, 1e-9)))
               or shaped_for_images(mean, var, x0))
        return (f"q_xt_given_x0 at t = {t} of T = {T}: {describe_pair(mean, var, *correct, x0, None, rtol, atol)}"
                + ((": " + why) if why else "") + "." + alpha_bars_note(out, b))
    return None


def posterior_tol(out, t, b, floor, scale=3.0):
    """(rtol, atol) for q_posterior's result: the returned dtype's, no finer than `floor`. A float32 result
    also carries the cancellation in 1 - alpha_bar near alpha_bar = 1 (float32's rounding, 6e-8, divided by
    the smallest of 1 - alpha_bar_t and 1 - alpha_bar_(t-1)), which no float32 computation avoids: that
    is the dtype's precision too. `scale`: the size of x0 and x_t (standard normal entries)."""
    rtol, atol = (max(a, f) for a, f in zip(returned_tol(out, "q_posterior"), floor))
    if rtol < 1e-6:
        return rtol, atol
    gap = 1 - alpha_bar(np.asarray(b, np.float64), t - 1) if t > 1 else 1.0
    amplified = 4e-7 / max(gap, 1e-12)
    return rtol + amplified, atol + amplified * scale


def posterior_message(got, xt, x0, t, b, out, label, floor=(0.0, 0.0)):
    """What is wrong with q_posterior's (mean, var), at the precision of the returned dtype (no finer than
    `floor`: the golden case's own rounding)."""
    mean, var = got
    correct = joint_gaussian_posterior(xt, x0, t, b)
    rtol, atol = posterior_tol(out, t, b, floor)
    why = identify((mean, var), correct, posterior_hypotheses(xt, x0, t, b), pair_match(max(rtol, 1e-5), max(atol, 1e-8)))
    return (f"q_posterior {label}: {describe_pair(mean, var, *correct, x0, xt, rtol, atol)}"
            + ((": " + why) if why else "") + "." + alpha_bars_note(out, b))


def posterior(run):
    """q_posterior equals the joint-Gaussian conditional for t >= 2 on many schedules, and the
    reference's output on a hidden case (golden)."""
    claims = Claims()
    case = golden("diffusion")
    inputs, expected = case["inputs"], case["expected"]
    t, b = int(inputs["t"]), inputs["betas"]
    out = run("diffusion", betas=b, x0=inputs["x0"], xt=inputs["xt"], t=t)
    got = [values(g, "q_posterior") for g in result(out, "q_posterior", t, b)]
    rtol, atol = posterior_tol(out, t, b, (1e-4, 1e-6))
    ok = all(fits(g, inputs["x0"].shape) and np.allclose(g, e, rtol=rtol, atol=atol)
             for g, e in zip(got, (expected["q_posterior"]["mean"], expected["q_posterior"]["var"])))
    claims.claim("hidden case", 1, ok, "" if ok else posterior_message(
        got, inputs["xt"].astype(np.float64), inputs["x0"].astype(np.float64), t, b.astype(np.float64), out,
        "on a hidden case", floor=(1e-4, 1e-6)))

    def generated(T, data, seed):
        t = data.draw(st.integers(2, T))
        betas = schedule(seed, T, "float64")
        g = rng("diffusion", "posterior", seed)
        x0, xt = g.normal(size=(2, 5)), g.normal(size=(2, 5))
        out = run("diffusion", betas=betas, x0=x0, xt=xt, t=int(t))
        mean, var = (values(v, n) for v, n in zip(result(out, "q_posterior", t, betas), ("mean", "var")))
        e_mean, e_var = joint_gaussian_posterior(xt, x0, t, betas)
        rtol, atol = posterior_tol(out, t, betas, (1e-8, 1e-12))
        if not (mean.shape == x0.shape and np.allclose(mean, e_mean, rtol=rtol, atol=max(atol, 1e-10))
                and fits(var, x0.shape) and np.allclose(var, e_var, rtol=rtol, atol=atol)):
            return posterior_message((mean, var), xt, x0, t, betas, out, f"at t = {t} of T = {T} (the conditional "
                                     "of the joint Gaussian of (x_(t-1), x_t) given x_0)", floor=(1e-8, 1e-10))

    try:
        failure = first_failure(HYPOTHESIS, T=st.integers(2, 50), data=st.data(), seed=st.integers(0, 10 ** 6))(generated)
    except CheckFailed as raised:
        # a generated case raised (e.g. at t = T): the hidden case's verdict above still stands and is said beside it
        failure = raised.args[0]
    claims.claim("generated cases", 3, failure is None, failure or "")
    return claims.outcome()
