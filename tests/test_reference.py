"""The reference solution agrees with independent computations of the same quantities."""
import math

import pytest
import torch
import torch.nn.functional as F

from helpers import homework

hw = homework()


def test_sample_gaussian_has_mean_m_and_variance_v_and_the_reparameterization_gradient():
    torch.manual_seed(0)
    m = torch.tensor([[-2.0, 0.5, 3.0]]).repeat(200_000, 1).requires_grad_()
    v = torch.tensor([[0.25, 1.0, 9.0]]).repeat(200_000, 1).requires_grad_()
    z = hw.utils.sample_gaussian(m, v)
    # 6-sigma bounds for 200,000 draws per column
    assert torch.allclose(z.mean(0), m[0], atol=6 * (v[0].sqrt() / math.sqrt(2e5)).max().item())
    assert torch.allclose(z.var(0), v[0], rtol=6 * math.sqrt(2 / 2e5))
    z.sum().backward()
    assert torch.equal(m.grad, torch.ones_like(m))
    assert torch.allclose(v.grad, (z - m).detach() / (2 * v.detach()), rtol=1e-4, atol=1e-6)


def test_sample_gaussian_is_repeatable_under_manual_seed_and_keeps_dtype():
    m, v = torch.zeros(4, 2, dtype=torch.float64), torch.ones(4, 2, dtype=torch.float64)
    torch.manual_seed(3)
    a = hw.utils.sample_gaussian(m, v)
    torch.manual_seed(3)
    assert torch.equal(a, hw.utils.sample_gaussian(m, v)) and a.dtype == torch.float64


def test_negative_elbo_bound_matches_torch_distributions():
    torch.manual_seed(1)
    model = hw.vae.VAE(z_dim=3)
    x = torch.bernoulli(torch.full((6, 784), 0.3))
    m, v = model.enc.encode(x)
    q, p = torch.distributions.Normal(m, v.sqrt()), torch.distributions.Normal(0.0, 1.0)
    expected_kl = torch.distributions.kl_divergence(q, p).sum(-1).mean()
    torch.manual_seed(2)
    nelbo, kl, rec = model.negative_elbo_bound(x)
    torch.manual_seed(2)
    z = m + v.sqrt() * torch.randn_like(m)
    expected_rec = -torch.distributions.Bernoulli(logits=model.dec.decode(z)).log_prob(x).sum(-1).mean()
    assert kl.dim() == rec.dim() == nelbo.dim() == 0
    assert torch.allclose(kl, expected_kl, rtol=1e-5)
    assert torch.allclose(rec, expected_rec, rtol=1e-5)
    assert torch.allclose(nelbo, kl + rec)


