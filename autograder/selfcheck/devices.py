"""The device claim: the graded functions keep their inputs' device (docs/STUDENT_API.md), so that they
run on a GPU (Colab) as on the CPU. The probe `on_device` calls a file's functions with every input
(tensors, models) on torch's "meta" device, which stands in for a GPU on any machine (meta tensors have a
device, a shape and a dtype, no values), and on CUDA where the worker has it.

Only a device mismatch is evidence: torch's error when tensors on two devices meet, or a result on
another device than the inputs. A correct function that the meta device cannot run for another reason
(it reads a value: `.item()`, `if (x > 0).all()`, torch.distributions' argument validation) raised
something else and is charged nothing. The student's error text is matched, never shown."""
import re

from .expect import diagnose

MISMATCH = re.compile(r"on the expected device|on the same device|found at least two devices|"
                      r"different from other tensors|device type for generator", re.I)
STANDS_FOR = {"meta": "torch's 'meta' device (a stand-in for a GPU)", "cuda": "the GPU (CUDA)"}


def mistakes(out, device):
    """Sentences naming the device mismatches of one `on_device` report."""
    crashed, moved = [], []
    for function, call in out["calls"].items():
        error = str(call.get("error") or "")
        returned = [d for d in call.get("devices") or [] if str(d).split(":")[0] != device]
        if MISMATCH.search(error):
            crashed.append(function)
        elif not error and returned:
            moved.append(f"{function} returned a tensor on {returned[0]}")
    where = f"With their inputs on {STANDS_FOR[device]}, "
    found = []
    if crashed:
        found.append(where + f"torch stopped {' and '.join(crashed)} with its error for tensors on two devices: a "
                     "tensor created there is on a fixed device (the CPU) instead of the inputs' device")
    if moved:
        found.append(where + " and ".join(moved) + ": it creates its result on a fixed device instead of the inputs' device")
    return found


def claim(run, claims, file, weight=1, substance=True, unearned=""):
    """One claim of `weight`: every function of `file` keeps its inputs' device (meta, and CUDA when the
    grading's device may be CUDA). As a claim about form it earns only with `substance`."""
    tried = ["meta"] + (["cuda"] if getattr(run, "device", "cpu") != "cpu" else [])
    found = []
    for device in tried:
        out = run("on_device", file=file, device=device)
        if out.get("available"):
            found += mistakes(out, device)
    message = diagnose("device_fixed", ". ".join(found) + ". On a GPU (Colab) this crashes or mixes devices: create "
                       "new tensors on the inputs' device (`torch.*_like(x)`, `x.new_zeros(...)` or "
                       "`device=x.device`).") if found else ""
    return claims.form("device", weight, not found, message, substance, unearned)
