"""Latent geometry of a decoder: the pull-back metric and the distances it defines.

A decoder mean f: R^d -> R^D makes the latent space a Riemannian manifold with the metric
G(z) = J(z)^T J(z), J the Jacobian of the flattened output. FMVAE's claim is that its G is close
to c^2 I, so that Euclidean latent distance stands in for the geodesic distance. This module
measures that claim the way the FMVAE paper does (in the spirit of stochman's Manifold API):

- `DecoderManifold.metric`: G exactly, from d forward-mode JVPs per point (one per basis
  vector), batched and chunked so a 12288 x 128 Jacobian never has to exist for many points at
  once; `metric_summary` turns G into the magnification factor sqrt(det G) (through log-det),
  the condition number and the normalised MF (MF over its mean across the samples).
- `curve_length`: sum ||f(z_{i+1}) - f(z_i)|| of a discretised curve, optionally subdividing
  each latent segment.
- `LatentGraph` (`knn_graph` over encoded points, `grid_graph` for 2-D latents): edge weight is
  the decoded length of the straight segment; shortest paths by scipy.sparse.csgraph;
  `refine_curve` then lowers the discrete curve energy with L-BFGS (endpoints fixed).
- `geodesic_ratios`: the paper's Table 1 over point pairs, and `time_queries`: a Euclidean
  distance against a graph-geodesic query.

A measured geodesic is always a real curve with a real decoded length, so it is an upper bound
of the true geodesic distance; the best of several candidates is the tightest bound at hand.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra
from torch.func import jvp

Decode = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------------------------
# the manifold

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
        with tqdm(total=len(z), desc=desc, unit="pt", disable=not progress, leave=False) as bar:
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
        with tqdm(total=len(a), desc=desc, unit="edge", disable=not progress, leave=False) as bar:
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


# ---------------------------------------------------------------------------------------------
# summaries of the metric

@dataclass
class MetricSummary:
    """Per sample: eigenvalues of G (ascending), log MF = 0.5 log det G, condition number."""

    eigenvalues: np.ndarray     # (B, d)
    log_mf: np.ndarray          # (B,)
    condition: np.ndarray       # (B,) lambda_max / lambda_min (inf where G is singular)

    @property
    def normalised_mf(self) -> np.ndarray:
        """MF_i / mean_j MF_j, computed from log MF (MF itself under- or overflows in 128-D)."""
        return normalised_mf(self.log_mf)

    @property
    def normalised_mf_per_dim(self) -> np.ndarray:
        """MF^(1/d) normalised by its mean: the geometric-mean singular value of J. In 128-D MF
        spans tens of decades, the mean of MF is set by the largest few samples and the linear
        spread of MF / mean(MF) collapses towards 0 for every model; this one stays comparable."""
        return normalised_mf(self.log_mf / self.eigenvalues.shape[1])

    @property
    def c2(self) -> float:
        """mean tr(G) / d: the scale FMVAE pulls G towards."""
        return float(self.eigenvalues.sum(1).mean() / self.eigenvalues.shape[1])


def metric_summary(metric: torch.Tensor | np.ndarray) -> MetricSummary:
    g = np.asarray(metric, dtype=np.float64)
    g = 0.5 * (g + np.swapaxes(g, 1, 2))
    ev = np.linalg.eigvalsh(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_mf = 0.5 * np.where(ev > 0, np.log(np.where(ev > 0, ev, 1.0)), -np.inf).sum(1)
        cond = np.where(ev[:, 0] > 0, ev[:, -1] / ev[:, 0], np.inf)
    return MetricSummary(ev, log_mf, cond)


def magnification_factor(metric) -> np.ndarray:
    """sqrt(det G) per sample, through the log-determinant."""
    return np.exp(metric_summary(metric).log_mf)


def condition_number(metric) -> np.ndarray:
    return metric_summary(metric).condition


def normalised_mf(log_mf: np.ndarray) -> np.ndarray:
    log_mf = np.asarray(log_mf, dtype=np.float64)
    finite = np.isfinite(log_mf)
    if not finite.any():
        return np.full_like(log_mf, np.nan)
    m = log_mf[finite].max()
    log_mean = m + np.log(np.mean(np.exp(np.where(finite, log_mf, -np.inf) - m)))
    return np.exp(log_mf - log_mean)


def describe(values: np.ndarray) -> dict[str, float]:
    """Median, quartiles, IQR, mean and sd of the finite values (count of the others)."""
    v = np.asarray(values, dtype=np.float64)
    ok = v[np.isfinite(v)]
    if not len(ok):
        return {"n": 0, "non_finite": int(len(v))}
    q1, med, q3 = np.percentile(ok, [25, 50, 75])
    return {"n": int(len(ok)), "non_finite": int(len(v) - len(ok)), "median": float(med), "q1": float(q1),
            "q3": float(q3), "iqr": float(q3 - q1), "mean": float(ok.mean()),
            "sd": float(ok.std(ddof=1)) if len(ok) > 1 else 0.0, "min": float(ok.min()), "max": float(ok.max())}


# ---------------------------------------------------------------------------------------------
# graphs and geodesics

@dataclass
class LatentGraph:
    """Latent points joined by straight segments weighted with their decoded length."""

    nodes: np.ndarray            # (N, d) latent coordinates
    weights: sp.csr_matrix       # (N, N) symmetric, zero = no edge
    images: torch.Tensor | None = None   # decoded nodes, (N, D), kept to attach new points cheaply
    shape: tuple[int, ...] | None = None  # grid graphs: nodes reshape to this grid

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        return int(self.weights.nnz // 2)

    def distances(self, sources: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Geodesic distances (S, N) from each source and the predecessor arrays for paths."""
        return dijkstra(self.weights, directed=False, indices=np.asarray(sources, dtype=np.int64),
                        return_predecessors=True)

    def shortest_path(self, i: int, j: int) -> tuple[float, np.ndarray]:
        """(length, node indices from i to j); length inf and an empty path when unreachable."""
        dist, pred = self.distances([i])
        return float(dist[0, j]), extract_path(pred[0], i, j)

    def with_points(self, manifold: DecoderManifold, points, k: int = 8,
                    subdivide: int = 4) -> tuple["LatentGraph", np.ndarray]:
        """A copy with `points` added as nodes, each joined to its k nearest nodes (latent
        Euclidean); returns the graph and the new nodes' indices."""
        from scipy.spatial import cKDTree

        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.nodes.shape[1])
        n = len(self)
        k = min(k, n)
        _, nbr = cKDTree(self.nodes).query(pts, k=k)
        nbr = np.asarray(nbr).reshape(len(pts), k)
        src = np.repeat(np.arange(n, n + len(pts)), k)
        dst = nbr.reshape(-1)
        new_images = manifold.decode(pts)
        imgs = None if self.images is None else torch.cat([self.images, new_images])
        w = manifold.segment_lengths(np.repeat(pts, k, axis=0), self.nodes[dst], subdivide, images=imgs,
                                     index_a=None if imgs is None else src,
                                     index_b=None if imgs is None else dst)
        m = n + len(pts)
        extra = sp.coo_matrix((np.maximum(w, 1e-300), (src, dst)), shape=(m, m))
        old = sp.coo_matrix(self.weights)
        base = sp.coo_matrix((old.data, (old.row, old.col)), shape=(m, m))
        weights = (base + extra + extra.T).tocsr()
        return LatentGraph(np.concatenate([self.nodes, pts]), weights, imgs), np.arange(n, m)


