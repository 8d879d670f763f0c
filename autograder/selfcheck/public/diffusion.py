"""The public checks, shipped to students in the handout's selfcheck/. Three are also graded tests
(1.1, 3.2 and 4.4 in config.yaml: the same code, the same messages); the VAE's and EWC's, whose graded
tests are all hidden, only the students run. Their inputs are in this file; they use no golden files and compute no graded
quantity: the expected numbers below are literals (from the reference, in float64), and the other
claims are properties (a batch mean does not change when the batch is repeated, a per-sample Fisher
does not depend on how the loader batches the samples, a penalty quadratic in theta - star ...).

PUBLIC maps each graded file to its public checks (the students' pytest runs one test per file)."""
import numpy as np

from . import devices
from .expect import CheckFailed, Claims, StudentError, deferred, diagnose, fmt, near, scalar, values

try:   # in the judge, text from the student's process passes through its one redaction
    from autograder.redaction import student_text
except ImportError:   # in the handout (students' own pytest, public inputs): their own errors in full
    def student_text(text, limit=300):
        return str(text)

TOL = {"float32": dict(rtol=2e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-12)}


def not_written(error):
    """Whether a student's error (homework.describe's text) is a stub's: it still raises NotImplementedError.
    The one test of it: the judge's checks and grade.py use this one."""
    return str(error).startswith("NotImplementedError")


def ask(run, probe, what, **inputs):
    """run(probe, **inputs); a stub still raising NotImplementedError becomes one line."""
    try:
        return run(probe, **inputs)
    except StudentError as error:
        if not_written(error):
            raise CheckFailed(diagnose("not_written", f"{what} is not written yet (it raises NotImplementedError).")) from None
        raise


# --- utils.py -------------------------------------------------------------------------------------

def sample_gaussian_shapes(run):
    """Shape and dtype of m kept (float32 and float64); m and v not modified. These earn points only
    when z is a sample around m at all: finite, not m itself, not one constant,
    within 10 standard deviations of m, and with mean((z - m)^2 / v) between 0.1 and 10 over the 78
    draws (a correct sampler fails this with probability below 1e-20). Deterministic otherwise."""
    runs = []
    for dtype in ("float32", "float64"):
        g = np.random.default_rng(["float32", "float64"].index(dtype))
        for shape in ((5, 3), (2, 3, 4)):
            m = g.normal(size=shape).astype(dtype)
            v = g.uniform(0.1, 2.0, size=shape).astype(dtype)
            runs.append((dtype, shape, m, v, ask(run, "sample_gaussian", "sample_gaussian", m=m, v=v, seed=7,
                                                 gradient=False)))
    unearned = None
    if any(np.shape(out["z"]) != m.shape for _, _, m, _, out in runs):
        unearned = "z does not have the shape of m."
    else:
        u = np.concatenate([((np.asarray(out["z"], np.float64) - m) / np.sqrt(v.astype(np.float64))).ravel()
                            for _, _, m, v, out in runs])
        if not np.all(np.isfinite(u)):
            unearned = "z contains NaN or inf for finite m and positive v."
        elif not np.any(u):
            unearned = diagnose("sg_no_noise", "z equals m: no noise was added (a sample of N(m, v) adds noise of variance v to m).")
        elif all(np.ptp(np.asarray(out["z"])) == 0 for *_, out in runs):
            unearned = "every element of z has the same value: it does not vary as a sample of N(m, v) does."
        elif np.abs(u).max() > 10 or not 0.1 < (u ** 2).mean() < 10:
            unearned = (f"z does not look like a sample of N(m, v): (z - m) / sqrt(v) reaches {fmt(float(np.abs(u).max()))} and its "
                        f"mean square is {fmt(float((u ** 2).mean()))} (a sample gives about 1).")
    substance = unearned is None
    unearned = (unearned or "") + " Shape, dtype and inputs left untouched earn points once z looks like a sample of N(m, v)."
    claims = Claims()
    for dtype, shape, m, v, out in runs:
        claims.form("shape", 1, out["shape"] == list(shape), f"z should have the shape of m {shape}, got "
                    f"{tuple(out['shape'])}.", substance, unearned)
        claims.form("dtype", 1, out["dtype"] == dtype, diagnose("dtype_not_kept", f"z should keep m's dtype {dtype}, got "
                    f"{out['dtype']}."), substance, unearned)
        claims.form("inputs untouched", 1, np.array_equal(out["m_after"], m) and np.array_equal(out["v_after"], v), diagnose(
            "sg_inputs_modified", "sample_gaussian modified its inputs m or v in place (m.add_, v.sqrt_, +=, "
            "...): compute a new tensor instead."), substance, unearned)
    devices.claim(run, claims, "utils.py", weight=3, substance=substance, unearned=unearned)   # z on m's device
    return claims.outcome()


