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
    # TODO: write fisher_diagonal.
    raise NotImplementedError("fisher_diagonal in ewc.py is not written yet: replace this line with your code (see the docstring above).")


def ewc_penalty(model, fisher, star, lam):
    """lam / 2 * sum over names and elements of fisher * (theta - star)^2, a 0-dim tensor.

    `star` maps the same names as `fisher` to the parameters saved after the previous task.
    Differentiable with respect to the model's parameters; no gradient flows into fisher or star.
    """
    # TODO: write ewc_penalty.
    raise NotImplementedError("ewc_penalty in ewc.py is not written yet: replace this line with your code (see the docstring above).")
