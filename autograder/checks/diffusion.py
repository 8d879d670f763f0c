"""Checks of the diffusion schedule, forward marginal and posterior, on many random schedules and
times. The posterior is compared with the conditional of the joint Gaussian of (x_{t-1}, x_t) given
x_0, computed here independently of the closed form. Deterministic: no false failures."""
import numpy as np
from hypothesis import given, strategies as st

from autograder.selfcheck.expect import CheckFailed, Claims, values
from .inputs import golden, hypothesis_settings, rng

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


def ask(run, betas, x0, xt, t):
    out = run("diffusion", betas=betas, x0=x0, xt=xt, t=int(t))
    return out


def result(out, name, count):
    if out[name] is None:
        error = out[name + "_error"]
        hint = (" Times are 1-indexed: alpha_bars(betas)[t - 1] holds alpha_bar_t (an index off by one runs past "
                "the end at t = T)." if str(error).startswith("IndexError") else "")
        raise CheckFailed(f"{name} raised {error}.{hint}")
    return out[name]


def ab_diagnosis(observed, betas):
    b = betas.astype(np.float64)
    patterns = {"the cumulative product of betas (cumprod of betas); alpha_bar_t is the product of (1 - beta_s)": np.cumprod(b),
                "1 - beta_t (alpha_t); alpha_bar_t is the CUMULATIVE product of (1 - beta_s)": 1 - b,
                "a cumulative sum (cumsum); alpha_bar_t is a cumulative product (torch.cumprod of 1 - betas)": np.cumsum(1 - b),
                "off by one: index t-1 must hold alpha_bar_t = prod_{s<=t} (1 - beta_s)":
                    np.concatenate([[1.0], np.cumprod(1 - b)[:-1]])}
    for why, values_ in patterns.items():
        if observed.shape == values_.shape and np.allclose(observed, values_, rtol=1e-4):
            return why
    return "alpha_bar_t = prod_{s<=t} (1 - beta_s), at index t-1"


def alpha_bars(run):
    """alpha_bars equals the explicit product on many schedules (T from 1 to 60, float32 and float64)."""
    failures = []

    @HYPOTHESIS
    @given(T=st.integers(1, 60), seed=st.integers(0, 10 ** 6), dtype=st.sampled_from(["float32", "float64"]))
    def prop(T, seed, dtype):
        betas = schedule(seed, T, dtype)
        out = ask(run, betas, np.zeros(2, dtype), np.zeros(2, dtype), 1)
        observed = values(result(out, "alpha_bars", 1)[0], "alpha_bars")
        expected = np.array([alpha_bar(betas.astype(np.float64), t) for t in range(1, T + 1)])
        if observed.shape != expected.shape or not np.allclose(observed, expected, **TOL[dtype]):
            failures.append(f"alpha_bars on a schedule of length {T}: " + (
                f"shape {observed.shape}, expected ({T},)" if observed.shape != expected.shape
                else "got " + ab_diagnosis(observed, betas)) + ".")
            raise AssertionError

    try:
        prop()
    except AssertionError:
        raise CheckFailed(failures[-1]) from None


def forward_marginal(run):
    """q_xt_given_x0: mean sqrt(alpha_bar_t) x0 and variance 1 - alpha_bar_t, for every t."""
    failures = []

    @HYPOTHESIS
    @given(T=st.integers(1, 50), data=st.data(), seed=st.integers(0, 10 ** 6))
    def prop(T, data, seed):
        t = data.draw(st.integers(1, T))
        betas = schedule(seed, T, "float64")
        x0 = rng("diffusion", "x0", seed).normal(size=(3, 4))
        out = ask(run, betas, x0, x0, t)
        mean, var = (values(v, n) for v, n in zip(result(out, "q_xt_given_x0", 2), ("mean", "var")))
        ab = alpha_bar(betas, t)
        ok_mean = mean.shape == x0.shape and np.allclose(mean, np.sqrt(ab) * x0, rtol=1e-9, atol=1e-12)
        ok_var = np.broadcast_shapes(var.shape, x0.shape) == x0.shape and np.allclose(var, 1 - ab, rtol=1e-9, atol=1e-12)
        if not (ok_mean and ok_var):
            b = betas
            hints = []
            if np.allclose(mean, np.sqrt(1 - b[t - 1]) * x0) or np.allclose(var, b[t - 1]):
                hints.append("alpha_t = 1 - beta_t was used in place of alpha_bar_t")
            elif t < T and np.allclose(mean, np.sqrt(alpha_bar(b, t + 1)) * x0):
                hints.append("alpha_bar is off by one (use index t-1 for time t)")
            elif np.allclose(mean, ab * x0):
                hints.append("the mean needs the SQUARE ROOT of alpha_bar_t")
            elif np.allclose(var, np.sqrt(1 - ab)):
                hints.append("the variance is 1 - alpha_bar_t, not its square root")
            failures.append(f"q_xt_given_x0 at t = {t} of T = {T}: the "
                            + ("mean" if not ok_mean else "variance") + " is wrong"
                            + (f" ({hints[0]})" if hints else "; mean = sqrt(alpha_bar_t) x0, var = 1 - alpha_bar_t")
                            + ".")
            raise AssertionError

    try:
        prop()
    except AssertionError:
        raise CheckFailed(failures[-1]) from None


