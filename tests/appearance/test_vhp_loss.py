"""VHP objective: the importance-weighted prior bound, F and C, and the lambda update rule."""
import math

import pytest
import torch

from appearance.model.hierarchical_prior import HierarchicalPrior, diag_gaussian_log_prob
from appearance.training.lagrangian import LagrangeMultiplier
from appearance.model.vae import VAE, VAEConfig
from appearance.training.vhp_loss import kl_upper_bound, reconstruction_error, vhp_terms


def tiny_prior(seed: int = 0) -> HierarchicalPrior:
    """2-D z and zeta, small MLPs, weights scaled up so p(z) is far from a Gaussian."""
    torch.manual_seed(seed)
    prior = HierarchicalPrior(latent_dim=2, zeta_dim=2, hidden=(16, 16)).double()
    with torch.no_grad():
        for p in prior.conditional.parameters():
            p.mul_(2.0)
        prior.conditional.logvar.bias.fill_(-2.0)
    return prior


def brute_force_log_prob(prior: HierarchicalPrior, z: torch.Tensor, n: int = 200_000) -> torch.Tensor:
    """log p(z) = log E_{zeta ~ N(0, I)} p(z|zeta), by plain Monte Carlo with n samples."""
    g = torch.Generator().manual_seed(123)
    zeta = torch.randn(n, prior.zeta_dim, generator=g, dtype=z.dtype)
    with torch.no_grad():
        mean, logvar = prior.conditional(zeta)                                    # (n, 2)
        log_cond = diag_gaussian_log_prob(z[:, None, :], mean[None], logvar[None])  # (B, n)
    return torch.logsumexp(log_cond, dim=1) - math.log(n)


def test_importance_weighted_bound_is_below_log_prob_and_tightens_with_k():
    prior = tiny_prior()
    torch.manual_seed(1)
    z = prior.sample(6).double()
    exact = brute_force_log_prob(prior, z)
    gaps, ses = {}, {}
    torch.manual_seed(2)
    with torch.no_grad():
        for k in (1, 8, 64, 512):
            draws = torch.stack([prior.log_prob_bound(z, k) for _ in range(300)])   # (R, B)
            gap = exact - draws.mean(0)                                           # per z
            gaps[k] = gap.mean().item()
            ses[k] = (draws.std(0) / draws.shape[0] ** 0.5).mean().item()
            assert gaps[k] > -4 * ses[k] - 1e-3, f"K={k}: bound above log p(z) by {-gaps[k]:.4f}"
    assert gaps[1] > 0.05, "the test needs a loose K=1 bound to have power"
    assert gaps[1] > gaps[8] > gaps[64]
    assert gaps[512] < 0.1 * gaps[1]
    assert abs(gaps[512]) < 0.02


def test_f_is_the_analytic_kl_when_the_prior_is_standard_normal():
    """With p(z|zeta) = q(zeta|z) = N(0, I) the bound is exact and E[F] = KL(q(z|x) || N(0, I))."""
    prior = HierarchicalPrior(latent_dim=4, hidden=(8,)).double()
    with torch.no_grad():
        for mlp in (prior.conditional, prior.posterior):
            for head in (mlp.mean, mlp.logvar):
                head.weight.zero_()
                head.bias.zero_()
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(3, 4, generator=g, dtype=torch.float64)
    logvar = 0.5 * torch.randn(3, 4, generator=g, dtype=torch.float64)
    analytic = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).sum(1)
    torch.manual_seed(0)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(20000, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        f = kl_upper_bound(z.reshape(-1, 4), mean.repeat(20000, 1), logvar.repeat(20000, 1), prior, k=4)
    f = f.view(20000, 3)
    se = f.std(0) / 20000 ** 0.5
    assert torch.all((f.mean(0) - analytic).abs() < 4 * se)


def test_reconstruction_error_is_per_pixel_mean_squared_error():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[0, :, :2] = 2.0                     # half the pixels off by 2 in item 0
    assert reconstruction_error(y, x).tolist() == [2.0, 0.0]


def test_vhp_terms_form_the_lagrangian_and_backpropagate():
    torch.manual_seed(0)
    vae = VAE(VAEConfig.cpu(latent_dim=8, decoder_channels=(8, 8, 8, 8, 8), prior_hidden=(16, 16)))
    x = torch.randn(3, 3, 64, 64)
    t = vhp_terms(vae, x, lam=7.0, kappa2=0.5)
    assert t["lagrangian"].item() == pytest.approx(t["F"].item() + 7.0 * (t["C"].item() - 0.5), rel=1e-5)
    assert t["z"].shape == (3, 8) and t["x_mean"].shape == x.shape
    t["lagrangian"].backward()
    for name, module in (("encoder", vae.encoder), ("decoder", vae.decoder), ("prior", vae.prior)):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters()), name


