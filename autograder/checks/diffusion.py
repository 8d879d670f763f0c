"""Checks of the diffusion schedule, forward marginal and posterior, on many random schedules and
times. The posterior is compared with the conditional of the joint Gaussian of (x_{t-1}, x_t) given
x_0, computed here independently of the closed form. Deterministic: no false failures.

A cause is named only when the returned values equal, on the same schedule and time, what that
mistake computes (mean AND variance), and the correct values do not (at t = 1 of T = 1, for
instance, alpha_t and alpha_bar_t are equal, so using one for the other cannot be seen there)."""
import numpy as np
from hypothesis import strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, diagnose, fmt, values
from .inputs import first_failure, golden, hypothesis_settings, rng

HYPOTHESIS = hypothesis_settings(max_examples=40)
TOL = {"float32": dict(rtol=2e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-12)}


def alpha_bar(betas, t):
    """alpha_bar_t with alpha_bar_0 = 1, by an explicit product."""
    return float(np.prod(1.0 - betas[:t]))


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


def result(out, name, t=None, T=None):
    if out[name] is None:
        error = str(out[name + "_error"])
        if error.startswith("NotImplementedError"):
            raise CheckFailed(diagnose("not_written", f"{name} is not written yet (it raises NotImplementedError)."))
        if error.startswith("IndexError") and t is not None and t == T:
            raise CheckFailed(diagnose("index_past_end", f"{name} at t = T = {T} raised {error}: times are 1-indexed, "
                                       "so alpha_bar_t is at index t - 1; index t runs past the end at t = T."))
        raise CheckFailed(f"{name} raised {error}" + (f" at t = {t} of T = {T}." if t is not None else "."))
    return out[name]


def alpha_bars_note(out, betas):
    """A fact worth knowing when q_xt_given_x0 or q_posterior is wrong: the same submission's alpha_bars
    is wrong on the same schedule (what to fix first, if these functions use it)."""
    observed = out.get("alpha_bars")
    if observed is None:
        return ""
    got = np.asarray(observed[0], np.float64)
    correct = np.cumprod(1 - np.asarray(betas, np.float64))
    if got.shape == correct.shape and np.allclose(got, correct, rtol=1e-5, atol=1e-7):
        return ""
    return (" Your alpha_bars is also wrong on this schedule (test 4.1); if this function uses it, fix "
            "alpha_bars first.")


def confirmed(observed, correct, hypotheses, match):
    """The one hypothesis (key, text) whose prediction the observation matches and the correct output
    does not, or None."""
    found = [(k, text) for k, prediction, text in hypotheses
             if prediction is not None and match(observed, prediction) and not match(correct, prediction)]
    return diagnose(*found[0]) if len(found) == 1 else None


def pair_match(rtol=1e-6, atol=1e-9):
    def match(a, b):
        try:
            return all(np.allclose(np.broadcast_to(x, np.broadcast_shapes(np.shape(x), np.shape(y))),
                                   y, rtol=rtol, atol=atol) for x, y in zip(a, b))
        except ValueError:
            return False
    return match


def float32_rounding(out, name, dtype_in):
    """A diagnosis when float64 inputs came back as float32 outputs."""
    dtypes = out.get(name + "_dtype") or []
    if dtype_in == "float64" and any(d != "float64" for d in dtypes):
        return diagnose("dtype_not_kept", f"the outputs are {', '.join(dtypes)} for float64 inputs: keep the input "
                                          "dtype (compute in x0's dtype, do not cast to float32)")
    return None


def alpha_bars(run):
    """alpha_bars equals the explicit product on many schedules (T from 1 to 60, float32 and float64)."""
    @first_failure(HYPOTHESIS, T=st.integers(1, 60), seed=st.integers(0, 10 ** 6), dtype=st.sampled_from(["float32", "float64"]))
    def failure(T, seed, dtype):
        betas = schedule(seed, T, dtype)
        out = run("diffusion", betas=betas, x0=np.zeros(2, dtype), xt=np.zeros(2, dtype), t=1)
        observed = values(result(out, "alpha_bars")[0], "alpha_bars")
        b = betas.astype(np.float64)
        expected = np.array([alpha_bar(b, t) for t in range(1, T + 1)])
        if observed.shape != expected.shape:
            return f"alpha_bars on a schedule of length {T}: shape {observed.shape}, expected ({T},)."
        if not np.allclose(observed, expected, **TOL[dtype]):
            hypotheses = [
                ("ab_cumprod_betas", np.cumprod(b), "it is the cumulative product of the betas; alpha_bar_t is the "
                                                    "product of (1 - beta_s)"),
                ("ab_alpha_t", 1 - b, "it is 1 - beta_t at each t (alpha_t); alpha_bar_t is the CUMULATIVE product of "
                                      "(1 - beta_s)"),
                ("ab_cumsum", np.cumsum(1 - b), "it is a cumulative sum of (1 - beta_s); alpha_bar_t is a cumulative "
                                                "product"),
                ("ab_shifted", np.concatenate([[1.0], np.cumprod(1 - b)[:-1]]), "it is shifted by one: index t - 1 "
                                                                                "must hold alpha_bar_t, not alpha_bar_(t-1)"),
            ]
            match = lambda a, p: a.shape == p.shape and np.allclose(a, p, rtol=1e-4, atol=1e-7)
            why = confirmed(observed, expected, hypotheses, match)
            worst = int(np.argmax(np.abs(observed - expected)))
            return (f"alpha_bars on a schedule of length {T} ({dtype}): at t = {worst + 1} got "
                    f"{fmt(observed[worst])}, expected {fmt(expected[worst])}" + ((": " + why) if why else "") + ".")

    if failure:
        raise CheckFailed(failure)


