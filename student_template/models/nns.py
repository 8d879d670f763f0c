"""The networks of the homework's models (provided).

v1 is the course's VAE encoder/decoder: two hidden layers of 300 ELU units. The GAN has two pairs of
generator and discriminator, both on flattened 28x28 images (the discriminator returns logits):
"mlp", small MLPs (what the grader's checks build: `GAN()` defaults to it), and "conv", a small
DCGAN-style pair of (transposed) convolutions that experiment.py trains by default, since the MLPs'
samples stay speckled on the 4,000 offline digits.
"""

from torch import nn

import utils as ut


class Encoder(nn.Module):
    def __init__(self, z_dim):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(784, 300), nn.ELU(),
            nn.Linear(300, 300), nn.ELU(),
            nn.Linear(300, 2 * z_dim),
        )

    def encode(self, x):
        """x (batch, 784) -> (m, v) of q(z | x), each (batch, z_dim); v is a variance."""
        return ut.gaussian_parameters(self.net(x), dim=1)


class Decoder(nn.Module):
    def __init__(self, z_dim):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 300), nn.ELU(),
            nn.Linear(300, 300), nn.ELU(),
            nn.Linear(300, 784),
        )

    def decode(self, z):
        """z (batch, z_dim) -> Bernoulli logits over the 784 pixels."""
        return self.net(z)


class Generator(nn.Module):
    # Batch normalization keeps this small MLP generator from collapsing to a single image.
    def __init__(self, z_dim=64):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 256), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Linear(256, 512), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Linear(512, 784), nn.Sigmoid(),
        )

    def forward(self, z):
        """z (batch, z_dim) -> images (batch, 784) in [0, 1]."""
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(784, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 1),
        )

    def forward(self, x):
        """x (batch, 784) -> logits (batch,); D(x) = sigmoid(logits)."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(-1)


class ConvGenerator(nn.Module):
    """DCGAN-style: z -> 128 x 7 x 7 -> 64 x 14 x 14 -> 1 x 28 x 28, batch normalization after the
    hidden layers, a sigmoid at the end."""

    def __init__(self, z_dim=64, width=64):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Linear(z_dim, 2 * width * 7 * 7, bias=False), nn.BatchNorm1d(2 * width * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1), nn.Sigmoid(),
            nn.Flatten(),
        )

    def forward(self, z):
        """z (batch, z_dim) -> images (batch, 784) in [0, 1]."""
        return self.net(z)


class ConvDiscriminator(nn.Module):
    """DCGAN-style: 1 x 28 x 28 -> 64 x 14 x 14 -> 128 x 7 x 7 -> one logit; leaky ReLUs and no batch
    normalization (the loss sees real and fake images in separate batches)."""

    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1),
        )

    def forward(self, x):
        """x (batch, 784) -> logits (batch,); D(x) = sigmoid(logits)."""
        return self.net(x.reshape(x.shape[0], -1)).squeeze(-1)


ENCODERS = {"v1": Encoder}
DECODERS = {"v1": Decoder}
GANS = {"mlp": (Generator, Discriminator), "conv": (ConvGenerator, ConvDiscriminator)}   # (generator, discriminator)
