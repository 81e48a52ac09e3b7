"""The FMVAE paper's Table 1 and its speed claim, the experiments built on the other modules:
`geodesic_ratios` over point pairs (straight-line decoded length over geodesic length, latent
distance over the geodesic's latent length) and `time_queries`, a Euclidean distance against a
graph-geodesic query."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import dijkstra

from appearance.geometry.geodesic import Geodesic, best_geodesic, latent_length
from appearance.geometry.graph import LatentGraph, extract_path
from appearance.geometry.manifold import DecoderManifold


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
    for i, j in tqdm(pairs, desc=desc, unit="pair", disable=None if progress else True, leave=False):
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