def describe_pair(mean, var, e_mean, e_var, rtol=1e-9, atol=1e-12):
    parts = []
    if mean.shape != e_mean.shape or not np.allclose(mean, e_mean, rtol=rtol, atol=atol):
        parts.append("the mean " + (f"has shape {mean.shape}, expected {e_mean.shape}" if mean.shape != e_mean.shape
                                    else f"is off by up to {fmt(float(np.abs(mean - e_mean).max()))}"))
    try:
        v = np.broadcast_to(var, np.broadcast_shapes(var.shape, np.shape(e_var)))
        if not np.allclose(v, e_var, rtol=rtol, atol=atol):
            parts.append(f"the variance is {fmt(float(np.ravel(v)[0]))}, expected {fmt(float(np.ravel(e_var)[0]))}")
    except ValueError:
        parts.append(f"the variance has shape {var.shape}, not broadcastable to x0's")
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
        if failed_at[-1] == 1:   # a mistake seen only at t = 1 reads like an edge case: show a middle time too
            middle = marginal_failure(run, 10, 5, 0)
            failure += f" Also {middle}" if middle else ""
        raise CheckFailed(failure)


def marginal_failure(run, T, t, seed):
    """What is wrong with q_xt_given_x0 at time t of a seeded schedule of length T, or None."""
    b = schedule(seed, T, "float64")
    x0 = rng("diffusion", "x0", seed).normal(size=(3, 4))
    out = run("diffusion", betas=b, x0=x0, xt=x0, t=int(t))
    mean, var = (values(v, n) for v, n in zip(result(out, "q_xt_given_x0", t, T), ("mean", "var")))
    ab = alpha_bar(b, t)
    correct = (np.sqrt(ab) * x0, np.array(1 - ab))
    ok_mean = mean.shape == x0.shape and np.allclose(mean, correct[0], rtol=1e-9, atol=1e-12)
    ok_var = (np.broadcast_shapes(var.shape, x0.shape) == x0.shape
              and np.allclose(var, correct[1], rtol=1e-9, atol=1e-12))
    if not (ok_mean and ok_var):
        nxt = alpha_bar(b, t + 1) if t < T else None
        hypotheses = [
            ("fwd_alpha_t", (np.sqrt(1 - b[t - 1]) * x0, b[t - 1]), "alpha_t = 1 - beta_t was used in place of "
             "alpha_bar_t, the cumulative product up to t"),
            ("fwd_off_by_one", None if nxt is None else (np.sqrt(nxt) * x0, 1 - nxt), "alpha_bar_(t+1) was used "
             "for time t: times are 1-indexed, alpha_bar_t is at index t - 1"),
            ("fwd_mean_no_sqrt", (ab * x0, 1 - ab), "the mean scales x0 by alpha_bar_t; it is sqrt(alpha_bar_t) x0"),
            ("fwd_var_sqrt", (np.sqrt(ab) * x0, np.sqrt(1 - ab)), "the variance is returned as the standard "
             "deviation sqrt(1 - alpha_bar_t); it is 1 - alpha_bar_t"),
        ]
        why = confirmed((mean, var), correct, hypotheses, pair_match()) or (
            float32_rounding(out, "q_xt_given_x0", "float64")
            if pair_match(1e-5, 1e-6)((mean, var), correct) else None)
        return (f"q_xt_given_x0 at t = {t} of T = {T}: {describe_pair(mean, var, *correct)}"
                + ((": " + why) if why else "") + "." + alpha_bars_note(out, b))
    return None