# --- models/vae.py --------------------------------------------------------------------------------

# Where the path is cut is not known: only that rec's gradient does not reach m and v through z.
REC_CUT = ("no gradient of rec reaches the encoder: the path from m and v through the sample z and the decoder "
           "to rec is cut somewhere (a .detach() on z or on the decoder's output, a sample such as torch.bernoulli "
           "drawn from it, .item() or numpy); rec must be a differentiable function of z = "
           "ut.sample_gaussian(m, v).")

def returned_numbers(out):
    """The message for kl or rec returned as Python numbers (their values are judged as they are), or None."""
    if out.get("numbers"):
        return diagnose("vae_terms_not_tensors", f"negative_elbo_bound returned {' and '.join(out['numbers'])}; the "
                        "API asks for 0-dim tensors (no .item() or float()).")
    return None


def vae_bound_properties(run):
    """Properties of negative_elbo_bound on the model's own initial weights (seeded): three finite
    0-dim tensors, kl >= 0, rec > 0, nelbo = kl + rec, one call of ut.sample_gaussian, batch means
    (repeating the batch changes nothing), gradients reaching encoder and decoder (rec's through z)."""
    g = np.random.default_rng(236)
    x = (g.random((3, 784)) < 0.3).astype(np.float32)
    eps = g.normal(size=(3, 2)).astype(np.float32)
    out = ask(run, "vae_bound_stand_in", "VAE.negative_elbo_bound", state=None, z_dim=2, x=x, eps=eps, gradients=True)
    nelbo, kl, rec = (scalar(out[k], k) for k in ("nelbo", "kl", "rec"))
    claims = Claims()
    finite = all(np.isfinite([nelbo, kl, rec]))
    claims.claim("finite", 1, finite, f"nelbo, kl, rec should be finite, got {fmt(nelbo)}, {fmt(kl)}, {fmt(rec)}.")
    claims.claim("kl non-negative", 1, kl >= 0, f"kl is {fmt(kl)}: a KL divergence is never negative.")
    claims.claim("rec positive", 1, rec > 0, f"rec is {fmt(rec)}: -log p(x|z) of binary pixels is positive.")
    claims.claim("nelbo = kl + rec", 1, near(nelbo, kl + rec, 1e-5), f"nelbo ({fmt(nelbo)}) should equal kl + rec ({fmt(kl + rec)}).")
    claims.claim("0-dim tensors", 1, returned_numbers(out) is None, returned_numbers(out))
    claims.claim("one sampler call", 1, out["sampler_calls"] == 1, diagnose(
        "vae_sampler_calls", f"ut.sample_gaussian was called {out['sampler_calls']} times: draw ONE sample z ~ q(z|x) "
        "with ut.sample_gaussian(m, v)."))
    if out["sampler_calls"] != 1:   # the noise is not the one this check controls: repeating tells nothing
        return claims.outcome()
    twice = ask(run, "vae_bound_stand_in", "VAE.negative_elbo_bound", state=None, z_dim=2, x=np.concatenate([x, x]),
                eps=np.concatenate([eps, eps]), gradients=False)
    kl2, rec2 = scalar(twice["kl"], "kl"), scalar(twice["rec"], "rec")
    doubled = [name for name, a, b in (("kl", kl, kl2), ("rec", rec, rec2)) if a != 0 and near(b, 2 * a, 1e-4)]
    ok = near(kl2, kl, 1e-4) and near(rec2, rec, 1e-4)
    key = {("kl", "rec"): "vae_batch_sum", ("rec",): "vae_rec_batch_sum", ("kl",): "vae_kl_batch_sum"}.get(tuple(doubled))
    claims.claim("batch means", 2, ok, diagnose(key, f"{' and '.join(doubled)} doubled when the same batch was passed twice: "
                                      "a sum over the batch; the API asks for batch means.") if key else
                 f"repeating the batch changed (kl, rec) from ({fmt(kl)}, {fmt(rec)}) to ({fmt(kl2)}, {fmt(rec2)}): "
                 "batch means do not change.")
    grads = out["nelbo_grad"] or {}
    reaches = lambda gr, part: any(n.startswith(part) and a is not None and np.abs(a).sum() > 0 for n, a in (gr or {}).items())
    claims.claim("gradient reaches encoder and decoder", 1, reaches(grads, "enc.") and reaches(grads, "dec."), diagnose(
        "vae_not_differentiable", "nelbo's gradient does not reach both the encoder and the decoder (.item(), "
        ".detach() or numpy break the graph)."))
    claims.claim("rec reaches the encoder", 1, reaches(out["rec_grad"], "enc."), diagnose(
        "vae_rec_no_encoder_gradient", REC_CUT))
    return claims.outcome()


# --- models/gan.py --------------------------------------------------------------------------------

