"""The latent geometry report of one VAE checkpoint on a set of crops (what `track geometry` runs).

Steps, all seeded:
1. encode up to `max_crops` random crops to posterior means Z (the tracker's descriptors);
2. metric samples: points on straight segments between random pairs of Z (a ~ U(0, 1)), so
   both the data and the space between data are measured; G exact at each; condition number,
   normalised MF, c^2 = mean tr(G)/d and the scale-free flatness mean ||G - c^2 I||_F^2 / c^4;
3. a graph: d > 2, a kNN graph over `nodes` of the Z; d = 2, a grid over the box of Z (10%
   margin) with the points attached to it; edge weight = decoded length of the segment;
4. the paper's Table 1 over `pairs` random pairs of encoded points: straight-line decoded length
   over geodesic length ("Riemannian"), latent distance over the geodesic's latent length;
5. one run timing a Euclidean distance against a graph-geodesic query;
6. for 2-D latents, what the figures need: log MF over the grid, distance fields from a few
   encoded points (equidistance contours), and some geodesics with their straight lines.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from appearance.geometry.graph import LatentGraph, grid_graph, knn_graph
from appearance.geometry.manifold import vae_manifold
from appearance.geometry.metrics import describe, metric_summary
from appearance.geometry.table1 import geodesic_ratios, time_queries
from appearance.model.checkpoint import load_checkpoint
from appearance.model.kinds import CLASSIFIER_KINDS
from appearance.model.network import network_from_checkpoint
from tools.io.errors import InputError, first_line


@dataclass
class GeometryOptions:
    samples: int = 300          # metric samples
    pairs: int = 100            # Table 1 pairs
    nodes: int = 1000           # kNN graph nodes (d > 2)
    k: int = 10                 # kNN graph neighbours; points attach to min(k, 8) grid nodes
    grid: int = 64              # grid side (d = 2)
    radius: int = 2             # grid stencil (2: 16 neighbours)
    subdivide: int = 4          # pieces per graph edge
    line_pieces: int = 64       # pieces of a straight line
    refine: bool = True
    refine_points: int = 16
    refine_iterations: int = 30
    queries: int = 20
    max_crops: int = 5000
    rows: int = 256             # decoder rows in memory at once
    seed: int = 0
    progress: bool = True

    def check(self) -> None:
        checks = [(self.samples >= 2, f"--samples must be at least 2, got {self.samples}"),
                  (self.pairs >= 1, f"--pairs must be at least 1, got {self.pairs}"),
                  (self.nodes >= 3, f"--nodes must be at least 3, got {self.nodes}"),
                  (self.k >= 1, f"--k must be at least 1, got {self.k}"),
                  (self.grid >= 3, f"--grid must be at least 3, got {self.grid}"),
                  (self.radius >= 1, f"--radius must be at least 1, got {self.radius}"),
                  (self.subdivide >= 1, f"--subdivide must be at least 1, got {self.subdivide}"),
                  (self.refine_points >= 3, f"--refine-points must be at least 3, got {self.refine_points}"),
                  (self.refine_iterations >= 1, f"--refine-iterations must be at least 1, got {self.refine_iterations}"),
                  (self.queries >= 1, f"--queries must be at least 1, got {self.queries}"),
                  (self.max_crops >= 2, f"--max-crops must be at least 2, got {self.max_crops}"),
                  (self.seed >= 0, f"--seed must be non-negative, got {self.seed}")]
        for ok, message in checks:
            if not ok:
                raise InputError(None, message)


@dataclass
class Plane:
    """What the 2-D figures draw for one model."""

    lo: np.ndarray
    hi: np.ndarray
    grid: int
    log10_mf: np.ndarray                  # (grid, grid) log10 of the normalised MF (MF / mean MF over
                                          # the metric samples), index [i, j] at (x_i, y_j)
    points: np.ndarray                    # encoded points shown
    colour: np.ndarray | None             # per point (pendulum angle), or None
    sources: np.ndarray                   # (S, 2) contour centres
    fields: np.ndarray                    # (S, grid, grid) geodesic distance from each source
    levels: np.ndarray                    # contour levels (shared by the sources)
    curves: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (geodesic, line)


@dataclass
class ModelGeometry:
    label: str
    report: dict[str, Any]
    condition: np.ndarray
    normalised_mf: np.ndarray
    plane: Plane | None = None


def load_vae(checkpoint: str | Path):
    """(model, payload) for a VAE-family checkpoint; a classifier (supervised, tracklet) has no decoder."""
    payload = load_checkpoint(checkpoint)
    if payload["kind"] in CLASSIFIER_KINDS:
        raise InputError(checkpoint, f"is a {payload['kind']} checkpoint: it has no decoder, so no latent "
                                     "geometry; give an fmvae or vhp-vae checkpoint")
    try:
        model = network_from_checkpoint(payload)
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        raise InputError(checkpoint, f"cannot build the model it describes: {first_line(exc)}") from None
    return model, payload


def default_label(payload: dict) -> str:
    eta = (payload.get("train_config") or {}).get("eta")
    if payload["kind"] == "fmvae" and eta is not None:
        return f"fmvae eta={eta:g}"
    return str(payload["kind"])


def load_crops(folders: list[str | Path], max_crops: int, seed: int
               ) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Up to max_crops crops drawn at random (seeded) from the caches, pendulum angles if every
    cache has them, and how the caches' boxes became squares (`track crops --fit`)."""
    from appearance.crops.cache import CropSet
    from appearance.geometry.pendulum import angles_of

    sets = [CropSet.load(f) for f in folders]
    sizes = {cs.size for cs in sets}
    if len(sizes) > 1:
        raise InputError(folders[1], f"crop caches of different sizes ({sorted(sizes)}): give caches of one size")
    fits = {cs.fit for cs in sets}
    if len(fits) > 1:
        raise InputError(folders[1], f"crop caches cut different ways (--fit {', '.join(sorted(fits))}): "
                                     f"give caches cut one way")
    total = sum(len(cs) for cs in sets)
    if total < 2:
        raise InputError(folders[0], f"{total} crop(s): the geometry report needs at least 2")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(total, size=min(total, max_crops), replace=False))
    offsets = np.cumsum([0] + [len(cs) for cs in sets])
    crops, angles = [], []
    all_angles = [angles_of(f) for f in folders]
    for s, cs in enumerate(sets):
        local = pick[(pick >= offsets[s]) & (pick < offsets[s + 1])] - offsets[s]
        crops.append(np.asarray(cs.crops[local]))
        if all_angles[s] is not None:
            angles.append(all_angles[s][local])
    colour = np.concatenate(angles) if len(angles) == len(sets) else None
    return np.concatenate(crops), colour, fits.pop()