def posterior_hypotheses(xt, x0, t, b):
    """(key, (mean, var) that mistake returns, what to say), for t >= 2."""
    T = len(b)
    ab_t, ab_prev, beta = alpha_bar(b, t), alpha_bar(b, t - 1), b[t - 1]
    c0 = np.sqrt(ab_prev) * beta / (1 - ab_t)
    ct = np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab_t)
    var = beta * (1 - ab_prev) / (1 - ab_t)
    h = [("post_swapped", (ct * x0 + c0 * xt, var), "the coefficients of x0 and x_t are swapped"),
         ("post_typo_ab_prev", (c0 * x0 + np.sqrt(ab_prev) * (1 - ab_prev) / (1 - ab_t) * xt, var),
          "the x_t coefficient has sqrt(alpha_bar_(t-1)), the printed solution's typo: it is sqrt(1 - beta_t) "
          "(1 - alpha_bar_(t-1)) / (1 - alpha_bar_t)"),
         ("post_ab_t_in_xt", (c0 * x0 + np.sqrt(ab_t) * (1 - ab_prev) / (1 - ab_t) * xt, var),
          "the x_t coefficient has sqrt(alpha_bar_t): it is sqrt(alpha_t) = sqrt(1 - beta_t), the one-step factor"),
         ("post_var_no_beta", (c0 * x0 + ct * xt, (1 - ab_prev) / (1 - ab_t)),
          "the variance lacks its factor beta_t: var = beta_t (1 - alpha_bar_(t-1)) / (1 - alpha_bar_t)")]
    if t < T:
        a_next = alpha_bar(b, t + 1)
        h.append(("post_off_by_one", (np.sqrt(ab_t) * beta / (1 - a_next) * x0 + np.sqrt(1 - beta) * (1 - ab_t)
                                      / (1 - a_next) * xt, beta * (1 - ab_t) / (1 - a_next)),
                  "alpha_bar is read one step late (alpha_bar_(t+1) for alpha_bar_t and alpha_bar_t for "
                  "alpha_bar_(t-1)): alpha_bar_t is at index t - 1"))
    return h


def posterior_message(got, xt, x0, t, b, out, dtype, label, tol=(1e-9, 1e-12)):
    mean, var = got
    correct = joint_gaussian_posterior(xt, x0, t, b)
    why = confirmed((mean, var), correct, posterior_hypotheses(xt, x0, t, b), pair_match(1e-5, 1e-8))
    if why is None and pair_match(1e-4, 1e-6)((mean, var), correct):
        why = float32_rounding(out, "q_posterior", dtype)
    return (f"q_posterior {label}: {describe_pair(mean, var, *correct, *tol)}" + ((": " + why) if why else "") + "."
            + alpha_bars_note(out, b))


def posterior(run):
    """q_posterior equals the joint-Gaussian conditional for t >= 2 on many schedules, and the
    reference's output on a hidden case (golden)."""
    claims = Claims()
    case = golden("diffusion")
    inputs, expected = case["inputs"], case["expected"]
    t, b = int(inputs["t"]), inputs["betas"]
    out = run("diffusion", betas=b, x0=inputs["x0"], xt=inputs["xt"], t=t)
    got = [values(g, "q_posterior") for g in result(out, "q_posterior", t, len(b))]
    ok = all(np.allclose(g, e, rtol=1e-4, atol=1e-6) and np.broadcast_shapes(np.shape(g), inputs["x0"].shape) ==
             inputs["x0"].shape for g, e in zip(got, (expected["q_posterior"]["mean"], expected["q_posterior"]["var"])))
    claims.claim(1, ok, "" if ok else posterior_message(
        got, inputs["xt"].astype(np.float64), inputs["x0"].astype(np.float64), t, b.astype(np.float64), out,
        str(inputs["x0"].dtype), "on a hidden case", tol=(1e-4, 1e-6)))
    @first_failure(HYPOTHESIS, T=st.integers(2, 50), data=st.data(), seed=st.integers(0, 10 ** 6))
    def failure(T, data, seed):
        t = data.draw(st.integers(2, T))
        betas = schedule(seed, T, "float64")
        g = rng("diffusion", "posterior", seed)
        x0, xt = g.normal(size=(2, 5)), g.normal(size=(2, 5))
        out = run("diffusion", betas=betas, x0=x0, xt=xt, t=int(t))
        mean, var = (values(v, n) for v, n in zip(result(out, "q_posterior", t, T), ("mean", "var")))
        e_mean, e_var = joint_gaussian_posterior(xt, x0, t, betas)
        if not (mean.shape == x0.shape and np.allclose(mean, e_mean, rtol=1e-8, atol=1e-10)
                and np.allclose(var, e_var, rtol=1e-8, atol=1e-12)):
            return (posterior_message((mean, var), xt, x0, t, betas, out, "float64",
                                      f"at t = {t} of T = {T} (the conditional of the joint Gaussian of "
                                      "(x_(t-1), x_t) given x_0)"))

    claims.claim(3, failure is None, failure or "")
    return claims.outcome()