LOSSES = ("discriminator_loss", "generator_loss_minimax", "generator_loss_nonsaturating")
UNSTABLE = ("it is not finite where the right value is: at large |logits| a formula that forms sigmoid(h) or "
            "exp(h) before taking the log gets log(0) or exp overflow there; F.logsigmoid(h) and F.softplus stay finite.")
# (real, fake) logits and, for each loss, (value, d/dreal, d/dfake): literals from the reference in
# float64 (e.g. -mean logsigmoid at 1e4, -1e4, 30 is (0 + 1e4 + 9.4e-14) / 3).
LARGE = [
    (np.array([1e4, -1e4, 30.0], np.float32), np.array([-1e4, 1e4, -30.0], np.float32), {
        "discriminator_loss": (2e4 / 3, [0.0, -1 / 3, 0.0], [0.0, 1 / 3, 0.0]),
        "generator_loss_minimax": (-1e4 / 3, None, [0.0, -1 / 3, 0.0]),
        "generator_loss_nonsaturating": ((1e4 + 30) / 3, None, [-1 / 3, 0.0, -1 / 3]),
    }),
    (np.array([1e4, 2e3], np.float32), np.array([1e4, -1e4], np.float32), {
        "discriminator_loss": (5e3, [0.0, 0.0], [0.5, 0.0]),
        "generator_loss_minimax": (-5e3, None, [-0.5, 0.0]),
        "generator_loss_nonsaturating": (5e3, None, [0.0, -0.5]),
    }),
]


# moderate logits, where every formulation is exact: a loss wrong here is wrong everywhere (test 3.1 charges
# that), and its values at |h| = 1e4 say nothing more
MODERATE = (np.array([0.5, -1.0, 2.0], np.float32), np.array([-0.3, 1.5, 0.0], np.float32), {
    "discriminator_loss": 1.6210607952508422, "generator_loss_minimax": -0.9829719010037415,
    "generator_loss_nonsaturating": 0.5829719010037416})


def wrong_at_moderate_logits(run):
    """{loss: message} for the losses that return a finite but wrong value at MODERATE logits."""
    real, fake, expected = MODERATE
    out = run("gan_losses", real=real, fake=fake)
    wrong = {}
    for name in LOSSES:
        got = None if out[name] is None else np.asarray(out[name], np.float64)
        if got is None or got.size != 1 or not np.isfinite(got).all() or near(float(got.reshape(())), expected[name], 1e-4):
            continue
        at = ("at real logits [0.5, -1, 2] and fake logits [-0.3, 1.5, 0]" if name == "discriminator_loss"
              else "at fake logits [-0.3, 1.5, 0]")   # the generator's losses take no real ones
        wrong[name] = (f"{name} is wrong at moderate logits too ({at}: got {fmt(float(got.reshape(())))}, expected "
                       f"{fmt(expected[name])}; test 3.1 judges its formula, so the formula is what to fix, not how "
                       "stable it is at large |h|): its values at |logits| = 1e4 are judged once it is right there.")
    return wrong


def gan_large_logits(run):
    """Finite and accurate at |h| = 1e4 (the stable formulations), values and gradients: deterministic. A loss
    already wrong at moderate logits is said so once (its large-logit values earn nothing, and are not
    described again)."""
    claims = Claims()
    wrong_formula = None
    for real, fake, expected in LARGE:
        out = run("gan_losses", real=real, fake=fake)
        fake_at = f"fake logits [{', '.join(map(fmt, fake.ravel()))}]"
        both_at = f"at real logits [{', '.join(map(fmt, real))}] and {fake_at}"
        errors = [out[n + "_error"] for n in LOSSES if out[n] is None]
        if len(errors) == len(LOSSES) and all(map(not_written, errors)):
            raise CheckFailed(diagnose("not_written", f"{', '.join(LOSSES[:-1])} and {LOSSES[-1]} are not written "
                                                      "yet (they raise NotImplementedError)."))
        for name in LOSSES:
            value, grad_real, grad_fake = expected[name]
            if out[name] is None:
                error = out[name + "_error"]
                claims.fail(2, diagnose("not_written", f"{name} is not written yet.") if not_written(error)
                             else f"{name} raised {student_text(error)}.")
                continue
            got = values(out[name], name)
            if got.size != 1:
                claims.fail(2, f"{name} should return a 0-dim tensor, got shape {got.shape}.")
                continue
            v = float(got.reshape(()))
            ok = bool(np.isfinite(v)) and near(v, value, 1e-4)
            at = both_at if name == "discriminator_loss" else f"at {fake_at}"   # the generator's take no real ones
            if not ok and np.isfinite(v) and wrong_formula is None:
                wrong_formula = wrong_at_moderate_logits(run)
            claims.claim("value", 1, ok, "" if ok else wrong_formula[name] if np.isfinite(v) and name in wrong_formula
                         else f"{name} {at}: got {fmt(v)}, expected {fmt(value)}; " + (
                diagnose("gan_unstable", UNSTABLE) if not np.isfinite(v)
                else "it is finite but wrong here although it is right at moderate logits: the docstring's "
                     "F.logsigmoid / F.softplus stay exact at any |h|."))
            for side, want in (("real", grad_real), ("fake", grad_fake)):
                grad = out[f"{name}_grad_{side}"]
                if want is None and grad is None:
                    continue
                want = np.zeros(real.shape) if want is None else np.array(want)
                good = grad is not None and np.allclose(grad, want, rtol=1e-3, atol=1e-7)
                claims.claim("gradient", 0.5, good, "" if good or not ok else f"the gradient of {name} w.r.t. the {side} logits "
                             f"{at} is " + ("missing" if grad is None else f"[{', '.join(map(fmt, np.ravel(grad) + 0.0))}]")
                             + f", expected [{', '.join(map(fmt, want.ravel()))}], although the value there is right.")
    return claims.outcome()


