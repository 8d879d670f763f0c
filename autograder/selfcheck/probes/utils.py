"""The probe of utils.py: sample_gaussian's draws, its re-seeded draw and its gradients."""
import torch

from .common import array, grad_array, probe


@probe
def sample_gaussian(hw, m, v, seed=0, gradient=True):
    """z from two consecutive calls, z again after re-seeding, z under torch.no_grad, and d(sum z)/dm, d(sum z)/dv."""
    hw.require("utils.py")
    extra = []   # a tuple (z, eps, ...) returned: its first element is judged as z, the tuple is test 1.1's claim

    def f(*args):
        result = hw.utils.sample_gaussian(*args)
        if isinstance(result, (tuple, list)) and result and isinstance(result[0], torch.Tensor):
            extra.append(f"a {type(result).__name__} of {len(result)}")
            return result[0]
        return result
    # each call its own inputs, all alike (requiring grad or not, as asked): a function that modifies them in place
    # cannot change what the next call sees, and one that looks at requires_grad sees the same in every call
    fresh = lambda: (torch.tensor(m, requires_grad=gradient), torch.tensor(v, requires_grad=gradient))
    mt, vt = fresh()
    torch.manual_seed(seed)
    z1 = f(mt, vt)
    z = array(z1, "z")                                    # copied now: z1 may be m itself, changed later
    z2 = array(f(*fresh()), "z")
    torch.manual_seed(seed)
    z3 = array(f(*fresh()), "z")
    with torch.no_grad():                                 # as the VAE's sampling and evaluation call it
        z4 = array(f(*fresh()), "z")
    out = {"z": z, "z_next": z2, "z_reseeded": z3, "z_no_grad": z4,
           "dtype": str(z1.dtype).replace("torch.", ""), "shape": list(z1.shape),
           "m_after": array(mt, "m"), "v_after": array(vt, "v"), "grad_m": None, "grad_v": None, "grad_error": None,
           "returned": extra[0] if extra else None}
    if gradient and z1.requires_grad:
        try:   # a backward that raises (an in-place op on a saved tensor) is the gradient's defect, not the draws'
            gm, gv = torch.autograd.grad(z1.sum(), (mt, vt), allow_unused=True)
        except Exception as error:
            out["grad_error"] = f"BackwardFailed: z: {type(error).__name__}: {error}"   # redacted by the judge
            return out
        out["grad_m"], out["grad_v"] = grad_array(gm), grad_array(gv)
    return out
