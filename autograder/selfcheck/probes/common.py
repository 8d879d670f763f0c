"""What every probe shares: the PROBES registry and its @probe decorator, the conversion of a student's
tensors to plain arrays, the optimizer and the device of the training probes."""
import torch

PROBES = {}


def probe(function):
    PROBES[function.__name__] = function
    return function


class StudentValueError(Exception):
    """The student's function returned something that is not what the API promises."""


class BackwardFailed(Exception):
    """The probe's own backward through what the student's function returned raised (an in-place operation on a
    tensor the graph saved, say): the function returned; backpropagating through its result failed."""


def array(x, what):
    """A tensor returned by student code, as a numpy array (tensor subclasses lose their tricks)."""
    if not isinstance(x, torch.Tensor):
        raise StudentValueError(f"{what} should be a torch.Tensor, but it is a {type(x).__name__}")
    with torch._C.DisableTorchFunctionSubclass():
        plain = torch.Tensor.as_subclass(x, torch.Tensor).detach().cpu()
        if plain.dtype == torch.bfloat16 or plain.is_complex():
            raise StudentValueError(f"{what} has dtype {plain.dtype}, expected a float tensor")
        return plain.clone().numpy()


def grad_array(g):
    # In the dtype it was computed in: the goldens' rounding tolerance follows that dtype.
    return None if g is None else array(g, "gradient")


def tensors(arrays, requires_grad=False):
    return {k: torch.tensor(v, requires_grad=requires_grad) for k, v in arrays.items()}


class Adam:
    """torch.optim.Adam's CPU update (single-tensor; no weight decay, amsgrad or maximize) written out:
    the same steps bit for bit (tests/test_reference.py), without torch.optim's first use importing
    torch._dynamo, which costs 1.4 s of every grading."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, (self.beta1, self.beta2), self.eps = list(params), lr, betas, eps
        self.state = [(torch.zeros_like(p), torch.zeros_like(p), [0]) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, (exp_avg, exp_avg_sq, step) in zip(self.params, self.state):
            if p.grad is None:
                continue
            step[0] += 1
            exp_avg.lerp_(p.grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            step_size = self.lr / (1 - self.beta1 ** float(step[0]))
            denom = (exp_avg_sq.sqrt() / (1 - self.beta2 ** float(step[0])) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


def unpack(result, count, what):
    if not isinstance(result, (tuple, list)) or len(result) != count:
        raise StudentValueError(f"{what} should return a tuple of {count} tensors, "
                                f"but it returned {type(result).__name__}"
                                + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


def backward(loss, what, step, frozen=""):
    """The judge's loss.backward() in a training probe: a loss the student's code returned without a gradient is
    told as what it returned (StudentValueError), not as an error its code raised. `frozen`: what the probe
    observed of the parameters (D's left with requires_grad False, say), added as a fact."""
    if not isinstance(loss, torch.Tensor):
        raise StudentValueError(f"{what} should be a torch.Tensor, but it is a {type(loss).__name__}")
    if not loss.requires_grad:
        when = "on the first training step" if step == 0 else "on a later training step (the first step's had it)"
        raise StudentValueError(f"{what} carries no gradient (its requires_grad is False) {when}" + frozen)
    try:
        loss.backward()
    except RuntimeError as error:
        raise BackwardFailed(f"{what}: {type(error).__name__}: {error}") from None


def frozen_parameters(module):
    """The names of the module's parameters that do not require grad (now)."""
    return [name for name, p in module.named_parameters() if not p.requires_grad]


def training_device(device):
    """The device a training probe runs on: 'auto' is CUDA where this process has it, else the CPU.
    Batches are drawn on the CPU and moved, so every device trains on the same samples."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def on_cpu(state):
    return {k: array(v, k) for k, v in state.items()}
