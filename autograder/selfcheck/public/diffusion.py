"""The public check of diffusion.py (also graded test 4.4): alpha_bars on a fixed schedule, the two
Gaussians at t = 1 and t = T, dtypes kept. linear_form, show_mean and returned_tol are how the
hidden checks of diffusion.py (checks/diffusion.py) show a mean and choose a tolerance too."""
import numpy as np

from .. import devices
from ..expect import CheckFailed, Claims, deferred, diagnose, fmt
from .common import not_written, raised_or_returned, student_text

# the tolerance a value is compared with, by the dtype it was returned in
TOL = {"float32": dict(rtol=2e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-12)}


BETAS = np.linspace(1e-4, 0.02, 10)
# alpha_bar_t of BETAS for t = 1..10 (literals from the reference, float64)
ALPHA_BARS = np.array([0.9999, 0.99758912, 0.993077800312889, 0.9863910764574488, 0.9775683562735794,
                       0.9666630381658163, 0.9537419755556666, 0.9388847950031217, 0.922183077705344,
                       0.9037394161512371])
# q_posterior at t = 1 if alpha_bar_0 is read from index -1 (ALPHA_BARS[-1]): mean = C0 x0 + CT xt, var
WRAPPED = (0.9506521004823143, 962.5577069924933, 0.0962605838487735)
# q_posterior at t = T = 10: mean = C0 x0 + CT xt, var (literals from the reference, float64)
AT_T = (0.19952167333511334, 0.8002737958134154, 0.016167972223587554)
# at an ordinary time, t = 5 (literals from the reference, float64): q_xt_given_x0's (sqrt(alpha_bar_5), 1 -
# alpha_bar_5) and q_posterior's (C0, CT, var). A function wrong there is wrong everywhere (tests 4.2 and 4.3
# judge its formula): its values at t = 1 and t = T earn nothing and are not described again.
AT_5 = {"q_xt_given_x0": (0.9887205653133647, 0.0, 0.02243164372642059),
        "q_posterior": (0.396019744892581, 0.6039648663709842, 0.005426453008063376)}
ORDINARY_TEST = {"q_xt_given_x0": "4.2", "q_posterior": "4.3"}


def wrong_at_ordinary_t(run, betas, x0, xt):
    """{function: True} for q_xt_given_x0 and q_posterior where their outputs at t = 5 are wrong (NaN or inf
    there is wrong too: nothing is divided by zero at an ordinary time)."""
    out = run("diffusion", betas=betas, x0=x0, xt=xt, t=5)
    x0d, xtd = x0.astype(np.float64), xt.astype(np.float64)
    wrong = {}
    for name, (c0, ct, want_var) in AT_5.items():
        if out[name] is None:
            continue
        mean, var = (np.asarray(p, np.float64) for p in out[name])
        tol = returned_tol(out, name)
        if mean.shape == x0.shape and np.allclose(mean, c0 * x0d + ct * xtd, **tol) and np.allclose(var, want_var, **tol):
            continue
        wrong[name] = True
    return wrong


def merge_dtype_cases(claims):
    """One sentence for a case the two dtypes share: two plain messages that differ only in '(float32 inputs)' and
    '(float64 inputs)' become one '(float32 and float64 inputs)' (messages naming a cause are left as they are)."""
    texts = [m for _, m in claims.failed if type(m) is str]
    for i, (weight, m) in enumerate(claims.failed):
        if type(m) is str and "(float32 inputs)" in m and m.replace("(float32 inputs)", "(float64 inputs)") in texts:
            claims.failed[i] = (weight, m.replace("(float32 inputs)", "(float32 and float64 inputs)"))
        elif type(m) is str and "(float64 inputs)" in m and m.replace("(float64 inputs)", "(float32 inputs)") in texts:
            claims.failed[i] = (weight, m.replace("(float64 inputs)", "(float32 and float64 inputs)"))


def linear_form(mean, x0, xt=None):
    """(a, b) with mean = a x0 + b xt (b = 0 without xt) when the mean is of that form, else None: how
    a message shows a mean (the checks of diffusion.py, hidden ones included, use this one)."""
    basis = np.stack([np.ravel(x0)] + ([] if xt is None else [np.ravel(xt)]), 1).astype(np.float64)
    try:
        target = np.ravel(np.broadcast_to(np.asarray(mean, np.float64), np.shape(x0)))
        coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
    except (ValueError, np.linalg.LinAlgError):
        return None
    # float32 rounding must not make a linear mean look like something else
    if not np.all(np.isfinite(coef)) or not np.allclose(basis @ coef, target, rtol=1e-4, atol=1e-6):
        return None
    return float(coef[0]), (float(coef[1]) if xt is not None else 0.0)