# ---- lambda update -------------------------------------------------------------------------


def test_first_batch_initialises_c_hat_then_ema():
    lm = LagrangeMultiplier(kappa2=0.1)
    lm.update(0.5)
    assert lm.c_hat == 0.5
    lm.update(1.5)
    assert lm.c_hat == pytest.approx(0.99 * 0.5 + 0.01 * 1.5)


def test_violated_constraint_grows_lambda_by_exp_delta():
    lm = LagrangeMultiplier(kappa2=0.1)
    new = lm.update(0.12)                                  # delta = 0.02 > 0
    assert new == pytest.approx(math.exp(0.02))


def test_satisfied_constraint_shrinks_lambda_above_one():
    lm = LagrangeMultiplier(kappa2=0.5, lambda0=10.0)
    values = [lm.update(0.45) for _ in range(200)]         # delta = -0.05
    assert values[0] == pytest.approx(10.0 * math.exp(math.tanh(100 * (0.1 - 1)) * 0.05))
    assert all(b < a for a, b in zip(values, values[1:]) if a > 1.06)
    # tau |delta| = 5 > 2: the rule does not settle at 1 but cycles within about |delta| of it.
    assert all(abs(math.log(v)) <= 0.05 for v in values[-20:])


def test_satisfied_constraint_grows_lambda_below_one():
    lm = LagrangeMultiplier(kappa2=0.5, lambda0=0.2)
    values = [lm.update(0.3) for _ in range(200)]          # delta = -0.2, factor clipped to 1.05
    assert values[0] == pytest.approx(0.2 * 1.05)
    assert all(b > a for a, b in zip(values, values[1:]) if a < 0.9)
    assert all(abs(math.log(v)) <= -math.log(0.9) + 1e-9 for v in values[-20:])


def test_small_slack_converges_to_one_without_overshoot():
    lm = LagrangeMultiplier(kappa2=0.5, lambda0=1.5)
    values = [lm.update(0.496) for _ in range(400)]        # delta = -0.004, tau |delta| < 1
    assert all(1.0 <= b <= a for a, b in zip(values, values[1:]))
    assert values[100] < values[0]
    assert values[-1] == pytest.approx(1.0, abs=1e-3)


def test_factor_and_lambda_are_clipped():
    up = LagrangeMultiplier(kappa2=0.0)
    assert up.update(10.0) == pytest.approx(1.05)          # exp(10) clipped
    down = LagrangeMultiplier(kappa2=10.0, lambda0=100.0)
    assert down.update(0.0) == pytest.approx(90.0)         # exp(-10) clipped to 0.9
    top = LagrangeMultiplier(kappa2=0.0, lambda0=1e8)
    assert top.update(1.0) == 1e8
    bottom = LagrangeMultiplier(kappa2=0.0, lambda0=1e-9)
    assert bottom.value == 1e-6


def test_state_round_trip_resumes_exactly():
    a = LagrangeMultiplier(kappa2=0.2, tau=50.0)
    for c in (0.5, 0.4, 0.3, 0.25):
        a.update(c)
    b = LagrangeMultiplier(kappa2=999.0)
    b.load_state_dict(a.state_dict())
    for c in (0.1, 0.15, 0.5):
        assert a.update(c) == b.update(c)
    assert a.state_dict() == b.state_dict()
    torch.save(a.state_dict(), "/dev/null")                # plain Python values: checkpoint-safe
