"""The networks of the homework's models (provided).

v1 is the course's VAE encoder/decoder: two hidden layers of 300 ELU units. The GAN's generator and
discriminator are small MLPs on flattened 28x28 images; the discriminator returns logits.
"""
import torch
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


ENCODERS = {"v1": Encoder}
DECODERS = {"v1": Decoder}
