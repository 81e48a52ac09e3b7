"""Flatness penalty: mixup range, probe estimators against exact Jacobians, gradients to the decoder."""
import pytest
import torch
from torch import nn

from appearance.training.flatness import (exact_flatness, flatness_penalty, latent_mixup, mixup_coefficients,
                                 probe_flatness, trace_estimate)
from appearance.model.vae import Decoder, VAEConfig

NZ = 3


def mlp_decoder(seed: int = 0) -> nn.Module:
    """Smooth, small decoder (3 -> 20) whose Jacobian is cheap to form exactly."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(NZ, 16), nn.Tanh(), nn.Linear(16, 20)).double()


def conv_decoder(seed: int = 0) -> Decoder:
    """The project's decoder, tiny, re-initialised so ReLUs are alive and J is O(1)."""
    torch.manual_seed(seed)
    dec = Decoder(VAEConfig(latent_dim=NZ, image_size=32, channels=1, decoder_channels=(4, 4, 4, 4, 4)))
    for m in dec.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.normal_(m.bias, std=0.1)
    return dec


def latents(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, NZ, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_mixup_coefficients_reach_past_both_ends_and_stay_in_range():
    a = mixup_coefficients(20000, a0=0.2, generator=torch.Generator().manual_seed(0))
    assert a.min() >= -0.2 and a.max() <= 1.2
    assert a.min() < -0.18 and a.max() > 1.18
    assert (a < 0).float().mean() == pytest.approx(0.2 / 1.4, abs=0.02)
    assert (a > 1).float().mean() == pytest.approx(0.2 / 1.4, abs=0.02)


def test_latent_mixup_lies_on_lines_between_batch_items():
    z = latents(16)
    zt = latent_mixup(z, a0=0.2, generator=torch.Generator().manual_seed(3))
    for i in range(len(z)):
        found = False
        for j in range(len(z)):
            d = z[j] - z[i]
            if j == i:
                found |= torch.allclose(zt[i], z[i])
                continue
            a = torch.dot(zt[i] - z[i], d) / torch.dot(d, d)
            if torch.allclose(z[i] + a * d, zt[i], atol=1e-10) and -0.2 - 1e-9 <= a <= 1.2 + 1e-9:
                found = True
        assert found, f"mixed point {i} is not on a segment (extended by a0) to another item"


def test_exact_flatness_of_a_scaled_isometry_is_zero():
    q, _ = torch.linalg.qr(torch.randn(10, NZ, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    lin = nn.Linear(NZ, 10, bias=True).double()
    with torch.no_grad():
        lin.weight.copy_(2.5 * q)
    ex = exact_flatness(lin, latents(4))
    assert ex.c2.item() == pytest.approx(6.25)
    assert torch.allclose(ex.per_sample, torch.zeros(4, dtype=torch.float64), atol=1e-10)


def test_trace_estimate_is_unbiased_for_c2():
    dec, z = mlp_decoder(), latents(8)
    ex = exact_flatness(dec, z)
    with torch.no_grad():
        samples = torch.stack([trace_estimate(dec, z, 1, torch.Generator().manual_seed(s)).mean() / NZ
                               for s in range(400)])
    se = samples.std() / len(samples) ** 0.5
    assert se < 0.05 * ex.c2
    assert abs(samples.mean() - ex.c2) < 4 * se


def test_probe_estimate_mean_matches_exact_frobenius_norm():
    dec, z = mlp_decoder(), latents(8)
    ex = exact_flatness(dec, z)
    target = ex.per_sample.mean().detach()
    with torch.no_grad():
        samples = torch.stack([probe_flatness(dec, z, ex.c2, 1, torch.Generator().manual_seed(s)).mean()
                               for s in range(1000)])
    se = samples.std() / len(samples) ** 0.5
    assert se < 0.05 * target, "the test would have no power"
    assert abs(samples.mean() - target) < 4 * se


def test_penalty_with_independent_c2_probes_has_only_the_variance_bias():
    """E[estimate] = ||G - c^2 I||^2 (batch mean) + N_z Var(c2_hat): nothing else is off."""
    dec, z = mlp_decoder(), latents(8)
    ex = exact_flatness(dec, z)
    pen, c2 = [], []
    with torch.no_grad():
        for s in range(1000):
            r = flatness_penalty(dec, z, mixup=False, generator=torch.Generator().manual_seed(s))
            pen.append(r.penalty)
            c2.append(r.c2)
    pen, c2 = torch.stack(pen), torch.stack(c2)
    expected = ex.per_sample.mean() + NZ * c2.var()
    se = pen.std() / len(pen) ** 0.5
    assert abs(pen.mean() - expected) < 4 * se


def test_probe_gradient_matches_exact_gradient():
    dec, z = mlp_decoder(), latents(8)
    ex = exact_flatness(dec, z)
    c2 = ex.c2.detach()
    exact_grad = torch.autograd.grad(((ex.metric - c2 * torch.eye(NZ, dtype=z.dtype)) ** 2).sum((1, 2)).mean(),
                                     list(dec.parameters()), materialize_grads=True)
    est = probe_flatness(dec, z, c2, n_probes=2000, generator=torch.Generator().manual_seed(0)).mean()
    est_grad = torch.autograd.grad(est, list(dec.parameters()), materialize_grads=True)
    a = torch.cat([g.flatten() for g in exact_grad])
    b = torch.cat([g.flatten() for g in est_grad])
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99
    assert (b.norm() / a.norm()).item() == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("detach_c2", [True, False])
def test_penalty_gradient_reaches_every_conv_decoder_weight(detach_c2):
    dec = conv_decoder()
    z = torch.randn(4, NZ, requires_grad=True)
    r = flatness_penalty(dec, z, n_probes=1, detach_c2=detach_c2, generator=torch.Generator().manual_seed(0))
    assert not r.c2.requires_grad and r.c2 > 0
    r.penalty.backward()
    weights = [m.weight for m in dec.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)
    # A ReLU decoder is piecewise linear: J is locally constant in z, so z gets no gradient.
    assert z.grad is None or torch.count_nonzero(z.grad) == 0


def test_penalty_gradient_reaches_latents_through_a_smooth_decoder():
    dec = mlp_decoder()
    z = latents(8).requires_grad_(True)
    flatness_penalty(dec, z, generator=torch.Generator().manual_seed(0)).penalty.backward()
    assert torch.count_nonzero(z.grad) == z.numel()   # mixup keeps z in the graph


def test_conv_decoder_probe_estimate_agrees_with_exact():
    dec = conv_decoder()
    z = torch.randn(2, NZ, generator=torch.Generator().manual_seed(2))
    ex = exact_flatness(dec, z)
    with torch.no_grad():
        est = probe_flatness(dec, z, ex.c2, n_probes=200, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(est, ex.per_sample, rtol=0.25)


def test_conv_decoder_probe_gradient_matches_exact_gradient():
    dec = conv_decoder()
    weights = [m.weight for m in dec.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    z = torch.randn(2, NZ, generator=torch.Generator().manual_seed(2))
    ex = exact_flatness(dec, z)
    c2 = ex.c2.detach()
    exact = torch.autograd.grad(((ex.metric - c2 * torch.eye(NZ)) ** 2).sum((1, 2)).mean(), weights)
    est = probe_flatness(dec, z, c2, n_probes=100, generator=torch.Generator().manual_seed(0)).mean()
    approx = torch.autograd.grad(est, weights)
    a = torch.cat([g.flatten() for g in exact])
    b = torch.cat([g.flatten() for g in approx])
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.99


class Rescaled(nn.Module):
    """f(z / s): the same decoded manifold with the latent space stretched by s."""

    def __init__(self, inner: nn.Module, s: float):
        super().__init__()
        self.inner, self.s = inner, s

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.inner(z / self.s)


def test_scale_free_penalty_ignores_the_latent_scale_and_the_absolute_one_does_not():
    dec = mlp_decoder()
    z = latents(64)
    values = {}
    for s in (1.0, 4.0):
        gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731 - same probes and pairs for both
        rel = flatness_penalty(Rescaled(dec, s), z * s, n_probes=200, n_trace_probes=200, scale_free=True,
                               generator=gen())
        ab = flatness_penalty(Rescaled(dec, s), z * s, n_probes=200, n_trace_probes=200, generator=gen())
        values[s] = (rel.penalty.item(), ab.penalty.item(), rel.relative.item())
    assert values[4.0][0] == pytest.approx(values[1.0][0], rel=1e-9)      # invariant to s
    assert values[4.0][1] == pytest.approx(values[1.0][1] / 4.0 ** 4, rel=1e-9)  # shrinks as s^-4
    assert values[1.0][0] == values[1.0][2] > 0


def test_scale_free_penalty_matches_exact_relative_value_and_has_no_scale_gradient():
    dec = mlp_decoder()
    z = latents(16)
    ex = exact_flatness(dec, z)
    exact_rel = (ex.per_sample.mean() / ex.c2 ** 2).item()
    est = flatness_penalty(dec, z, n_probes=4000, n_trace_probes=4000, mixup=False, scale_free=True,
                           generator=torch.Generator().manual_seed(0))
    assert est.penalty.item() == pytest.approx(exact_rel, rel=0.05)
    # Stretching the output by t scales G by t^2: the relative value does not change, so the
    # training term's d/dt at t = 1 is zero, which needs c^2 in the graph (detached, it is not).
    t = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    term = flatness_penalty(lambda q: t * dec(q), z, n_probes=8, scale_free=True,
                            generator=torch.Generator().manual_seed(1))
    term.penalty.backward()
    assert abs(t.grad.item()) < 1e-9 * term.penalty.item()
    t.grad = None
    detached = flatness_penalty(lambda q: t * dec(q), z, n_probes=8, generator=torch.Generator().manual_seed(1))
    (detached.penalty / detached.c2 ** 2).backward()
    assert abs(t.grad.item()) > 0.1 * detached.relative.item()
