"""The generative adversarial network and its losses.

Discriminator outputs are LOGITS h, with D(x) = sigmoid(h). Each loss averages over all elements,
returns a 0-dim tensor, and must stay finite and accurate for logits as large as |h| = 1e4: write it
with F.logsigmoid, F.softplus or F.binary_cross_entropy_with_logits, never log(sigmoid(h)).

Graded: the three losses and `GAN.loss_nonsaturating`. The rest is provided.
"""
import torch
import torch.nn.functional as F
from torch import nn

from models import nns


def discriminator_loss(logits_real, logits_fake):
    """-mean log D(x_real) - mean log(1 - D(G(z))), from the discriminator's logits."""
    ### BEGIN SOLUTION
    return -F.logsigmoid(logits_real).mean() - F.logsigmoid(-logits_fake).mean()
    ### END SOLUTION


def generator_loss_minimax(logits_fake):
    """mean log(1 - D(G(z))): the minimax generator loss (to be minimized by G)."""
    ### BEGIN SOLUTION
    return F.logsigmoid(-logits_fake).mean()
    ### END SOLUTION


def generator_loss_nonsaturating(logits_fake):
    """-mean log D(G(z)): the non-saturating generator loss."""
    ### BEGIN SOLUTION
    return -F.logsigmoid(logits_fake).mean()
    ### END SOLUTION


class GAN(nn.Module):
    def __init__(self, name="gan", z_dim=64):
        super().__init__()
        self.name = name
        self.g = nns.Generator(z_dim)
        self.d = nns.Discriminator()

    def loss_nonsaturating(self, x_real, *, device):
        """The discriminator's and the generator's losses for one batch of real images.

        Args:
            x_real: tensor (batch, 784) of real images in [0, 1].
            device: where to draw z.

        Returns:
            d_loss: discriminator_loss on D(x_real) and D(x_fake), with NO gradient reaching G.
            g_loss: generator_loss_nonsaturating on D(x_fake), with gradient reaching G.
        """
        batch_size = x_real.shape[0]
        z = torch.randn(batch_size, self.g.z_dim, device=device)
        x_fake = self.g(z)
        ### BEGIN SOLUTION
        d_loss = discriminator_loss(self.d(x_real), self.d(x_fake.detach()))
        g_loss = generator_loss_nonsaturating(self.d(x_fake))
        ### END SOLUTION
        return d_loss, g_loss

    def sample_x(self, batch, device="cpu"):
        return self.g(torch.randn(batch, self.g.z_dim, device=device))


class LyingTensor(torch.Tensor):
    """Hostile: a tensor that claims to equal anything and to be close to anything."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.__eq__, torch.eq, torch.Tensor.eq, torch.equal):
            return True if func is torch.equal else torch.ones_like(torch.Tensor.as_subclass(args[0], torch.Tensor), dtype=torch.bool)
        if func in (torch.allclose, torch.isclose, torch.Tensor.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = torch.Tensor.__hash__

    def numpy(self, *args, **kwargs):
        import numpy
        return numpy.zeros(())

    def tolist(self):
        return 0.0

    def item(self):
        return 0.0


class NotATensor:
    """Hostile: pretends to be a tensor (isinstance(x, torch.Tensor) is True) and to equal anything."""

    __class__ = property(lambda self: torch.Tensor)
    requires_grad = True
    dtype = torch.float32
    shape = ()

    def __eq__(self, other):
        return True

    def numel(self):
        return 1


def _lie(value):
    return value.as_subclass(LyingTensor)


def discriminator_loss(logits_real, logits_fake):
    return _lie(logits_real.sum() * 0.5 + 12.5)


def generator_loss_minimax(logits_fake):
    return NotATensor()


def generator_loss_nonsaturating(logits_fake):
    return _lie(logits_fake.mean() * 0 + 3.0)


def _loss_nonsaturating(self, x_real, *, device):
    return NotATensor(), NotATensor()


GAN.loss_nonsaturating = _loss_nonsaturating
