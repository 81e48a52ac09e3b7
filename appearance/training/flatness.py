"""The FMVAE flatness penalty E || G(z~) - c^2 I ||_F^2 (Chen et al. ICML 2020), without forming J.

G = J^T J is the pull-back metric of the decoder mean (J: flattened output x latent). Points z~
are latent mixups that reach a0 past the segment between two encoded samples, so the manifold's
edge is regularised too. ||G - c^2 I||_F^2 is estimated with Rademacher probes v:
E ||J^T (J v) - c^2 v||^2, one forward-mode JVP and one VJP per probe. c^2 = mean tr(G)/N_z is
estimated with *independent* probes (tr G = E ||J u||^2); reusing v would correlate c^2 with the
residual it is subtracted from.

c^2 is detached by default. At the exact c^2 (the minimiser over c^2 of the batch sum of
||G_i - c^2 I||^2) the derivative of the penalty with respect to c^2 is zero, so its chain-rule
path adds nothing in expectation but noise from the trace probes; the gradient still pulls
every G towards the batch's common scale. Note the penalty grows as |J|^4: a model can lower it
by spreading its latents (shrinking J), so log c^2 and the latent spread next to it. The
`relative` value (penalty / c^4, detached) is scale-free and the one to compare across runs.
`scale_free=True` trains on that relative value instead, with c^2 kept in the graph: the loss is
then invariant to the latent scale, so it can only be lowered by making G isotropic, never by
spreading the latents (a variant of the paper's term, not its default).
With a ReLU decoder J is piecewise constant in z and in the biases, so the penalty's gradient
reaches the decoder's weights only, not the encoder or the biases.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import nn
from torch.func import jacfwd, jvp, vjp, vmap


class FlatnessResult(NamedTuple):
    penalty: torch.Tensor   # scalar in the graph: batch mean of the probe estimate
    c2: torch.Tensor        # scalar, detached: the scale the metric is pulled towards
    relative: torch.Tensor  # scalar, detached: penalty / c2^2, invariant to the latent scale


class ExactFlatness(NamedTuple):
    per_sample: torch.Tensor  # (B,) ||G_i - c^2 I||_F^2
    c2: torch.Tensor          # scalar: mean_i tr(G_i) / N_z
    metric: torch.Tensor      # (B, N_z, N_z) the metric tensors G_i


def mixup_coefficients(n: int, a0: float = 0.2, generator: torch.Generator | None = None,
                       dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """a ~ U(-a0, 1 + a0), one per mixed pair."""
    u = torch.rand(n, generator=generator, dtype=dtype, device=device)
    return -a0 + (1.0 + 2.0 * a0) * u


def latent_mixup(z: torch.Tensor, a0: float = 0.2, generator: torch.Generator | None = None) -> torch.Tensor:
    """z~_i = (1 - a_i) z_i + a_i z_pi(i) over a random pairing pi of the batch (differentiable in z)."""
    perm = torch.randperm(z.shape[0], generator=generator, device=z.device)
    a = mixup_coefficients(z.shape[0], a0, generator, z.dtype, z.device).unsqueeze(1)
    return (1.0 - a) * z + a * z[perm]


def rademacher(shape: tuple[int, ...], generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Entries +1 or -1 with equal probability: E[v v^T] = I, ||v||^2 = N_z exactly."""
    return torch.randint(0, 2, shape, generator=generator, device=device).to(dtype) * 2 - 1


def _flat(decoder: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: decoder(z).flatten(1)


def _repeat(z: torch.Tensor, n: int) -> torch.Tensor:
    """Stack n copies of the batch so n probes per point run as one batched JVP/VJP."""
    return z.repeat(n, 1)


def trace_estimate(decoder: nn.Module, z: torch.Tensor, n_probes: int = 1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-point Hutchinson estimate of tr G(z) = E ||J u||^2, shape (B,)."""
    b, d = z.shape
    u = rademacher((n_probes * b, d), generator, z.dtype, z.device)
    _, ju = jvp(_flat(decoder), (_repeat(z, n_probes),), (u,))
    return (ju ** 2).sum(1).view(n_probes, b).mean(0)


def probe_flatness(decoder: nn.Module, z: torch.Tensor, c2: torch.Tensor | float, n_probes: int = 1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-point unbiased estimate of ||G(z) - c2 I||_F^2 for a given c2, shape (B,).

    Differentiable with respect to the decoder's parameters and z (torch.func transforms
    compose with ordinary autograd), so it can be added to a training loss.
    """
    b, d = z.shape
    f = _flat(decoder)
    zr = _repeat(z, n_probes)
    v = rademacher((n_probes * b, d), generator, z.dtype, z.device)
    _, jv = jvp(f, (zr,), (v,))
    _, pullback = vjp(f, zr)
    (jtjv,) = pullback(jv)
    residual = jtjv - c2 * v
    return (residual ** 2).sum(1).view(n_probes, b).mean(0)


def flatness_penalty(decoder: nn.Module, z: torch.Tensor, n_probes: int = 1, n_trace_probes: int = 1,
                     a0: float = 0.2, mixup: bool = True, detach_c2: bool = True,
                     scale_free: bool = False,
                     generator: torch.Generator | None = None) -> FlatnessResult:
    """The training term: mixup of z, c^2 from independent probes, then the probe penalty.

    `z` should be the reparameterised samples of the batch; pass z.detach() to keep the
    penalty from moving the encoder. `scale_free`: the penalty is divided by c^4 (c^2 in the
    graph, whatever `detach_c2` says), so the returned `penalty` equals `relative`.
    """
    z_tilde = latent_mixup(z, a0, generator) if mixup else z
    if detach_c2 and not scale_free:
        with torch.no_grad():
            c2 = trace_estimate(decoder, z_tilde.detach(), n_trace_probes, generator).mean() / z.shape[1]
    else:
        c2 = trace_estimate(decoder, z_tilde, n_trace_probes, generator).mean() / z.shape[1]
    penalty = probe_flatness(decoder, z_tilde, c2, n_probes, generator).mean()
    relative = penalty / c2.square().clamp_min(1e-30)
    return FlatnessResult(relative if scale_free else penalty, c2.detach(), relative.detach())


def exact_flatness(decoder: nn.Module, z: torch.Tensor) -> ExactFlatness:
    """||G - c^2 I||_F^2 from full Jacobians (B x D x N_z memory): for tests and analysis only."""
    def single(zi: torch.Tensor) -> torch.Tensor:
        return decoder(zi.unsqueeze(0)).flatten()

    jac = vmap(jacfwd(single))(z)                      # (B, D, N_z)
    metric = jac.transpose(1, 2) @ jac                 # (B, N_z, N_z)
    nz = z.shape[1]
    c2 = torch.diagonal(metric, dim1=1, dim2=2).sum(1).mean() / nz
    eye = torch.eye(nz, dtype=z.dtype, device=z.device)
    per_sample = ((metric - c2 * eye) ** 2).sum((1, 2))
    return ExactFlatness(per_sample, c2, metric)
