"""Latent geometry: the exact metric against finite differences, curve lengths and geodesics on
maps whose geometry is known in closed form, and graph geodesics converging as graphs densify."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from appearance.training.flatness import exact_flatness
from appearance.geometry.geodesic import latent_length, refine_curve, resample_polyline
from appearance.geometry.graph import grid_graph, grid_offsets, knn_graph
from appearance.geometry.manifold import DecoderManifold
from appearance.geometry.metrics import describe, metric_summary, normalised_mf
from appearance.geometry.table1 import geodesic_ratios, time_queries


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def polar(z: torch.Tensor) -> torch.Tensor:
    """(r, phi) -> (r cos phi, r sin phi): G = diag(1, r^2); latent lines of constant r are arcs,
    geodesics are the chords (straight in the image plane)."""
    r, p = z[:, 0], z[:, 1]
    return torch.stack([r * torch.cos(p), r * torch.sin(p)], 1)


def tanh_decoder(d: int = 3, out: int = 12, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Linear(16, out)).double()


@pytest.mark.parametrize("rows", [2, 5, 256])   # basis chunks, one point per chunk, many points
def test_metric_matches_finite_differences(rows):
    dec = tanh_decoder()
    m = DecoderManifold(dec, 3, rows=rows, dtype=torch.float64)
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g = m.metric(z)
    h = 1e-6
    for i in range(len(z)):
        cols = [(dec(z[i:i + 1] + h * e) - dec(z[i:i + 1] - h * e)).flatten() / (2 * h)
                for e in torch.eye(3, dtype=torch.float64)]
        j = torch.stack(cols, 1)
        assert torch.allclose(g[i], j.T @ j, rtol=1e-6, atol=1e-9)
    assert torch.allclose(g, exact_flatness(dec, z).metric, rtol=1e-10, atol=1e-12)


def test_metric_summary_of_known_metrics():
    g = np.stack([np.diag([1.0, 4.0]), np.diag([9.0, 9.0]), np.diag([0.25, 1.0])])
    s = metric_summary(g)
    assert np.allclose(np.exp(s.log_mf), [2.0, 9.0, 0.5])
    assert np.allclose(s.condition, [4.0, 1.0, 4.0])
    assert np.allclose(s.normalised_mf, np.array([2.0, 9.0, 0.5]) / (11.5 / 3))
    roots = np.sqrt([2.0, 9.0, 0.5])                      # MF^(1/2)
    assert np.allclose(s.normalised_mf_per_dim, roots / roots.mean())
    assert s.c2 == pytest.approx((5 + 18 + 1.25) / 6)
    # 128-D metrics: MF underflows float64 while the normalised MF stays exact
    lm = np.array([-900.0, -900.0 + math.log(3.0)])
    assert np.allclose(normalised_mf(lm), [0.5, 1.5])
    # isotropic 128-D metrics G = s^2 I: MF = s^128 spans 51 decades, MF^(1/d) is s itself
    scales = np.linspace(1.0, 2.5, 40)
    wide = metric_summary(np.stack([sc ** 2 * np.eye(128) for sc in scales]))
    assert np.allclose(wide.normalised_mf_per_dim, scales / scales.mean())
    assert describe(wide.normalised_mf)["iqr"] < 1e-6 and describe(wide.normalised_mf_per_dim)["iqr"] > 0.3
    d = describe(np.array([1.0, 2.0, 3.0, 4.0, np.inf]))
    assert d["non_finite"] == 1 and d["median"] == 2.5 and d["iqr"] == pytest.approx(1.5)


def test_polar_metric_and_analytic_curve_lengths():
    m = DecoderManifold(polar, 2, dtype=torch.float64)
    g = m.metric(torch.tensor([[1.5, 0.3], [2.0, 1.0]], dtype=torch.float64))
    assert torch.allclose(g, torch.stack([torch.diag(torch.tensor([1.0, 2.25])),
                                          torch.diag(torch.tensor([1.0, 4.0]))]).double(), atol=1e-12)
    r, phi = 2.0, math.pi / 2
    arc = np.array([[r, 0.0], [r, phi]])            # a latent straight line that decodes to an arc
    assert m.curve_length(arc, subdivide=256) == pytest.approx(r * phi, rel=1e-5)
    # the discretised length approaches the arc from below (chords are shorter than arcs)
    coarse = m.curve_length(arc, subdivide=4)
    assert 2 * r * math.sin(phi / 2) < coarse < r * phi
    assert m.curve_length(np.array([[1.0, 0.7], [2.0, 0.7]]), subdivide=1) == pytest.approx(1.0)
    # Archimedean-type spiral r = 1 + t, phi = t over t in [0, 1]: int sqrt(1 + (1+t)^2) dt
    t = np.linspace(0, 1, 2001)
    exact = 0.5 * (2 * math.sqrt(5) + math.asinh(2) - math.sqrt(2) - math.asinh(1))
    assert m.curve_length(np.stack([1 + t, t], 1)) == pytest.approx(exact, rel=1e-6)


def test_linear_decoder_geodesics_are_straight_and_ratios_one():
    a = torch.randn(10, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    m = DecoderManifold(lambda z: z @ a.T, 3, dtype=torch.float64)
    ev = np.linalg.eigvalsh((a.T @ a).numpy())
    s = metric_summary(m.metric(torch.randn(5, 3, dtype=torch.float64)))
    assert np.allclose(s.condition, ev[-1] / ev[0]) and np.allclose(s.normalised_mf, 1.0)

    pts = np.random.default_rng(0).normal(size=(300, 3))
    g = knn_graph(m, pts, k=8)
    rep = geodesic_ratios(m, g, np.array([[i, i + 150] for i in range(12)]))
    assert np.all(rep.graph_riemannian < 1.0)                # a graph path zigzags ...
    assert np.allclose(rep.riemannian, 1.0, atol=1e-9)       # ... the geodesic is the line
    assert np.allclose(rep.latent, 1.0, atol=1e-6)
    # refinement straightens a zigzag graph path on its own
    length, path = g.shortest_path(0, 150)
    assert len(path) > 2
    curve = refine_curve(m, g.nodes[path], n_points=12, iterations=50)
    line = m.curve_length(g.nodes[[0, 150]])
    assert m.curve_length(curve) == pytest.approx(line, rel=1e-6) and length > line * (1 + 1e-3)
    u = (pts[150] - pts[0]) / np.linalg.norm(pts[150] - pts[0])
    off = (curve - pts[0]) - np.outer((curve - pts[0]) @ u, u)
    assert np.abs(off).max() < 1e-4
    assert latent_length(curve) == pytest.approx(np.linalg.norm(pts[150] - pts[0]), rel=1e-6)


def test_curved_geodesic_ratio_matches_closed_form():
    """Polar map, end points on the circle r = 2 a quarter turn apart: the straight latent line
    is the arc (length r phi), the geodesic the chord (2 r sin(phi / 2))."""
    m = DecoderManifold(polar, 2, dtype=torch.float64)
    r, phi = 2.0, math.pi / 2
    g = grid_graph(m, [1.0, 0.0], [2.0, phi], n=17, radius=2)
    n = 17
    pair = np.array([[(n - 1) * n, (n - 1) * n + n - 1]])
    assert np.allclose(g.nodes[pair[0]], [[r, 0.0], [r, phi]])
    rep = geodesic_ratios(m, g, pair, n_points=24)
    assert rep.riemannian[0] == pytest.approx(phi / (2 * math.sin(phi / 2)), rel=2e-3)
    # latent length of the chord's pre-image: integral of |d(r, phi)/ds| along the chord
    chord = np.linspace([r, 0.0], [0.0, r], 4001)
    pre = np.stack([np.hypot(chord[:, 0], chord[:, 1]), np.arctan2(chord[:, 1], chord[:, 0])], 1)
    assert rep.latent[0] == pytest.approx(phi / latent_length(pre), rel=1e-2)
    assert rep.winners == ["refined"]


def test_graph_geodesics_converge_as_the_graph_densifies():
    m = DecoderManifold(polar, 2, dtype=torch.float64)
    r, phi = 2.0, math.pi / 2
    true = 2 * r * math.sin(phi / 2)
    grid_err = []
    for n, radius in ((9, 1), (17, 2), (33, 3)):
        g = grid_graph(m, [1.0, 0.0], [2.0, phi], n=n, radius=radius)
        d, _ = g.shortest_path((n - 1) * n, (n - 1) * n + n - 1)
        grid_err.append((d - true) / true)
    assert all(e > -1e-9 for e in grid_err)                  # graph paths are real curves: >= true
    assert grid_err[0] > grid_err[1] > grid_err[2] and grid_err[2] < 2e-3
    rng = np.random.default_rng(0)
    knn_err = []
    for n, k in ((100, 6), (800, 12), (3200, 20)):
        pts = np.vstack([[r, 0.0], [r, phi], np.column_stack([rng.uniform(1, 2, n), rng.uniform(0, phi, n)])])
        d, _ = knn_graph(m, pts, k=k).shortest_path(0, 1)
        knn_err.append((d - true) / true)
    assert knn_err[0] > knn_err[1] > knn_err[2] > 0 and knn_err[2] < 1e-2


def test_grid_stencil_and_attached_points():
    assert len(grid_offsets(1)) == 4 and len(grid_offsets(2)) == 8 and len(grid_offsets(3)) == 16
    m = DecoderManifold(lambda z: 3.0 * z, 2, dtype=torch.float64)
    g = grid_graph(m, [0, 0], [1, 1], n=5, radius=1)
    assert g.n_edges == 2 * 5 * 4 + 2 * 4 * 4
    assert g.weights[0, 1] == pytest.approx(3 * 0.25) and g.weights[0, 6] == pytest.approx(3 * 0.25 * math.sqrt(2))
    g2, new = g.with_points(m, np.array([[0.1, 0.1], [0.9, 0.9]]), k=4)
    assert list(new) == [25, 26] and len(g2) == 27
    d, path = g2.shortest_path(25, 26)
    assert path[0] == 25 and path[-1] == 26
    assert d == pytest.approx(3 * 0.8 * math.sqrt(2), rel=1e-9)   # the diagonal is on the grid


def test_resample_polyline_is_even_in_arc_length():
    c = resample_polyline(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 3.0]]), 5)
    assert np.allclose(c, [[0, 0], [1, 0], [1, 1], [1, 2], [1, 3]])


def test_query_timing_reports_both_queries():
    m = DecoderManifold(polar, 2, dtype=torch.float64)
    g = grid_graph(m, [1.0, 0.0], [2.0, 1.5], n=20)
    t = time_queries(m, g, np.random.default_rng(0).uniform([1, 0], [2, 1.5], (30, 2)), n_queries=5,
                     euclid_repeats=2000)
    assert 0 < t["euclidean_s"] < t["dijkstra_only_s"] < t["geodesic_query_s"]
    assert t["ratio"] == pytest.approx(t["geodesic_query_s"] / t["euclidean_s"])
