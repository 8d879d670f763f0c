"""The public check of utils.py (also graded test 1.1): sample_gaussian's shape, dtype and inputs."""
import numpy as np

from .. import devices
from ..expect import Claims, diagnose, fmt
from .common import ask


# what an output reshaped by mistake looks like: (key, m's shape -> z's, what to say)
RESHAPES = [("sg_squeezed", lambda s: tuple(n for n in s if n != 1), "m's shape without its dimensions of size 1, as "
             ".squeeze() makes"),
            ("sg_flattened", lambda s: (s[0], int(np.prod(s[1:]))), "m's shape with every dimension after the first "
             "flattened into one, as .view(len(m), -1) or .flatten(1) makes"),
            ("sg_sample_shape", lambda s: s + s, "m's shape twice over, as rsample(m.shape) makes: a Normal(m, std) "
             "already has m's shape, and a sample_shape argument adds dimensions in front of it")]


def sample_gaussian_shapes(run):
    """Shape and dtype of m kept (float32 and float64); m and v not modified. These earn points only
    when z is a sample around m at all: finite, not m itself, not one constant,
    within 10 standard deviations of m, and with mean((z - m)^2 / v) between 0.1 and 10 over the 104
    draws (a correct sampler fails this with probability below 1e-20). Deterministic otherwise. Shapes
    with size-1 dimensions are among them: an output squeezed (z.squeeze()) loses those."""
    runs = []
    for dtype in ("float32", "float64"):
        g = np.random.default_rng(["float32", "float64"].index(dtype))
        for shape in ((5, 3), (2, 3, 4), (1, 3), (4, 1), (2, 1, 3)):
            m = g.normal(size=shape).astype(dtype)
            v = g.uniform(0.1, 2.0, size=shape).astype(dtype)
            runs.append((dtype, shape, m, v, ask(run, "sample_gaussian", "sample_gaussian", m=m, v=v, seed=7,
                                                 gradient=False)))
    unearned = None
    # substance is judged on every z with m's number of elements (a z that lost size-1 dimensions still is a
    # sample): a wrong shape costs the shape claims only
    sized = [(m, v, np.reshape(np.asarray(out["z"], np.float64), m.shape)) for _, _, m, v, out in runs
             if np.size(out["z"]) == m.size]
    if not sized:
        unearned = "z does not have the shape of m."
    else:
        u = np.concatenate([((z - m) / np.sqrt(v.astype(np.float64))).ravel() for m, v, z in sized])
        if not np.all(np.isfinite(u)):
            unearned = "z contains NaN or inf for finite m and positive v."
        elif not np.any(u):
            unearned = diagnose("sg_no_noise", "z equals m for these m and v (tensors that do not require grad): no "
                                "noise was added (a sample of N(m, v) adds noise of variance v to m).")
        elif all(np.ptp(np.asarray(out["z"])) == 0 for *_, out in runs):
            unearned = "every element of z has the same value: it does not vary as a sample of N(m, v) does."
        elif np.abs(u).max() > 10 or not 0.1 < (u ** 2).mean() < 10:
            unearned = (f"z does not look like a sample of N(m, v): (z - m) / sqrt(v) reaches {fmt(float(np.abs(u).max()))} and its "
                        f"mean square is {fmt(float((u ** 2).mean()))} (a sample gives about 1).")
    substance = unearned is None
    unearned = (unearned or "") + " Shape, dtype and inputs left untouched earn points once z looks like a sample of N(m, v)."
    claims = Claims()
    # a reshaping is named only when it alone gives every wrong shape (a squeeze and a flatten both make (2, 3)
    # of (2, 1, 3); only a flatten makes (2, 12) of (2, 3, 4))
    wrong = list(dict.fromkeys((shape, tuple(out["shape"])) for _, shape, *_, out in runs if tuple(out["shape"]) != shape))
    fitting = [(key, words) for key, reshape, words in RESHAPES if all(got == reshape(shape) for shape, got in wrong)]
    pairs = ", ".join(f"{got} for {shape}" for shape, got in wrong[:3]) + (", ..." if len(wrong) > 3 else "")
    for dtype, shape, m, v, out in runs:
        got = tuple(out["shape"])
        told = f"z should have the shape of m {shape}, got {got}."
        if len(fitting) == 1 and got != shape:   # one sentence for every shape the reshaping shows in
            told = diagnose(fitting[0][0], f"z should have the shape of m, got {pairs}: {fitting[0][1]}.")
        if substance or got == shape:
            claims.form("shape", 1, got == shape, told, substance, unearned)
        else:   # a wrong shape, and its reshaping, are seen without the values: said beside what the values lack
            claims.claim("shape", 1, False, told)
            claims.fail(0, unearned)
        claims.form("dtype", 1, out["dtype"] == dtype, diagnose("dtype_not_kept", f"z should keep m's dtype {dtype}, got "
                    f"{out['dtype']}."), substance, unearned)
        claims.form("inputs untouched", 1, np.array_equal(out["m_after"], m) and np.array_equal(out["v_after"], v), diagnose(
            "sg_inputs_modified", "sample_gaussian modified its inputs m or v in place (m.add_, v.sqrt_, +=, "
            "...): compute a new tensor instead."), substance, unearned)
    returned = runs[0][-1]["returned"]
    claims.form("returns z alone", 3, returned is None, diagnose("sg_returns_tuple", f"sample_gaussian returned "
                f"{returned} where the API returns z alone, a tensor: tests 1.1-1.4 judge its first element as z."),
                substance, unearned)
    devices.claim(run, claims, "utils.py", weight=3, substance=substance, unearned=unearned)   # z on m's device
    return claims.outcome()
