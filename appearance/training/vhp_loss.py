"""The VHP-VAE objective: KL upper bound F, reconstruction error C, Lagrangian F + lambda (C - kappa^2).

Training minimises F subject to E[C] <= kappa^2 (Klushyn et al. 2019); lambda comes from
appearance.training.lagrangian. One reparameterised z per datum estimates the outer expectation.
"""
from __future__ import annotations

import torch

from appearance.model.hierarchical_prior import HierarchicalPrior, diag_gaussian_log_prob


def kl_upper_bound(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                   prior: HierarchicalPrior, k: int) -> torch.Tensor:
    """Per-datum F = log q(z|x) - log (1/K) sum_k p(z|zeta_k) p(zeta_k) / q(zeta_k|z), shape (B,).

    In expectation over z ~ q(z|x) and zeta_k this upper-bounds KL(q(z|x) || p(z)).
    """
    return diag_gaussian_log_prob(z, mean, logvar) - prior.log_prob_bound(z, k)


def reconstruction_error(x_mean: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-datum C: mean squared error over pixels and channels, shape (B,)."""
    return ((x_mean - x) ** 2).flatten(1).mean(1)


def vhp_terms(vae, x: torch.Tensor, lam: float | torch.Tensor, kappa2: float,
              k: int | None = None) -> dict[str, torch.Tensor]:
    """Batch means of F and C, the Lagrangian to minimise, and the intermediates others reuse.

    `lam` is treated as a constant (the multiplier is updated outside gradient descent). The
    returned `z` is the reparameterised sample, kept in the graph so the flatness term can be
    built on it.
    """
    k = k or vae.cfg.importance_samples
    mean, logvar = vae.encode(x)
    z = vae.reparameterise(mean, logvar)
    x_mean = vae.decode(z)
    f = kl_upper_bound(z, mean, logvar, vae.prior, k).mean()
    c = reconstruction_error(x_mean, x).mean()
    lam = torch.as_tensor(lam, dtype=c.dtype).detach()
    return {
        "F": f,
        "C": c,
        "lagrangian": f + lam * (c - kappa2),
        "z": z,
        "mean": mean,
        "logvar": logvar,
        "x_mean": x_mean,
    }
