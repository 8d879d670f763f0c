"""The probe of diffusion.py: alpha_bars, q_xt_given_x0 and q_posterior on the judge's inputs."""
import torch

from ..homework import describe
from .common import array, probe, unpack


@probe
def diffusion(hw, betas, x0, xt, t):
    """alpha_bars(betas), q_xt_given_x0(x0, t, betas) and q_posterior(xt, x0, t, betas)."""
    hw.require("diffusion.py")
    b, a0, at = torch.tensor(betas), torch.tensor(x0), torch.tensor(xt)
    out = {}
    given = b.clone()   # read back after the call: the judge sees an input alpha_bars wrote into
    for name, call, count in (("alpha_bars", lambda: hw.diffusion.alpha_bars(given), 1),
                              ("q_xt_given_x0", lambda: hw.diffusion.q_xt_given_x0(a0.clone(), int(t), b.clone()), 2),
                              ("q_posterior", lambda: hw.diffusion.q_posterior(at.clone(), a0.clone(), int(t), b.clone()), 2)):
        try:
            result = call()
            parts = [result] if count == 1 else unpack(result, 2, name)
            # each output named by what it is (the caller names the function: its digit would be redacted here)
            labels = ["its result"] if count == 1 else ["its mean (first output)", "its variance (second output)"]
            # a variance returned as a Python number is judged by its value; test 4.4's dtype claim charges its type
            number = lambda p, i: i == 1 and isinstance(p, (int, float)) and not isinstance(p, bool)
            out[name] = [torch.tensor(float(p), dtype=torch.float64).numpy() if number(p, i) else array(p, label)
                         for i, (p, label) in enumerate(zip(parts, labels))]
            out[name + "_dtype"] = [("float" if isinstance(p, float) else "int") if number(p, i) else str(p.dtype).replace("torch.", "")
                                    for i, p in enumerate(parts)]
            out[name + "_var_number"] = any(number(p, i) for i, p in enumerate(parts))
            out[name + "_error"] = None
        except Exception as error:
            out[name], out[name + "_dtype"], out[name + "_var_number"] = None, None, False
            out[name + "_error"] = describe(error, hw.root)   # the judge shows it only through redaction
    out["betas_after"] = given.detach().clone().numpy()
    return out