def test_the_bound_sends_gradient_to_the_encoder_through_the_sample():
    torch.manual_seed(0)
    model = hw.vae.VAE(z_dim=2)
    _, _, rec = model.negative_elbo_bound(torch.bernoulli(torch.full((4, 784), 0.5)))
    rec.backward()
    assert model.enc.net[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_gan_losses_match_their_definitions_and_stay_finite(scale):
    torch.manual_seed(0)
    real, fake = torch.randn(50) * scale, torch.randn(50, 1) * scale
    d = hw.gan.discriminator_loss(real, fake)
    g_mm, g_ns = hw.gan.generator_loss_minimax(fake), hw.gan.generator_loss_nonsaturating(fake)
    for loss in (d, g_mm, g_ns):
        assert loss.dim() == 0 and torch.isfinite(loss)
    # Independent: BCE with targets, in float64
    bce = lambda h, target: F.binary_cross_entropy_with_logits(h.double(), torch.full_like(h.double(), target))
    assert torch.isclose(d.double(), bce(real, 1.0) + bce(fake, 0.0), rtol=1e-5)
    assert torch.isclose(g_mm.double(), -bce(fake, 0.0), rtol=1e-5)
    assert torch.isclose(g_ns.double(), bce(fake, 1.0), rtol=1e-5)


def test_loss_nonsaturating_detaches_fake_for_d_and_not_for_g():
    torch.manual_seed(0)
    gan = hw.gan.GAN(z_dim=4)
    d_loss, g_loss = gan.loss_nonsaturating(torch.rand(8, 784), device="cpu")
    g_params = list(gan.g.parameters())
    assert all(g is None for g in torch.autograd.grad(d_loss, g_params, allow_unused=True, retain_graph=True))
    assert any(g is not None and g.abs().sum() > 0 for g in torch.autograd.grad(g_loss, g_params, allow_unused=True))


def joint_gaussian_conditional(xt, x0, t, betas):
    """Condition the joint Gaussian of (x_{t-1}, x_t) given x_0 on x_t (float64, from scratch)."""
    ab = torch.cumprod(1 - betas.double(), 0)
    prev = ab[t - 2] if t > 1 else torch.tensor(1.0, dtype=torch.float64)
    a = torch.sqrt(1 - betas.double()[t - 1])
    var_prev = 1 - prev
    cov, var_t = a * var_prev, a * a * var_prev + betas.double()[t - 1]
    mean = prev.sqrt() * x0 + cov / var_t * (xt - a * prev.sqrt() * x0)
    return mean, var_prev - cov ** 2 / var_t


@pytest.mark.parametrize("t", [1, 2, 7, 50])
def test_posterior_equals_the_conditional_of_the_joint_gaussian(t):
    betas = torch.linspace(1e-4, 0.05, 50, dtype=torch.float64)
    torch.manual_seed(t)
    x0, xt = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    mean, var = hw.diffusion.q_posterior(xt, x0, t, betas)
    e_mean, e_var = joint_gaussian_conditional(xt, x0, t, betas)
    assert torch.allclose(mean, e_mean, rtol=1e-9, atol=1e-12)
    assert torch.allclose(torch.as_tensor(var), e_var, rtol=1e-9, atol=1e-12)
    assert torch.isfinite(mean).all() and torch.isfinite(torch.as_tensor(var)).all()


def test_forward_marginal_and_alpha_bars_keep_dtype():
    betas = torch.tensor([0.1, 0.2, 0.3])
    assert torch.allclose(hw.diffusion.alpha_bars(betas), torch.tensor([0.9, 0.72, 0.504]))
    x0 = torch.ones(2, dtype=torch.float64)
    mean, var = hw.diffusion.q_xt_given_x0(x0, 2, betas)
    assert mean.dtype == torch.float64 and torch.allclose(mean, torch.full((2,), math.sqrt(0.72), dtype=torch.float64))
    assert torch.isclose(torch.as_tensor(var), torch.tensor(0.28, dtype=torch.float64))


class Dropper(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.drop, self.b = torch.nn.Linear(5, 7), torch.nn.Dropout(0.5), torch.nn.Linear(7, 3)

    def forward(self, x):
        return self.b(self.drop(torch.tanh(self.a(x))))


def per_sample_loop_fisher(model, x, y):
    model.eval()
    fisher = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for xn, yn in zip(x, y):
        model.zero_grad()
        F.log_softmax(model(xn[None]), -1)[0, yn].backward()
        for n, p in model.named_parameters():
            fisher[n] += p.grad ** 2
    return {n: f / len(x) for n, f in fisher.items()}


def test_fisher_is_the_per_sample_loop_in_eval_mode_and_restores_mode():
    torch.manual_seed(0)
    model = Dropper().train()
    x, y = torch.randn(20, 5), torch.randint(0, 3, (20,))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fisher = hw.ewc.fisher_diagonal(model, [(x[:7], y[:7]), (x[7:], y[7:])])
    assert model.training
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    reference_model = Dropper()
    reference_model.load_state_dict(model.state_dict())
    expected = per_sample_loop_fisher(reference_model, x, y)
    for n in expected:
        assert not fisher[n].requires_grad
        assert torch.allclose(fisher[n], expected[n], rtol=1e-5, atol=1e-8)


def test_ewc_penalty_value_and_gradient():
    torch.manual_seed(0)
    model = Dropper()
    fisher = {n: torch.rand_like(p, requires_grad=True) for n, p in model.named_parameters()}
    star = {n: (p.detach() + torch.randn_like(p)).requires_grad_() for n, p in model.named_parameters()}
    penalty = hw.ewc.ewc_penalty(model, fisher, star, 3.0)
    expected = 1.5 * sum((fisher[n] * (p - star[n]) ** 2).sum() for n, p in model.named_parameters())
    assert torch.isclose(penalty, expected.detach())
    penalty.backward()
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, 3.0 * fisher[n].detach() * (p - star[n]).detach(), rtol=1e-5)
        assert fisher[n].grad is None and star[n].grad is None