@torch.no_grad()
def encode(model, payload: dict, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    from appearance.model.normalise import crops_to_tensor, norm_tensors

    mean, std = norm_tensors(payload["norm"])
    out = []
    for i in range(0, len(crops), batch):
        out.append(model.embed(crops_to_tensor(crops[i:i + batch], mean, std)).double().numpy())
    return np.concatenate(out)


def _distinct_pairs(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    a = rng.integers(0, n, count)
    b = (a + rng.integers(1, n, count)) % n
    return np.stack([a, b], 1)


def analyse(checkpoint: str | Path, crops: np.ndarray, colour: np.ndarray | None, opts: GeometryOptions,
            label: str | None = None, fit: str = "stretch") -> ModelGeometry:
    """The report of one checkpoint; see the module docstring."""
    from tqdm import tqdm

    model, payload = load_vae(checkpoint)
    cfg = model.cfg
    if crops.shape[1] != cfg.image_size:
        raise InputError(checkpoint, f"the model takes {cfg.image_size}x{cfg.image_size} images, the "
                                     f"crops are {crops.shape[1]}x{crops.shape[1]}")
    if cfg.crop_fit != fit:
        raise InputError(checkpoint, f"the model was trained on --fit {cfg.crop_fit} crops, these are "
                                     f"--fit {fit}: cut the crops as it was trained")
    label = label or default_label(payload)
    d = cfg.latent_dim
    rng = np.random.default_rng(opts.seed)
    manifold = vae_manifold(model, rows=opts.rows)
    say = (lambda s: tqdm.write(f"[{label}] {s}")) if opts.progress else (lambda s: None)

    t0 = time.perf_counter()
    z = encode(model, payload, crops)
    ij = _distinct_pairs(rng, len(z), opts.samples)
    a = rng.uniform(0.0, 1.0, (opts.samples, 1))
    samples = (1 - a) * z[ij[:, 0]] + a * z[ij[:, 1]]
    g = manifold.metric(torch.as_tensor(samples, dtype=torch.float32), progress=opts.progress,
                        desc=f"{label}: metric")
    summ = metric_summary(g)
    ev = summ.eigenvalues
    c2 = summ.c2
    flat_rel = float(np.mean(((ev - c2) ** 2).sum(1)) / c2 ** 2) if c2 > 0 else float("nan")
    t_metric = time.perf_counter() - t0
    say(f"metric at {opts.samples} points: median condition number {np.median(summ.condition):.4g} "
        f"({t_metric:.0f} s)")

    t0 = time.perf_counter()
    plane = None
    if d == 2:
        span = z.max(0) - z.min(0)
        span = np.where(span > 0, span, 1.0)
        lo, hi = z.min(0) - 0.1 * span, z.max(0) + 0.1 * span
        base = grid_graph(manifold, lo, hi, n=opts.grid, radius=opts.radius, subdivide=opts.subdivide,
                          progress=opts.progress, desc=f"{label}: grid edges")
        pick = rng.choice(len(z), size=min(len(z), 2 * opts.pairs), replace=False)
        graph, new = base.with_points(manifold, z[pick], k=min(opts.k, 8), subdivide=opts.subdivide)
        pairs = new[_distinct_pairs(rng, len(new), opts.pairs)]
        graph_info = {"type": "grid", "side": opts.grid, "radius": opts.radius, "box": [lo.tolist(), hi.tolist()],
                      "attached_points": int(len(new)), "attach_k": min(opts.k, 8)}
        query_graph, query_points = base, z
    else:
        pick = rng.choice(len(z), size=min(len(z), opts.nodes), replace=False)
        graph = knn_graph(manifold, z[pick], k=opts.k, subdivide=opts.subdivide, progress=opts.progress,
                          desc=f"{label}: graph edges")
        pairs = _distinct_pairs(rng, len(graph), opts.pairs)
        graph_info = {"type": "knn", "nodes": int(len(graph)), "k": opts.k}
        rest = np.setdiff1d(np.arange(len(z)), pick)
        query_graph, query_points = graph, z[rest] if len(rest) >= 2 else z
    graph_info.update(edges=graph.n_edges, subdivide=opts.subdivide)
    t_graph = time.perf_counter() - t0
    say(f"graph: {graph_info['type']}, {len(graph)} nodes, {graph.n_edges} edges ({t_graph:.0f} s)")

    t0 = time.perf_counter()
    ratios = geodesic_ratios(manifold, graph, pairs, refine=opts.refine, n_points=opts.refine_points,
                             iterations=opts.refine_iterations, line_pieces=opts.line_pieces,
                             subdivide=opts.subdivide, progress=opts.progress, desc=f"{label}: geodesics")
    t_pairs = time.perf_counter() - t0
    table = ratios.summary()
    say(f"Riemannian ratio {table['riemannian']['mean']:.4f} +- {table['riemannian']['sd']:.4f}, latent "
        f"ratio {table['latent']['mean']:.4f} +- {table['latent']['sd']:.4f} ({t_pairs:.0f} s)")

    timing = time_queries(manifold, query_graph, query_points, n_queries=opts.queries,
                          k=min(opts.k, 8) if d == 2 else opts.k, subdivide=opts.subdivide, seed=opts.seed)
    say(f"query: Euclidean {timing['euclidean_s'] * 1e6:.2f} us, geodesic {timing['geodesic_query_s'] * 1e3:.2f} ms "
        f"({timing['ratio']:.3g}x)")

    if d == 2:
        log_mean_mf = float(np.log(np.mean(np.exp(summ.log_mf - summ.log_mf.max()))) + summ.log_mf.max())
        plane = _plane(manifold, base, z, colour, ratios, rng, opts, log_mean_mf)

    train = payload.get("train_config") or {}
    report = {
        "label": label, "checkpoint": str(checkpoint), "kind": payload["kind"], "step": int(payload["step"]),
        "eta": train.get("eta"), "kappa2": train.get("kappa2"), "latent_dim": d,
        "architecture": cfg.architecture, "image_size": cfg.image_size,
        "crops_encoded": int(len(z)), "latent_std": float(z.std(0).mean()),
        "samples": {"count": opts.samples, "where": "straight segments between random pairs of encoded "
                                                   "crops, a ~ U(0, 1)"},
        "c2": c2, "relative_flatness": flat_rel,
        "condition_number": describe(summ.condition),
        "normalised_mf": describe(summ.normalised_mf),
        "log10_mf": describe(summ.log_mf / math.log(10)),
        "normalised_mf_per_dim": describe(summ.normalised_mf_per_dim),
        "table1": {"pairs": int(len(pairs)), **table, "refine": opts.refine,
                   "refine_points": opts.refine_points, "line_pieces": opts.line_pieces},
        "graph": graph_info,
        "timing": timing,
        "seconds": {"metric": t_metric, "graph": t_graph, "geodesics": t_pairs},
    }
    return ModelGeometry(label, report, summ.condition, summ.normalised_mf, plane)


def _plane(manifold, base: LatentGraph, z: np.ndarray, colour, ratios, rng: np.random.Generator,
           opts: GeometryOptions, log_mean_mf: float, n_sources: int = 3, n_curves: int = 6) -> Plane:
    """Normalised MF over the grid (by the samples' mean MF, so models share one colour scale),
    distance fields around a few encoded points, some geodesics."""
    n = opts.grid
    g = manifold.metric(torch.as_tensor(base.nodes, dtype=torch.float32), progress=opts.progress,
                        desc="MF map")
    log10_mf = ((metric_summary(g).log_mf - log_mean_mf) / math.log(10)).reshape(n, n)
    # contour centres: encoded points spread over the data (by angle when known)
    if colour is not None:
        order = np.argsort(colour)
        src_idx = order[(np.arange(n_sources) * len(order)) // n_sources + len(order) // (2 * n_sources)]
    else:
        src_idx = rng.choice(len(z), size=n_sources, replace=False)
    sources = z[src_idx]
    g2, new = base.with_points(manifold, sources, k=min(opts.k, 8), subdivide=opts.subdivide)
    dist, _ = g2.distances(new)
    fields = dist[:, :n * n].reshape(len(new), n, n)
    finite = fields[np.isfinite(fields)]
    top = np.percentile(finite, 50) if len(finite) else 1.0
    levels = np.linspace(0, top, 6)[1:]
    shown = rng.choice(len(z), size=min(len(z), 1500), replace=False)
    curves = [(gd.curve, gd.curve[[0, -1]]) for gd in ratios.geodesics[:n_curves]]
    return Plane(base.nodes[0], base.nodes[-1], n, log10_mf, z[shown],
                 None if colour is None else colour[shown], sources, fields, levels, curves)