def extract_path(predecessors: np.ndarray, i: int, j: int) -> np.ndarray:
    """Node indices i .. j from a Dijkstra predecessor array (empty if j is unreachable)."""
    if i == j:
        return np.array([i])
    path = [j]
    while path[-1] != i:
        p = predecessors[path[-1]]
        if p < 0:
            return np.zeros(0, dtype=np.int64)
        path.append(int(p))
    return np.array(path[::-1], dtype=np.int64)


def _build(manifold: DecoderManifold, nodes: np.ndarray, edges: np.ndarray, subdivide: int,
           progress: bool, shape: tuple[int, ...] | None = None, desc: str = "graph edges") -> LatentGraph:
    images = manifold.decode(nodes)
    w = manifold.segment_lengths(nodes[edges[:, 0]], nodes[edges[:, 1]], subdivide, images=images,
                                 index_a=edges[:, 0], index_b=edges[:, 1], progress=progress, desc=desc)
    n = len(nodes)
    # csgraph reads an explicit zero as "no edge": keep coincident decodes connected.
    w = np.maximum(w, 1e-300)
    m = sp.coo_matrix((w, (edges[:, 0], edges[:, 1])), shape=(n, n))
    return LatentGraph(nodes, (m + m.T).tocsr(), images, shape)


def knn_graph(manifold: DecoderManifold, points, k: int = 10, subdivide: int = 4,
              progress: bool = False, desc: str = "graph edges") -> LatentGraph:
    """Graph over `points` (N, d): each joined to its k nearest neighbours (latent Euclidean),
    the union made undirected, edge weight = decoded length of the segment."""
    from scipy.spatial import cKDTree

    nodes = np.asarray(points, dtype=np.float64)
    k = min(k, len(nodes) - 1)
    _, nbr = cKDTree(nodes).query(nodes, k=k + 1)
    src = np.repeat(np.arange(len(nodes)), k)
    dst = nbr[:, 1:].reshape(-1)
    pairs = np.unique(np.sort(np.stack([src, dst], 1), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return _build(manifold, nodes, pairs, subdivide, progress, desc=desc)


def grid_offsets(radius: int) -> np.ndarray:
    """Half of the primitive grid steps (dx, dy) with max(|dx|, |dy|) <= radius: 1 gives the 8
    neighbours, 2 adds the knight moves (16); a larger stencil resolves more directions."""
    out = []
    for dx in range(0, radius + 1):
        for dy in range(-radius, radius + 1):
            if (dx, dy) == (0, 0) or (dx == 0 and dy < 0) or math.gcd(dx, abs(dy)) != 1:
                continue
            out.append((dx, dy))
    return np.array(out, dtype=np.int64)


def grid_graph(manifold: DecoderManifold, lo: Sequence[float], hi: Sequence[float], n: int = 64,
               radius: int = 2, subdivide: int = 4, progress: bool = False,
               desc: str = "graph edges") -> LatentGraph:
    """n x n grid over the box [lo, hi] of a 2-D latent space; node (i, j) sits at
    (x_i, y_j), index i n + j. Edges: the stencil of grid_offsets(radius)."""
    if manifold.latent_dim != 2:
        raise ValueError(f"grid graphs are for 2-D latents, this one is {manifold.latent_dim}-D")
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    nodes = np.stack([gx.ravel(), gy.ravel()], 1)
    idx = np.arange(n * n).reshape(n, n)
    edges = []
    for dx, dy in grid_offsets(radius):
        i0, i1 = 0, n - dx
        j0, j1 = max(0, -dy), min(n, n - dy)
        a = idx[i0:i1, j0:j1]
        b = idx[i0 + dx:i1 + dx, j0 + dy:j1 + dy]
        edges.append(np.stack([a.ravel(), b.ravel()], 1))
    return _build(manifold, nodes, np.concatenate(edges), subdivide, progress, shape=(n, n), desc=desc)


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


@dataclass
class RatioReport:
    """The paper's Table 1 columns over point pairs, with per-pair values kept."""

    riemannian: np.ndarray       # decoded length of the straight line / geodesic length
    latent: np.ndarray           # latent distance / latent length of the geodesic
    graph_riemannian: np.ndarray  # the same with the raw graph path as the geodesic (diagnostic)
    winners: list[str]
    geodesics: list[Geodesic]

    def summary(self) -> dict:
        def ms(v):
            v = np.asarray(v, dtype=np.float64)
            v = v[np.isfinite(v)]
            return {"mean": float(v.mean()) if len(v) else float("nan"),
                    "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}

        return {"riemannian": ms(self.riemannian), "latent": ms(self.latent),
                "graph_only_riemannian": ms(self.graph_riemannian),
                "winner_counts": {w: self.winners.count(w) for w in ("graph", "refined", "straight")}}


def geodesic_ratios(manifold: DecoderManifold, graph: LatentGraph, pairs: np.ndarray, refine: bool = True,
                    n_points: int = 16, iterations: int = 30, line_pieces: int = 64, subdivide: int = 4,
                    progress: bool = False, desc: str = "geodesics") -> RatioReport:
    """Table 1 over node pairs (P, 2) of `graph`: one Dijkstra per distinct source."""
    from tqdm import tqdm

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    sources = np.unique(pairs[:, 0])
    dist, pred = graph.distances(sources)
    row = {s: r for r, s in enumerate(sources)}
    riem, lat, graph_r, winners, geos = [], [], [], [], []
    for i, j in tqdm(pairs, desc=desc, unit="pair", disable=not progress, leave=False):
        r = row[i]
        path = extract_path(pred[r], int(i), int(j))
        if not len(path) or not np.isfinite(dist[r, j]):
            riem.append(np.nan), lat.append(np.nan), graph_r.append(np.nan), winners.append("none")
            continue
        g = best_geodesic(manifold, graph, path, float(dist[r, j]), refine, n_points, iterations,
                          line_pieces, subdivide)
        z_dist = float(np.linalg.norm(graph.nodes[j] - graph.nodes[i]))
        riem.append(g.straight_length / g.length if g.length > 0 else np.nan)
        lat.append(z_dist / latent_length(g.curve) if latent_length(g.curve) > 0 else np.nan)
        graph_r.append(g.straight_length / g.graph_length if g.graph_length > 0 else np.nan)
        winners.append(g.source)
        geos.append(g)
    return RatioReport(np.array(riem), np.array(lat), np.array(graph_r), winners, geos)


# ---------------------------------------------------------------------------------------------
# query timing

def time_queries(manifold: DecoderManifold, graph: LatentGraph, points: np.ndarray, n_queries: int = 20,
                 k: int = 8, subdivide: int = 4, euclid_repeats: int = 20000,
                 seed: int = 0) -> dict[str, float]:
    """Seconds per query, measured in one run: a Euclidean distance between two latent codes (one
    NumPy call per query; also per distance within one vectorised batch), and a geodesic between
    two new codes (attach both to the graph with decoded edges, then Dijkstra from one), plus
    Dijkstra alone between existing nodes."""
    rng = np.random.default_rng(seed)
    pts = np.asarray(points, dtype=np.float64)
    pairs = rng.integers(0, len(pts), (n_queries, 2))
    a32 = pts.astype(np.float32)

    t0 = time.perf_counter()
    acc = 0.0
    for q in range(euclid_repeats):
        i, j = pairs[q % n_queries]
        acc += float(np.linalg.norm(a32[i] - a32[j]))
    euclid = (time.perf_counter() - t0) / euclid_repeats
    many = rng.integers(0, len(pts), (min(euclid_repeats, 100_000), 2))
    t0 = time.perf_counter()
    acc += float(np.linalg.norm(a32[many[:, 0]] - a32[many[:, 1]], axis=1).sum())
    euclid_batched = (time.perf_counter() - t0) / len(many)

    t0 = time.perf_counter()
    for i, j in pairs:
        g, (u, v) = graph.with_points(manifold, pts[[i, j]], k=k, subdivide=subdivide)
        d = dijkstra(g.weights, directed=False, indices=int(u))
        acc += float(d[v]) if np.isfinite(d[v]) else 0.0
    geo = (time.perf_counter() - t0) / n_queries

    nodes = rng.integers(0, len(graph), (n_queries, 2))
    t0 = time.perf_counter()
    for i, j in nodes:
        d = dijkstra(graph.weights, directed=False, indices=int(i))
        acc += float(d[j]) if np.isfinite(d[j]) else 0.0
    dj = (time.perf_counter() - t0) / n_queries
    return {"euclidean_s": euclid, "euclidean_batched_s": euclid_batched, "geodesic_query_s": geo,
            "dijkstra_only_s": dj,
            "ratio": geo / euclid, "ratio_dijkstra_only": dj / euclid, "queries": int(n_queries),
            "graph_nodes": len(graph), "graph_edges": graph.n_edges}
