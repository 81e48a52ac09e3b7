"""The VHP hierarchical prior p(z) = integral p(z|zeta) N(zeta; 0, I) dzeta (Klushyn et al. 2019).

p(z) has no closed form, so the objective uses an importance-weighted lower bound on log p(z)
with an auxiliary posterior q(zeta|z); both conditionals are diagonal Gaussians from small MLPs.
"""
from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar)).sum(-1)


def standard_normal_log_prob(x: torch.Tensor) -> torch.Tensor:
    """log N(x; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + x ** 2).sum(-1)


class GaussianMLP(nn.Module):
    """x -> (mean, log-variance) of a diagonal Gaussian, through hidden ReLU layers."""

    def __init__(self, in_dim: int, out_dim: int, hidden: tuple[int, ...] = (512, 512)):
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.body = nn.Sequential(*layers)
        self.mean = nn.Linear(d, out_dim)
        self.logvar = nn.Linear(d, out_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.logvar(h)


class HierarchicalPrior(nn.Module):
    """p(z|zeta) and q(zeta|z) with N(zeta; 0, I) on top; zeta has `zeta_dim` dimensions."""

    def __init__(self, latent_dim: int, zeta_dim: int | None = None, hidden: tuple[int, ...] = (512, 512)):
        super().__init__()
        self.latent_dim = latent_dim
        self.zeta_dim = zeta_dim or latent_dim
        self.conditional = GaussianMLP(self.zeta_dim, latent_dim, hidden)  # p(z|zeta)
        self.posterior = GaussianMLP(latent_dim, self.zeta_dim, hidden)    # q(zeta|z)

    def log_prob_bound(self, z: torch.Tensor, k: int = 8) -> torch.Tensor:
        """Importance-weighted estimate of log p(z), one value per row of z (shape (B,)).

        log (1/K) sum_k p(z|zeta_k) p(zeta_k) / q(zeta_k|z), zeta_k ~ q(zeta|z) reparameterised.
        Its expectation is a lower bound on log p(z) that tightens as K grows.
        """
        if k < 1:
            raise ValueError(f"need at least one importance sample, got k={k}")
        q_mean, q_logvar = self.posterior(z)                                   # (B, Dz)
        eps = torch.randn((k,) + tuple(q_mean.shape), dtype=z.dtype, device=z.device)
        zeta = q_mean + torch.exp(0.5 * q_logvar) * eps                        # (K, B, Dz)
        p_mean, p_logvar = self.conditional(zeta)                              # (K, B, Nz)
        log_w = (diag_gaussian_log_prob(z, p_mean, p_logvar)
                 + standard_normal_log_prob(zeta)
                 - diag_gaussian_log_prob(zeta, q_mean, q_logvar))             # (K, B)
        return torch.logsumexp(log_w, dim=0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Draw n latents from the prior (ancestral sampling through zeta)."""
        w = self.posterior.mean.weight
        zeta = torch.randn(n, self.zeta_dim, dtype=w.dtype, device=w.device)
        mean, logvar = self.conditional(zeta)
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
