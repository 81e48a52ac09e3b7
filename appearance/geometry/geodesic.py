"""Geodesic curves: a graph path (or a straight line) lowered further by optimising the discrete
curve energy with L-BFGS (endpoints fixed), and the choice of the shortest candidate.

A measured geodesic is always a real curve with a real decoded length, so it is an upper bound
of the true geodesic distance; the best of several candidates is the tightest bound at hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from appearance.geometry.graph import LatentGraph
from appearance.geometry.manifold import DecoderManifold


def resample_polyline(curve: np.ndarray, n_points: int) -> np.ndarray:
    """n_points spaced evenly by latent arc length along the polyline (ends kept)."""
    curve = np.asarray(curve, dtype=np.float64)
    if len(curve) < 2:
        return np.repeat(curve[:1], n_points, axis=0)
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(curve[:1], n_points, axis=0)
    t = np.linspace(0.0, s[-1], n_points)
    return np.stack([np.interp(t, s, curve[:, k]) for k in range(curve.shape[1])], 1)


def curve_energy(manifold: DecoderManifold, inner: torch.Tensor, a: torch.Tensor,
                 b: torch.Tensor) -> torch.Tensor:
    """(n - 1) sum ||f(z_{i+1}) - f(z_i)||^2 for the curve a, inner..., b: minimised by the
    evenly paced discrete geodesic (its minimum is the squared length there)."""
    z = torch.cat([a[None], inner, b[None]])
    x = manifold.flat(z)
    return (len(z) - 1) * ((x[1:] - x[:-1]) ** 2).sum()


def refine_curve(manifold: DecoderManifold, curve: np.ndarray, n_points: int = 16,
                 iterations: int = 30) -> np.ndarray:
    """Shorten a latent curve: resample it to n_points, then L-BFGS on the discrete energy over
    the interior points, end points fixed. Returns the refined (n_points, d) curve."""
    init = resample_polyline(curve, n_points)
    if n_points < 3:
        return init
    z = torch.as_tensor(init, dtype=manifold.dtype, device=manifold.device)
    a, b = z[0], z[-1]
    inner = z[1:-1].clone().requires_grad_(True)
    opt = torch.optim.LBFGS([inner], lr=1.0, max_iter=iterations, history_size=10,
                            line_search_fn="strong_wolfe", tolerance_change=1e-12, tolerance_grad=1e-10)

    def closure():
        opt.zero_grad()
        e = curve_energy(manifold, inner, a, b)
        e.backward()
        return e

    with torch.enable_grad():
        opt.step(closure)
    out = torch.cat([a[None], inner.detach(), b[None]]).cpu().numpy().astype(np.float64)
    return out if np.isfinite(out).all() else init


def latent_length(curve: np.ndarray) -> float:
    curve = np.asarray(curve, dtype=np.float64)
    return float(np.linalg.norm(np.diff(curve, axis=0), axis=1).sum()) if len(curve) > 1 else 0.0


@dataclass
class Geodesic:
    """The shortest curve found between two latent points and what it was compared with."""

    curve: np.ndarray           # (n, d) latent polyline
    length: float               # decoded length of `curve`
    graph_length: float         # decoded length of the graph path alone
    straight_length: float      # decoded length of the straight segment
    source: str                 # which candidate won: "graph", "refined" or "straight"


def best_geodesic(manifold: DecoderManifold, graph: LatentGraph, path: np.ndarray, graph_length: float,
                  refine: bool = True, n_points: int = 16, iterations: int = 30, line_pieces: int = 64,
                  subdivide: int = 4) -> Geodesic:
    """Candidates: the graph path, the straight segment, and (refine) the shorter of the two after
    refine_curve. Lengths of the straight line use `line_pieces` pieces, a refined curve
    n_points x subdivide, graph edges their own subdivision."""
    pts = graph.nodes[path]
    a, b = pts[0], pts[-1]
    line = np.stack([a, b])
    straight = manifold.curve_length(line, subdivide=line_pieces)
    cands = [("graph", pts, graph_length), ("straight", line, straight)]
    if refine and len(pts) >= 2:
        start = pts if graph_length < straight else np.linspace(a, b, n_points)
        r = refine_curve(manifold, start, n_points, iterations)
        cands.append(("refined", r, manifold.curve_length(r, subdivide=subdivide)))
    name, curve, length = min(cands, key=lambda c: c[2])
    return Geodesic(curve, float(length), float(graph_length), float(straight), name)
