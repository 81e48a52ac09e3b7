"""Figures of the latent geometry report, drawn on the Agg canvas (no global backend switch).

- boxes: condition number and normalised MF over latent samples, one box per model (the FMVAE
  paper's Figures 2 and 4);
- 2-D latents, one panel per model side by side: the MF as a heat map with equidistance
  contours of the geodesic distance around a few encoded points (Figure 1), and geodesics
  against straight lines (Figure 3).
PNG bytes are returned so the caller writes them atomically.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from appearance.geometry.report import ModelGeometry
from tools.io.plotting import figure, png_bytes

CONTOUR_COLOURS = ("#ffffff", "#ffd400", "#ff3b3b", "#00e5ff")


def box_plots(models: Sequence[ModelGeometry]) -> bytes:
    fig = figure(3.2 + 1.6 * len(models), 3.4)
    labels = [m.label for m in models]
    for k, (title, key) in enumerate((("condition number of G", "condition"),
                                      ("normalised MF", "normalised_mf"))):
        ax = fig.add_subplot(1, 2, k + 1)
        data = []
        for m in models:
            v = np.asarray(getattr(m, key), dtype=np.float64)
            data.append(v[np.isfinite(v) & (v > 0)])
        ax.boxplot(data, tick_labels=labels, showfliers=True, flierprops={"markersize": 2, "alpha": 0.4})
        ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    return png_bytes(fig, dpi=90, palette=True)


def _shared_range(planes) -> tuple[float, float]:
    """One colour range for all panels: the 1st-99th percentile of log10 normalised MF."""
    v = np.concatenate([p.log10_mf[np.isfinite(p.log10_mf)] for p in planes])
    return tuple(np.percentile(v, [1, 99])) if len(v) else (-1.0, 1.0)


def _panel_base(ax, plane, vmin, vmax, cmap="viridis"):
    extent = (plane.lo[0], plane.hi[0], plane.lo[1], plane.hi[1])
    im = ax.imshow(plane.log10_mf.T, origin="lower", extent=extent, aspect="auto", cmap=cmap,
                   vmin=vmin, vmax=vmax, interpolation="nearest")
    return im


def _scatter(ax, plane, size=2.0):
    if plane.colour is not None:
        ax.scatter(plane.points[:, 0], plane.points[:, 1], c=plane.colour, cmap="twilight", s=size,
                   vmin=0, vmax=360, linewidths=0)
    else:
        ax.scatter(plane.points[:, 0], plane.points[:, 1], c="k", s=size, linewidths=0, alpha=0.5)


def _planes(models: Sequence[ModelGeometry]):
    return [m for m in models if m.plane is not None]


def _mf_panels(models: Sequence[ModelGeometry], draw, cmap: str = "viridis",
               colorbar_label: str | None = None) -> bytes | None:
    """One MF-map panel per 2-D model on a shared colour range; `draw(ax, model)` adds the
    figure's own layer and returns the panel title. None when no model has a 2-D plane."""
    shown = _planes(models)
    if not shown:
        return None
    fig = figure(4.0 * len(shown) + 0.8, 3.8)
    lo, hi = _shared_range([m.plane for m in shown])
    for k, m in enumerate(shown):
        ax = fig.add_subplot(1, len(shown), k + 1)
        im = _panel_base(ax, m.plane, lo, hi, cmap=cmap)
        _scatter(ax, m.plane, 1.5)
        ax.set_title(draw(ax, m), fontsize=9)
        ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=ax, shrink=0.85, label=colorbar_label).ax.tick_params(labelsize=7)
    return png_bytes(fig, dpi=90, palette=True)


def mf_contours(models: Sequence[ModelGeometry]) -> bytes | None:
    """Figure 1: log10 MF heat map, encoded points, equidistance contours around a few points."""
    def draw(ax, m: ModelGeometry) -> str:
        p = m.plane
        xs = np.linspace(p.lo[0], p.hi[0], p.grid)
        ys = np.linspace(p.lo[1], p.hi[1], p.grid)
        for s, (src, fld) in enumerate(zip(p.sources, p.fields)):
            colour = CONTOUR_COLOURS[s % len(CONTOUR_COLOURS)]
            ax.contour(xs, ys, fld.T, levels=p.levels, colors=colour, linewidths=0.9)
            ax.plot(src[0], src[1], marker="*", color=colour, markersize=9, markeredgecolor="k")
        return f"{m.label}: log10 normalised MF,\nequidistance contours of the geodesic distance"

    return _mf_panels(models, draw)


def geodesic_lines(models: Sequence[ModelGeometry]) -> bytes | None:
    """Figure 3: geodesics (solid) against straight lines (dashed) over the MF map."""
    def draw(ax, m: ModelGeometry) -> str:
        p = m.plane
        for c, (curve, line) in enumerate(p.curves):
            colour = f"C{c % 10}"
            ax.plot(curve[:, 0], curve[:, 1], "-", color=colour, lw=1.6)
            ax.plot(line[:, 0], line[:, 1], "--", color=colour, lw=1.0)
            ax.plot(line[:, 0], line[:, 1], "o", color=colour, markersize=3)
        ax.set_xlim(p.lo[0], p.hi[0])
        ax.set_ylim(p.lo[1], p.hi[1])
        ratio = m.report["table1"]["riemannian"]
        return (f"{m.label}: geodesics (solid) vs lines (dashed)\nRiemannian ratio "
                f"{ratio['mean']:.3f} +- {ratio['sd']:.3f}")

    return _mf_panels(models, draw, cmap="Greys", colorbar_label="log10 normalised MF")
