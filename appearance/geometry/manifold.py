"""Latent space of a decoder as a Riemannian manifold: the pull-back metric and curve lengths.

A decoder mean f: R^d -> R^D makes the latent space a Riemannian manifold with the metric
G(z) = J(z)^T J(z), J the Jacobian of the flattened output. FMVAE's claim is that its G is close
to c^2 I, so that Euclidean latent distance stands in for the geodesic distance; the modules of
this package measure that claim the way the FMVAE paper does, split as stochman splits its
Manifold API. This one holds what every other needs, the manifold itself:

- `DecoderManifold.metric`: G exactly, from d forward-mode JVPs (torch.func) per point (one per
  basis vector), batched and chunked so a 12288 x 128 Jacobian never has to exist for many
  points at once;
- `curve_length`: sum ||f(z_{i+1}) - f(z_i)|| of a discretised curve, optionally subdividing
  each latent segment; `segment_lengths`: the same for many straight segments at once.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.func import jvp

Decode = Callable[[torch.Tensor], torch.Tensor]


class DecoderManifold:
    """The latent space of `decode` with its pull-back metric.

    `rows` bounds the work held in memory at once: one row is one decoded point (or one
    Jacobian-vector product), so peak memory is about rows x (decoder activations + 2 D).
    """

    def __init__(self, decode: Decode, latent_dim: int, rows: int = 256,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
        self._decode = decode
        self.latent_dim = int(latent_dim)
        self.rows = max(1, int(rows))
        self.dtype = dtype
        self.device = torch.device(device)

    def _tensor(self, z) -> torch.Tensor:
        return torch.as_tensor(z, dtype=self.dtype, device=self.device)

    def flat(self, z: torch.Tensor) -> torch.Tensor:
        """f(z) flattened to (B, D)."""
        return self._decode(z).reshape(z.shape[0], -1)

    @torch.no_grad()
    def decode(self, z) -> torch.Tensor:
        """f(z) flattened, (B, D), in chunks of `rows`."""
        z = self._tensor(z).reshape(-1, self.latent_dim)
        return torch.cat([self.flat(z[i:i + self.rows]) for i in range(0, len(z), self.rows)]) \
            if len(z) else torch.zeros(0, 0, dtype=self.dtype)

    def jacobian(self, z) -> torch.Tensor:
        """J(z), (B, D, d), by one batched JVP per basis vector. Memory B D d: small B only."""
        z = self._tensor(z).reshape(-1, self.latent_dim)
        return torch.cat([self._jacobian_rows(z[i:i + self._points_per_chunk()])
                          for i in range(0, len(z), self._points_per_chunk())]).transpose(1, 2)

    def _points_per_chunk(self) -> int:
        return max(1, self.rows // self.latent_dim)

    def _jacobian_rows(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d, D): row k of point b is J(z_b) e_k; basis vectors in chunks of `rows`."""
        b, d = z.shape
        eye = torch.eye(d, dtype=z.dtype, device=z.device)
        out = []
        for k0 in range(0, d, self.rows):
            basis = eye[k0:k0 + self.rows]                      # (m, d)
            m = len(basis)
            zr = z.repeat_interleave(m, dim=0)                  # point-major: (b m, d)
            tangents = basis.repeat(b, 1)
            with torch.no_grad():
                _, jv = jvp(self.flat, (zr,), (tangents,))
            out.append(jv.view(b, m, -1))
        return torch.cat(out, dim=1)

    def metric(self, z, progress: bool = False, desc: str = "metric") -> torch.Tensor:
        """G(z) = J^T J, (B, d, d) in float64, exact (no probes), chunked over points."""
        from tqdm import tqdm

        z = self._tensor(z).reshape(-1, self.latent_dim)
        step = self._points_per_chunk()
        out = torch.empty(len(z), self.latent_dim, self.latent_dim, dtype=torch.float64)
        with tqdm(total=len(z), desc=desc, unit="pt", disable=None if progress else True, leave=False) as bar:
            for i in range(0, len(z), step):
                jt = self._jacobian_rows(z[i:i + step]).to(torch.float64)   # (b, d, D)
                out[i:i + len(jt)] = (jt @ jt.transpose(1, 2)).cpu()
                bar.update(len(jt))
        return out

    @torch.no_grad()
    def curve_length(self, curve, subdivide: int = 1) -> float:
        """Decoded length of the polyline through the latent points `curve` (n, d):
        sum ||f(z_{i+1}) - f(z_i)||, each latent segment cut into `subdivide` pieces."""
        pts = subdivide_polyline(self._tensor(curve).reshape(-1, self.latent_dim), subdivide)
        if len(pts) < 2:
            return 0.0
        total = 0.0
        prev = None
        for i in range(0, len(pts), self.rows):
            x = self.flat(pts[i:i + self.rows]).to(torch.float64)
            if prev is not None:
                x = torch.cat([prev, x])
            total += float((x[1:] - x[:-1]).norm(dim=1).sum())
            prev = x[-1:]
        return total

    @torch.no_grad()
    def segment_lengths(self, a, b, subdivide: int = 4, images: torch.Tensor | None = None,
                        index_a: np.ndarray | None = None, index_b: np.ndarray | None = None,
                        progress: bool = False, desc: str = "edges") -> np.ndarray:
        """Decoded lengths of the straight segments a_e -> b_e, (E,), each cut into `subdivide`
        pieces. Graph nodes are decoded once, not per edge: pass their decodes `images` and the
        rows index_a / index_b that hold f(a_e) / f(b_e)."""
        from tqdm import tqdm

        a = self._tensor(a).reshape(-1, self.latent_dim)
        b = self._tensor(b).reshape(-1, self.latent_dim)
        s = max(1, int(subdivide))
        out = np.empty(len(a), np.float64)
        per = max(1, self.rows // max(1, s - 1)) if s > 1 else self.rows
        t = torch.linspace(0, 1, s + 1, dtype=self.dtype, device=self.device)[1:-1]     # interior
        with tqdm(total=len(a), desc=desc, unit="edge", disable=None if progress else True, leave=False) as bar:
            for i in range(0, len(a), per):
                za, zb = a[i:i + per], b[i:i + per]
                xa = self.flat(za) if index_a is None else images[torch.as_tensor(index_a[i:i + per])]
                xb = self.flat(zb) if index_b is None else images[torch.as_tensor(index_b[i:i + per])]
                chain = [xa.to(torch.float64)]
                if s > 1:
                    zi = za[:, None] + t[None, :, None] * (zb - za)[:, None]       # (e, s-1, d)
                    xi = self.flat(zi.reshape(-1, self.latent_dim)).to(torch.float64)
                    chain += list(xi.view(len(za), s - 1, -1).unbind(1))
                chain.append(xb.to(torch.float64))
                x = torch.stack(chain, 1)                                          # (e, s+1, D)
                out[i:i + len(za)] = (x[:, 1:] - x[:, :-1]).norm(dim=2).sum(1).cpu().numpy()
                bar.update(len(za))
        return out


def subdivide_polyline(curve: torch.Tensor, pieces: int) -> torch.Tensor:
    """The polyline's vertices with pieces - 1 evenly spaced points inserted into every segment."""
    if pieces <= 1 or len(curve) < 2:
        return curve
    t = torch.linspace(0, 1, pieces + 1, dtype=curve.dtype, device=curve.device)[:-1]
    a, b = curve[:-1], curve[1:]
    inner = a[:, None] + t[None, :, None] * (b - a)[:, None]                       # (n-1, p, d)
    return torch.cat([inner.reshape(-1, curve.shape[1]), curve[-1:]])


def vae_manifold(model: torch.nn.Module, rows: int = 256) -> DecoderManifold:
    """The decoder of a VAE (appearance.model.vae.VAE) as a manifold; the model is put in eval mode."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return DecoderManifold(model.decode, model.cfg.latent_dim, rows=rows)
