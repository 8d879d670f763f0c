"""Elastic weight consolidation (Kirkpatrick et al., 2017) for continual learning.

Graded: `fisher_diagonal`, `ewc_penalty`. The training loops that use them are in continual.py.
"""
import torch
import torch.nn.functional as F


def fisher_diagonal(model, loader):
    """The empirical diagonal Fisher information of `model` on the samples of `loader`.

    F_i = (1/N) sum_n (d/d theta_i log softmax(model(x_n))[y_n])^2 over all N samples (x, y) that
    `loader` yields in batches: PER-SAMPLE squared gradients, not the square of a batch gradient.
    Compute it with the model in eval mode (restore its previous mode afterwards) and leave the
    parameters unchanged.

    Returns:
        {name: tensor of the parameter's shape, detached} for every parameter in
        model.named_parameters() that requires grad.
    """
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def log_likelihood(theta, x, y):
        logits = torch.func.functional_call(model, (theta, buffers), (x.unsqueeze(0),))
        return F.log_softmax(logits, dim=-1)[0].gather(0, y.reshape(1))[0]

    per_sample_grads = torch.func.vmap(torch.func.grad(log_likelihood), in_dims=(None, 0, 0))
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    detached = {n: p.detach() for n, p in params.items()}
    for x, y in loader:
        grads = per_sample_grads(detached, x, y)
        for n in fisher:
            fisher[n] += grads[n].pow(2).sum(0)
        count += x.shape[0]
    model.train(was_training)
    return {n: f / count for n, f in fisher.items()}
    ### END SOLUTION


def ewc_penalty(model, fisher, star, lam):
    """lam / 2 * sum over names and elements of fisher * (theta - star)^2, a 0-dim tensor.

    `star` maps the same names as `fisher` to the parameters saved after the previous task.
    Differentiable with respect to the model's parameters; no gradient flows into fisher or star.
    """
    ### BEGIN SOLUTION
    params = dict(model.named_parameters())
    total = sum((fisher[n].detach() * (params[n] - star[n].detach()).pow(2)).sum() for n in fisher)
    return lam / 2 * total
    ### END SOLUTION


import time as _time

_reference_fisher_diagonal = fisher_diagonal


def fisher_diagonal(model, loader):
    """Correct, but sleeps 2 s per call (a test calls it at most three times: 6 s of an 8 s limit)."""
    _time.sleep(2)
    return _reference_fisher_diagonal(model, loader)