def show_mean(mean, x0, xt=None, eps=None):
    """'0.99995 x0' or '0.19952 x0 + 0.80027 xt' when the mean has that form, else its largest entry. `eps`: the
    resolution of the dtype the function returned (default: the mean's own; pass it when the mean was
    converted to float64 for the comparisons)."""
    form = linear_form(mean, x0, xt)
    if form is None:
        finite = np.all(np.isfinite(mean))
        return f"not a multiple of x0{' and xt' if xt is not None else ''}" + (
            "" if finite else " (it holds NaN or inf)")
    # a term below the returned dtype's resolution beside the larger term is rounding, shown as 0 (at t = 1 a
    # float32 xt coefficient of 1e4 leaves ~1e-4 of noise in the fitted x0 coefficient)
    if eps is None:
        eps = np.finfo(mean.dtype).eps if np.issubdtype(np.asarray(mean).dtype, np.floating) else np.finfo(np.float64).eps
    sizes = (float(np.abs(x0).max()), float(np.abs(xt).max()) if xt is not None else 0.0)
    largest = max(abs(c) * size for c, size in zip(form, sizes))
    a, b = (c if abs(c) > 1e-6 and abs(c) * size > 8 * eps * largest else 0.0 for c, size in zip(form, sizes))
    return f"{fmt(a)} x0" + (f" + {fmt(b)} xt" if xt is not None else "")


def returned_eps(out, name):
    """The resolution of the least precise dtype `name` returned (float32's where it is not known)."""
    dtypes = out.get(name + "_dtype") or []
    return float(np.finfo(np.float64).eps) if dtypes and all(d == "float64" for d in dtypes) else float(np.finfo(np.float32).eps)


def returned_tol(out, name):
    """The tolerance of the dtype `name` returned: float64 results to 1e-9; anything less precise (a float32
    result for float64 inputs too: its dtype claim charges that, once) to float32's rounding."""
    dtypes = out.get(name + "_dtype") or []
    return TOL["float64" if dtypes and all(d == "float64" for d in dtypes) else "float32"]


