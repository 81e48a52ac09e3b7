"""Neighbour graphs over latent points, the discrete stand-in for the manifold that shortest
paths run on: `knn_graph` over encoded points, `grid_graph` for 2-D latents; edge weight is the
decoded length of the straight segment; shortest paths by scipy.sparse.csgraph."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra

from appearance.geometry.manifold import DecoderManifold


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
