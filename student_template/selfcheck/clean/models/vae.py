"""The variational autoencoder (after the course's CS236 models/vae.py).

Graded: `VAE.negative_elbo_bound`. The rest is provided.
"""
import torch
from torch import nn

import utils as ut
from models import nns


class VAE(nn.Module):
    def __init__(self, nn="v1", name="vae", z_dim=2):
        super().__init__()
        self.name = name
        self.z_dim = z_dim
        self.enc = nns.ENCODERS[nn](z_dim)
        self.dec = nns.DECODERS[nn](z_dim)
        # The prior p(z) = N(0, I): fixed, not trained.
        self.z_prior_m = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
        self.z_prior_v = torch.nn.Parameter(torch.ones(1), requires_grad=False)
        self.z_prior = (self.z_prior_m, self.z_prior_v)

    def negative_elbo_bound(self, x):
        """The negative evidence lower bound and its two terms, averaged over the batch.

        Args:
            x: tensor (batch, 784) of binary pixels.

        Returns:
            nelbo, kl, rec: 0-dim tensors with nelbo = kl + rec, where
            kl  = batch mean of the analytic KL(q(z|x) || p(z)) (use ut.kl_normal against self.z_prior),
            rec = batch mean of -log p(x|z) for ONE sample z ~ q(z|x) drawn with ut.sample_gaussian
                  (use self.dec.decode and ut.log_bernoulli_with_logits).
        """
        # TODO: write VAE.negative_elbo_bound.
        raise NotImplementedError("VAE.negative_elbo_bound in models/vae.py is not written yet: replace this line with your code (see the docstring above).")

    def loss(self, x):
        nelbo, kl, rec = self.negative_elbo_bound(x)
        summaries = {"train/loss": nelbo.item(), "gen/kl_z": kl.item(), "gen/rec": rec.item()}
        return nelbo, summaries

    def sample_x(self, batch):
        """Bernoulli means of x for z drawn from the prior: (batch, 784) in [0, 1]."""
        z = ut.sample_gaussian(self.z_prior_m.expand(batch, self.z_dim),
                               self.z_prior_v.expand(batch, self.z_dim))
        return torch.sigmoid(self.dec.decode(z))