# --- diffusion.py ---------------------------------------------------------------------------------

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
    """{function: message} for q_xt_given_x0 and q_posterior where their finite outputs at t = 5 are wrong."""
    out = run("diffusion", betas=betas, x0=x0, xt=xt, t=5)
    x0d, xtd = x0.astype(np.float64), xt.astype(np.float64)
    wrong = {}
    for name, (c0, ct, want_var) in AT_5.items():
        if out[name] is None:
            continue
        mean, var = (np.asarray(p, np.float64) for p in out[name])
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var))):
            continue
        tol = returned_tol(out, name)
        if mean.shape == x0.shape and np.allclose(mean, c0 * x0d + ct * xtd, **tol) and np.allclose(var, want_var, **tol):
            continue
        wrong[name] = (f"{name} is wrong at an ordinary time too (test {ORDINARY_TEST[name]} judges its formula): its "
                       "values at t = 1 and t = T are judged once it is right there.")
    return wrong


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

        def wrong_everywhere(name):
            return ordinary()[name] + helper_note(name)

        def helper_note(name):
            """A caller's wrong value beside a wrong alpha_bars: the helper may explain it (not established)."""
            return ("" if right.get("alpha_bars", True) else f" Your alpha_bars is wrong here (above): if {name} "
                    "uses it, fix alpha_bars first.")

        def outputs(name):
            if out[name] is None:
                error = out[name + "_error"]
                claims.fail(1, diagnose("not_written", f"{name} is not written yet.") if not_written(error)
                             else f"{name} at t = 1 {inputs} raised {student_text(error)}.")
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
            claims.claim("q_posterior at t = 1", 3, right["q_posterior"], "" if right["q_posterior"] else nan_cause
                         if not finite else wrong_everywhere("q_posterior") if ordinary().get("q_posterior") else
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
                else f"q_posterior at t = T {inputs} raised {student_text(error)}." + (
                    "" if right.get("alpha_bars") else " Your alpha_bars is wrong here (above): if q_posterior uses "
                    "it, fix alpha_bars first.") if error else
                # t = 1 and t = T wait together only where t = 1's line said so (not beside its NaN, or where t = 1 is right)
                (wrong_everywhere("q_posterior") if finite and not right["q_posterior"] else wrong_everywhere(
                    "q_posterior").replace("its values at t = 1 and t = T are", "its value at t = T is"))
                if ordinary().get("q_posterior") else
                f"q_posterior at t = T = 10 of this schedule {inputs} should have mean 0.19952 x0 + 0.80027 xt and "
                f"variance 0.016168; got {got_T}." + helper_note("q_posterior")))
            right["q_posterior"] = right["q_posterior"] or ok_T
        for name in ("alpha_bars", "q_xt_given_x0", "q_posterior"):
            if name not in right:
                continue
            kept = out[name + "_dtype"] is not None and all(d == dtype for d in out[name + "_dtype"])
            claims.form("dtype", 0.5, kept, diagnose("dtype_not_kept", f"{name} should keep the input dtype {dtype}, "
                                                     f"got {', '.join(out[name + '_dtype'] or [])}."), right[name],
                        deferred("the dtype claims earn points once the values are right (at t = 1 or t = T here)."))
    devices.claim(run, claims, "diffusion.py", weight=2, substance=any(right.values()))   # outputs on the inputs' device
    return claims.outcome()


# --- ewc.py ---------------------------------------------------------------------------------------

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




PUBLIC = {
    "utils.py": [sample_gaussian_shapes],
    "models/vae.py": [vae_bound_properties],
    "models/gan.py": [gan_large_logits],
    "diffusion.py": [diffusion_edges_and_dtypes],
    "ewc.py": [ewc_properties],
}
