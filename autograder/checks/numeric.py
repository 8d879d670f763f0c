"""Trusted numpy re-implementations the judge computes expectations with (no torch here).

Some take what a submission returned (the z its GAN step drew, for instance), which may be huge, inf or
NaN: numpy's RuntimeWarnings about that arithmetic are the grader's own noise and must never reach a
student's feedback, so every function here runs with floating-point warnings off (`quiet`)."""
import functools

import numpy as np


def quiet(function):
    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    return wrapped



@quiet
def softplus(x):
    return np.logaddexp(0.0, x)


@quiet
def logsigmoid(x):
    return -np.logaddexp(0.0, -x)


@quiet
def sigmoid(x):
    return np.exp(logsigmoid(x))


@quiet
def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


@quiet
def leaky_relu(x, slope=0.2):
    return np.where(x > 0, x, slope * x)


@quiet
def linear(state, prefix, x):
    return x @ state[prefix + ".weight"].astype(np.float64).T + state[prefix + ".bias"].astype(np.float64)


@quiet
def vae_encode(state, x):
    h = elu(linear(state, "enc.net.0", x))
    h = elu(linear(state, "enc.net.2", h))
    h = linear(state, "enc.net.4", h)
    half = h.shape[1] // 2
    return h[:, :half], softplus(h[:, half:]) + 1e-8


@quiet
def vae_encoder_grads(state, x, dm, dv):
    """d/dtheta of sum(dm * m + dv * v) for the encoder's parameters (backpropagation through vae_encode): the
    gradient a loss with dL/dm = dm and dL/dv = dv sends into the encoder."""
    a0 = linear(state, "enc.net.0", x)
    h0 = elu(a0)
    a1 = linear(state, "enc.net.2", h0)
    h1 = elu(a1)
    a2 = linear(state, "enc.net.4", h1)
    half = a2.shape[1] // 2
    g2 = np.concatenate([dm, dv * sigmoid(a2[:, half:])], 1)            # softplus' = sigmoid
    g1 = (g2 @ state["enc.net.4.weight"].astype(np.float64)) * np.where(a1 > 0, 1.0, np.exp(np.minimum(a1, 0)))
    g0 = (g1 @ state["enc.net.2.weight"].astype(np.float64)) * np.where(a0 > 0, 1.0, np.exp(np.minimum(a0, 0)))
    return {"enc.net.4.weight": g2.T @ h1, "enc.net.4.bias": g2.sum(0), "enc.net.2.weight": g1.T @ h0,
            "enc.net.2.bias": g1.sum(0), "enc.net.0.weight": g0.T @ x, "enc.net.0.bias": g0.sum(0)}


@quiet
def vae_decode(state, z):
    h = elu(linear(state, "dec.net.0", z))
    h = elu(linear(state, "dec.net.2", h))
    return linear(state, "dec.net.4", h)


@quiet
def kl_to_standard_normal(m, v):
    """KL(N(m, v) || N(0, 1)) summed over the last dim."""
    return 0.5 * (-np.log(v) + v + m ** 2 - 1).sum(-1)


@quiet
def bernoulli_log_likelihood(x, logits):
    return (x * logsigmoid(logits) + (1 - x) * logsigmoid(-logits)).sum(-1)


@quiet
def vae_bound(state, x, eps):
    """(nelbo, kl, rec) of the course's VAE with the sample m + sqrt(v) * eps."""
    m, v = vae_encode(state, x)
    kl = kl_to_standard_normal(m, v).mean()
    rec = -bernoulli_log_likelihood(x, vae_decode(state, m + np.sqrt(v) * eps)).mean()
    return kl + rec, kl, rec


@quiet
def discriminator_logits(state, x, prefix="d.net"):
    h = leaky_relu(linear(state, f"{prefix}.0", x))
    h = leaky_relu(linear(state, f"{prefix}.2", h))
    return linear(state, f"{prefix}.4", h)[:, 0]


@quiet
def discriminator_grad_norm(state, x, dloss_dlogits, prefix="d.net"):
    """|| d loss / d (D's parameters) || for a loss whose gradient w.r.t. D's logits on the rows of x is
    dloss_dlogits (n,): backpropagation through the MLP discriminator of discriminator_logits."""
    W = [state[f"{prefix}.{i}.weight"].astype(np.float64) for i in (0, 2, 4)]
    pre1 = linear(state, f"{prefix}.0", x)
    h1 = leaky_relu(pre1)
    pre2 = linear(state, f"{prefix}.2", h1)
    h2 = leaky_relu(pre2)
    g3 = dloss_dlogits[:, None]                                   # (n, 1)
    g2 = (g3 @ W[2]) * np.where(pre2 > 0, 1.0, 0.2)               # (n, 256)
    g1 = (g2 @ W[1]) * np.where(pre1 > 0, 1.0, 0.2)               # (n, 512)
    grads = [g1.T @ x, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0)]
    return float(np.sqrt(sum((g ** 2).sum() for g in grads)))


@quiet
def batch_norm(state, prefix, h, eps=1e-5):
    """BatchNorm1d in eval mode: the running statistics."""
    mean, var = state[f"{prefix}.running_mean"].astype(np.float64), state[f"{prefix}.running_var"].astype(np.float64)
    return (h - mean) / np.sqrt(var + eps) * state[f"{prefix}.weight"] + state[f"{prefix}.bias"]


@quiet
def generator(state, z, prefix="g.net"):
    """The GAN's generator in eval mode: Linear-BN-ReLU twice, then Linear-sigmoid."""
    h = np.maximum(batch_norm(state, f"{prefix}.1", linear(state, f"{prefix}.0", z)), 0)
    h = np.maximum(batch_norm(state, f"{prefix}.4", linear(state, f"{prefix}.3", h)), 0)
    return sigmoid(linear(state, f"{prefix}.6", h))


@quiet
def small_net_logits(state, x):
    h = np.tanh(linear(state, "hidden", x))
    return linear(state, "out", h), h


@quiet
def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


@quiet
def small_net_per_sample_grads(state, x, y):
    """d/dtheta log softmax(net(x_n))[y_n] for each sample n (eval mode: dropout is the identity)."""
    logits, h = small_net_logits(state, x)
    g_out = np.eye(logits.shape[1])[y] - np.exp(log_softmax(logits))        # (n, classes)
    g_hidden = (g_out @ state["out.weight"].astype(np.float64)) * (1 - h ** 2)  # (n, hidden)
    return {"out.weight": g_out[:, :, None] * h[:, None, :], "out.bias": g_out,
            "hidden.weight": g_hidden[:, :, None] * x[:, None, :], "hidden.bias": g_hidden}


@quiet
def small_net_fisher(state, x, y):
    return {k: (g ** 2).mean(0) for k, g in small_net_per_sample_grads(state, x, y).items()}


@quiet
def small_net_accuracy(state, x, y):
    logits, _ = small_net_logits(state, x.astype(np.float64))
    return float((logits.argmax(-1) == y).mean())
