"""The probes of ewc.py: the Fisher and the penalty of a small dropout net, and a short task-B run with EWC."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import Adam, StudentValueError, array, backward, grad_array, on_cpu, probe, tensors, training_device


class SmallNet(nn.Module):
    """A small classifier with dropout, so that train mode changes the Fisher."""

    def __init__(self, d_in, hidden, classes, dropout=0.5):
        super().__init__()
        self.hidden = nn.Linear(d_in, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.out(self.drop(torch.tanh(self.hidden(x))))


def small_net(state, dropout=0.5):
    d_in, hidden, classes = state["hidden.weight"].shape[1], state["hidden.weight"].shape[0], state["out.weight"].shape[0]
    model = SmallNet(d_in, hidden, classes, dropout)
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return model


@probe
def fisher(hw, state, x, y, batch_size, train_mode, seed=0, dropout=0.5, frozen=()):
    """The student's Fisher of a small dropout net (dropout 0: the same net without it), and what it did
    to the model. `frozen`: parameters set to requires_grad=False (the Fisher has no entry for them)."""
    hw.require("ewc.py")
    model = small_net(state, dropout)
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    model.train(bool(train_mode))
    loader = [(torch.tensor(x[i:i + batch_size]), torch.tensor(y[i:i + batch_size]))
              for i in range(0, len(x), batch_size)]
    torch.manual_seed(seed)
    result = hw.ewc.fisher_diagonal(model, loader)
    if not isinstance(result, dict):
        raise StudentValueError(f"fisher_diagonal should return a dict, but it returned {type(result).__name__}")
    return {"fisher": {str(k): array(v, f"fisher[{k!r}]") for k, v in result.items()},
            "requires_grad": any(isinstance(v, torch.Tensor) and v.requires_grad for v in result.values()),
            "state_after": {k: array(v, k) for k, v in model.state_dict().items()},
            "training_after": model.training}


@probe
def ewc_penalty(hw, state, fisher, star, lam, frozen=()):
    """The student's penalty, its gradient w.r.t. the parameters, and any gradient into fisher/star.
    `frozen`: parameters set to requires_grad=False (fisher and star then have no entry for them)."""
    hw.require("ewc.py")
    model = small_net(state)
    for name, p in model.named_parameters():
        p.requires_grad_(name not in frozen)
    f = tensors(fisher, requires_grad=True)
    s = tensors(star, requires_grad=True)
    value = hw.ewc.ewc_penalty(model, f, s, float(lam))
    if type(value) in (int, float):   # a Python number (e.g. from .item()): the judge says why that fails
        return {"value": np.array(float(value)), "tensor": False, "grad": None, "leak": False, "written": []}
    # what the call wrote into the fisher and star it was given (through .detach() views, say): read back
    written = [f"{label}[{k!r}]" for label, given, passed in (("fisher", fisher, f), ("star", star, s)) for k in given
               if not np.array_equal(passed[k].detach().numpy(), given[k])]
    out = {"value": array(value, "the penalty"), "tensor": True, "grad": None, "leak": False, "grad_error": None,
           "written": written}
    if isinstance(value, torch.Tensor) and value.requires_grad and value.numel() == 1:
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        leaves = list(params.values()) + list(f.values()) + list(s.values())
        try:   # an in-place op of the penalty on a tensor its graph saved fails here, after it returned
            grads = torch.autograd.grad(value.sum(), leaves, allow_unused=True)
        except RuntimeError as error:
            out["grad_error"] = f"BackwardFailed: the penalty: {type(error).__name__}: {error}"
            return out
        out["grad"] = {n: grad_array(g) for n, g in zip(params, grads)}
        out["leak"] = any(g is not None and bool(g.abs().sum() > 0) for g in grads[len(params):])
    return out


@probe
def ewc_train(hw, after_a, xa, ya, xb, yb, batches, lam, fisher_samples, lr=1e-3, device="cpu"):
    """Task B with EWC (the student's Fisher of the judge's task-A weights `after_a` on task A's first
    `fisher_samples` samples, and the student's penalty), on the judge's batches (rows of indices into
    xb); the weights after it. Task A's training and the naive baseline are the judge's own
    (checks/training.py): nothing the judge compares with is computed in this process."""
    hw.require("ewc.py")
    device = training_device(device)
    model = small_net(after_a, dropout=0.0).to(device)
    xa, ya, xb, yb = (torch.tensor(a) for a in (xa, ya, xb, yb))
    loader = [(xa[i:i + 50].to(device), ya[i:i + 50].to(device)) for i in range(0, fisher_samples, 50)]
    fisher_a = hw.ewc.fisher_diagonal(model, loader)
    star = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = Adam(model.parameters(), lr=lr)
    model.train()
    for step, index in enumerate(torch.tensor(batches)):
        loss = F.cross_entropy(model(xb[index].to(device)), yb[index].to(device))
        loss = loss + hw.ewc.ewc_penalty(model, fisher_a, star, float(lam))
        optimizer.zero_grad()
        backward(loss, "the task-B loss with your penalty", step)
        optimizer.step()
    return {"ewc": on_cpu(model.state_dict()), "device": str(device)}