def posterior_hint(mean, var, xt, x0, t, b):
    ab_t, ab_prev = alpha_bar(b, t), alpha_bar(b, t - 1)
    c0 = np.sqrt(ab_prev) * b[t - 1] / (1 - ab_t)
    ct = np.sqrt(1 - b[t - 1]) * (1 - ab_prev) / (1 - ab_t)
    if np.allclose(mean, ct * x0 + c0 * xt):
        return "the coefficients of x0 and x_t are swapped"
    if np.allclose(mean, c0 * x0 + np.sqrt(ab_t) * (1 - ab_prev) / (1 - ab_t) * xt) or np.allclose(
            mean, c0 * x0 + np.sqrt(ab_prev) * (1 - ab_prev) / (1 - ab_t) * xt):
        return ("the x_t coefficient has the course handout's typo: it is sqrt(1 - beta_t) (1 - alpha_bar_{t-1}) "
                "/ (1 - alpha_bar_t), with alpha_t = 1 - beta_t, not alpha_bar")
    if t > 1 and np.allclose(var, b[t - 1] * (1 - alpha_bar(b, t)) / (1 - alpha_bar(b, t + 1) if t < len(b) else 1)):
        return "alpha_bar is off by one"
    return "compare with the formula in the docstring"


def posterior(run):
    """q_posterior equals the joint-Gaussian conditional for t >= 2 on many schedules, and the
    reference's output on a hidden case (golden)."""
    claims = Claims()
    case = golden("diffusion")
    inputs, expected = case["inputs"], case["expected"]
    out = ask(run, inputs["betas"], inputs["x0"], inputs["xt"], int(inputs["t"]))
    got = result(out, "q_posterior", 2)
    ok = all(np.allclose(values(g, "q_posterior"), e, rtol=1e-4, atol=1e-6) and
             np.broadcast_shapes(np.shape(g), inputs["x0"].shape) == inputs["x0"].shape
             for g, e in zip(got, (expected["q_posterior"]["mean"], expected["q_posterior"]["var"])))
    claims.claim(1, ok, "q_posterior differs from the reference on a hidden case: "
                 + posterior_hint(*(values(g, "q") for g in got), inputs["xt"].astype(np.float64),
                                  inputs["x0"].astype(np.float64), int(inputs["t"]), inputs["betas"].astype(np.float64)) + ".")
    failures = []

    @HYPOTHESIS
    @given(T=st.integers(2, 50), data=st.data(), seed=st.integers(0, 10 ** 6))
    def prop(T, data, seed):
        t = data.draw(st.integers(2, T))
        betas = schedule(seed, T, "float64")
        g = rng("diffusion", "posterior", seed)
        x0, xt = g.normal(size=(2, 5)), g.normal(size=(2, 5))
        mean, var = (values(v, n) for v, n in zip(result(ask(run, betas, x0, xt, t), "q_posterior", 2), ("mean", "var")))
        e_mean, e_var = joint_gaussian_posterior(xt, x0, t, betas)
        if not (mean.shape == x0.shape and np.allclose(mean, e_mean, rtol=1e-8, atol=1e-10)
                and np.allclose(var, e_var, rtol=1e-8, atol=1e-12)):
            which = "mean" if not (mean.shape == x0.shape and np.allclose(mean, e_mean, rtol=1e-8, atol=1e-10)) else "variance"
            failures.append(f"q_posterior's {which} at t = {t} of T = {T} differs from the conditional of the joint "
                            f"Gaussian of (x_(t-1), x_t) given x_0: {posterior_hint(mean, var, xt, x0, t, betas)}.")
            raise AssertionError

    try:
        prop()
        claims.claim(3, True, "")
    except AssertionError:
        claims.claim(3, False, failures[-1])
    return claims.outcome()