def diffusion_edges_and_dtypes(run):
    """alpha_bars on a fixed schedule, q_xt_given_x0 at t = 1, q_posterior at t = 1 (mean x0, variance
    0, no NaN/inf) and at t = T (literal values), float32/float64 kept by all three functions. Values
    are compared at the precision of the dtype returned, so a dtype slip costs the dtype claim alone. A
    function's dtype claim earns points only when its values are right somewhere here."""
    claims = Claims()
    for dtype in ("float32", "float64"):
        betas = BETAS.astype(dtype)
        g = np.random.default_rng(["float32", "float64"].index(dtype))
        x0, xt = g.normal(size=(4, 3)).astype(dtype), g.normal(size=(4, 3)).astype(dtype)
        out = run("diffusion", betas=betas, x0=x0, xt=xt, t=1)
        stubs = [n for n in ("alpha_bars", "q_xt_given_x0", "q_posterior") if out[n] is None and not_written(out[n + "_error"])]
        if len(stubs) == 3:
            raise CheckFailed(diagnose("not_written", "alpha_bars, q_xt_given_x0 and q_posterior are not written yet "
                                                      "(they raise NotImplementedError)."))
        x0d, xtd = x0.astype(np.float64), xt.astype(np.float64)
        inputs = f"({dtype} inputs)"
        right = {}
        at_5 = []

        def ordinary():
            """wrong_at_ordinary_t on these inputs, asked once and only when a value at t = 1 or T is wrong."""
            if not at_5:
                at_5.append(wrong_at_ordinary_t(run, betas, x0, xt))
            return at_5[0]

        def wrong_everywhere(name, judged="values at t = 1 and t = T are"):
            """A function wrong at t = 5 as well: where alpha_bars is wrong here, that is asked first (the helper
            may explain it) and the function's formula is not blamed."""
            if helper_wrong():
                return (f"{name} {inputs} is wrong at an ordinary time too (t = 5), and {helper_wrong()}: if {name} "
                        f"uses it, fix alpha_bars first (its {judged} judged once it is right at t = 5).")
            return (f"{name} {inputs} is wrong at an ordinary time too (t = 5): test {ORDINARY_TEST[name]} says what is "
                    f"wrong there; its {judged} judged once it is right there.")

        def helper_wrong():
            """What is wrong with alpha_bars here, as a caller's values would inherit it (None when nothing)."""
            if "alpha_bars" not in right:
                return None
            if not right["alpha_bars"]:
                return "your alpha_bars is wrong here (above)"
            returned = out["alpha_bars_dtype"] or []
            if any(d != dtype for d in returned):
                return (f"your alpha_bars returns {', '.join(returned)} for {dtype} betas (its dtype claim in this "
                        "test), so what is computed from it has that precision")
            off = float(np.max(np.abs(ab[0] - ALPHA_BARS) / ALPHA_BARS))   # beyond float32's own rounding here
            if off > 2e-6:
                return (f"your alpha_bars is off by up to {fmt(off)} relative here (within the {dtype} tolerance of its "
                        "own claim, which is why that claim holds)")
            if "betas_after" in out and not np.array_equal(out["betas_after"], betas):   # the judge's own betas
                return "your alpha_bars writes into the betas it is given (they change during the call)"
            return None

        def helper_note(name):
            """A caller's wrong value beside a wrong alpha_bars: the helper may explain it (not established)."""
            return "" if not helper_wrong() else f" {helper_wrong()[0].upper()}{helper_wrong()[1:]}: if {name} uses it, fix alpha_bars first."

        def outputs(name):
            if out[name] is None:
                error = out[name + "_error"]
                claims.fail(1, diagnose("not_written", f"{name} is not written yet.") if not_written(error)
                             else f"{name} at t = 1 {inputs} " + raised_or_returned(error) + ".")
                return None
            return [np.asarray(p, np.float64) for p in out[name]]

        ab = outputs("alpha_bars")
        if ab is not None:
            tol = returned_tol(out, "alpha_bars")
            right["alpha_bars"] = ab[0].shape == ALPHA_BARS.shape and np.allclose(ab[0], ALPHA_BARS, **tol)
            claims.claim("alpha_bars", 1, right["alpha_bars"], f"alpha_bars of betas = linspace(1e-4, 0.02, 10) "
                         f"{inputs} should be 10 values starting 0.9999, 0.99758912, ...; got "
                         + (f"shape {ab[0].shape}: " if ab[0].shape != ALPHA_BARS.shape else "")
                         + f"{np.round(ab[0].ravel()[:3], 8).tolist()}, ...")
        fwd = outputs("q_xt_given_x0")
        if fwd is not None:
            mean, var = fwd
            tol = returned_tol(out, "q_xt_given_x0")
            ok_mean = mean.shape == x0.shape and np.allclose(mean, 0.99994999875 * x0d, **tol)
            ok_var = np.allclose(var, 1e-4, **tol)
            right["q_xt_given_x0"] = ok_mean and ok_var
            claims.claim("q_xt_given_x0 at t = 1", 1, right["q_xt_given_x0"], "" if right["q_xt_given_x0"] else
                         wrong_everywhere("q_xt_given_x0") if ordinary().get("q_xt_given_x0") else "q_xt_given_x0 at t = 1 of this "
                         f"schedule {inputs} should have mean 0.99995 x0 and variance 1e-4; got "
                         + ", ".join(([] if ok_mean else [f"mean {show_mean(mean, x0d, eps=returned_eps(out, 'q_xt_given_x0'))}"])
                                     + ([] if ok_var else [f"variance {fmt(float(np.ravel(var)[0]))}"])) + "."
                         + helper_note("q_xt_given_x0"))
        post = outputs("q_posterior")
        if post is not None:
            mean, var = post
            tol = returned_tol(out, "q_posterior")
            finite = bool(np.all(np.isfinite(mean)) and np.all(np.isfinite(var)))
            ok_mean = finite and np.allclose(mean, x0d, **tol)
            ok_var = finite and np.allclose(var, 0, atol=tol["atol"])
            right["q_posterior"] = ok_mean and ok_var
            out_T = run("diffusion", betas=betas, x0=x0, xt=xt, t=len(betas))
            error = out_T["q_posterior_error"]
            ok_T, got_T = False, ""
            if out_T["q_posterior"] is not None:
                mean_T, var_T = (np.asarray(p, np.float64) for p in out_T["q_posterior"])
                tol_T = returned_tol(out_T, "q_posterior")
                mean_ok_T = mean_T.shape == x0.shape and np.allclose(mean_T, AT_T[0] * x0d + AT_T[1] * xtd, **tol_T)
                var_ok_T = np.allclose(var_T, AT_T[2], **tol_T)
                ok_T = mean_ok_T and var_ok_T
                got_T = ", ".join(([] if mean_ok_T else [f"mean {show_mean(mean_T, x0d, xtd, eps=returned_eps(out_T, 'q_posterior'))}"])
                                  + ([] if var_ok_T else [f"variance {fmt(float(np.ravel(var_T)[0]))}"]))
            returns_xt_at_1 = ok_var and np.allclose(mean, xtd, **tol) and not np.allclose(xtd, x0d, **tol)
            wrapped = (finite and np.allclose(mean, WRAPPED[0] * x0d + WRAPPED[1] * xtd, rtol=1e-3) and
                       np.allclose(var, WRAPPED[2], rtol=1e-3))
            # NaN at t = 1 with right alpha_bars: 1 - alpha_bar_1 = beta_1 > 0, so the zero divided by is
            # 1 - alpha_bar_0. With wrong alpha_bars that is not established: say what is, not why.
            nan_cause = (diagnose(
                "post_t1_nan", f"q_posterior at t = 1 {inputs} returns NaN or inf. There 1 - alpha_bar_0 = 0, so an "
                "expression that divides by 1 - alpha_bar_(t-1) (or by anything else that is 0 there) has no value "
                "at t = 1; the docstring's closed form divides only by 1 - alpha_bar_t.")
                if right.get("alpha_bars") and ab[0].ravel()[0] < 1 else
                f"q_posterior at t = 1 {inputs} returns NaN or inf, and your alpha_bars gives alpha_bar_1 = 1 here "
                "(so 1 - alpha_bar_1 = 0, where it should be beta_1): if q_posterior uses it, fix alpha_bars first."
                if ab is not None and ab[0].size and ab[0].ravel()[0] >= 1 else
                f"q_posterior at t = 1 {inputs} returns NaN or inf, and alpha_bars is wrong on this schedule: if "
                "q_posterior uses it, fix alpha_bars first.")
            claims.claim("q_posterior at t = 1", 3, right["q_posterior"], "" if right["q_posterior"] else
                         wrong_everywhere("q_posterior") if ordinary().get("q_posterior") else nan_cause if not finite else
                diagnose("post_t1_wraps", "q_posterior at t = 1 used the last alpha_bar as alpha_bar_0: index t - 2 is "
                         "-1 there, which wraps around to the end; at t = 1, alpha_bar_0 = 1.") if wrapped else
                diagnose("post_t1_xt", f"q_posterior at t = 1 {inputs} returns x_t as the mean, and is right at "
                         "t = T: at t = 1 the posterior has mean x0 (and variance 0).")
                if returns_xt_at_1 and ok_T else
                f"q_posterior at t = 1 {inputs} should have mean x0 and variance 0; got "
                + ", ".join(([] if ok_mean else [f"mean {show_mean(mean, x0d, xtd, eps=returned_eps(out, 'q_posterior'))}"])
                            + ([] if ok_var else [f"variance {fmt(float(np.max(var)))}"])) + "."
                + helper_note("q_posterior"))
            claims.claim("q_posterior at t = T", 1, ok_T, "" if ok_T else (
                diagnose("index_past_end", f"q_posterior at t = T {inputs} raised {student_text(error)}; times are "
                         "1-indexed, so alpha_bar_t is at index t - 1 and index t runs past the end.")
                if str(error).startswith("IndexError") and right.get("alpha_bars")
                else f"q_posterior at t = T {inputs} " + raised_or_returned(error) + "." + helper_note("q_posterior") if error else
                # t = 1 and t = T wait together where t = 1's line said so (not where t = 1 is right)
                (wrong_everywhere("q_posterior") if not right["q_posterior"] else
                 wrong_everywhere("q_posterior", "value at t = T is"))
                if ordinary().get("q_posterior") else
                f"q_posterior at t = T = 10 of this schedule {inputs} should have mean 0.19952 x0 + 0.80027 xt and "
                f"variance 0.016168; got {got_T}." + helper_note("q_posterior")))
            right["q_posterior"] = right["q_posterior"] or ok_T
        for name in ("alpha_bars", "q_xt_given_x0", "q_posterior"):
            if name not in right:
                continue
            returned = out[name + "_dtype"] or []
            kept = out[name + "_dtype"] is not None and all(d == dtype for d in returned)
            got = (f", got {returned[0]}" if len(returned) == 1 else
                   f": its mean is {returned[0]}, its variance {returned[1]}" if len(returned) == 2 else ", got none")
            claims.form("dtype", 0.5, kept, diagnose("diffusion_not_tensor", f"{name} returns its variance (second "
                        "output) as a Python number, as .item() or float() makes, not a tensor: return tensors, in the "
                        "input dtype.") if out.get(name + "_var_number") else diagnose(
                            "dtype_not_kept", f"{name} should keep the input dtype {dtype}{got}."), right[name],
                        deferred("the dtype claims earn points once the values, and their shapes, are right (at t = 1 or t "
                                 "= T here)."))
    devices.claim(run, claims, "diffusion.py", weight=2, substance=any(right.values()))   # outputs on the inputs' device
    merge_dtype_cases(claims)
    return claims.outcome()
