"""Training curves from DIR/log.csv: the numbers to look at before trusting a descriptor.

C against kappa^2 shows whether the constraint is met; lambda shows how hard it was pushed;
c^2 and the latent spread show whether the flatness term is being "won" by rescaling the
latent space instead of flattening the decoder. Drawn with the Agg canvas directly, so no
global matplotlib backend is switched.

A panel is titled by the columns it actually shows: c2 (like the penalty) is logged only while
the flatness term is on, so a VHP-VAE (eta 0) has none and its panel shows the latent spread
alone. A log axis is used only where the values span a decade or more, labelled at whole
decades: over a narrower range matplotlib labels minor ticks in a larger font than the major
ones (and repeats one label down a flat series), which crowds the axis.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tools.io.plotting import figure, save_png

# (panel title, columns, log scale where the values span a decade)
PANELS = (
    ("loss", ("loss",), False),
    ("F (KL bound, nats)", ("F",), False),
    ("C (per-pixel MSE)", ("C", "C_hat"), True),
    ("lambda", ("lambda",), True),
    ("c2 and latent std", ("c2", "latent_std"), True),
    ("flatness penalty", ("penalty", "relative"), True),
)
NAMES = {"c2": "c2", "latent_std": "latent std", "penalty": "flatness penalty",
         "relative": "relative flatness penalty"}   # titles of panels showing one of their columns
LABEL_SIZE = 8


def read_log(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of a training log as float arrays (blank cells become NaN)."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    return {k: np.array([float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows])
            for k in rows[0]}


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` finite values (NaN where none), to read trends through noise."""
    if window <= 1 or len(y) == 0:
        return y
    ok = np.isfinite(y)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    n = np.concatenate([[0], np.cumsum(ok)])
    lo = np.maximum(np.arange(1, len(y) + 1) - window, 0)
    hi = np.arange(1, len(y) + 1)
    count = n[hi] - n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (c[hi] - c[lo]) / np.maximum(count, 1), np.nan)


def _has_data(cols: dict[str, np.ndarray], key: str) -> bool:
    return bool(np.isfinite(cols.get(key, np.zeros(0))).any())


def panel_title(name: str, keys: tuple[str, ...], cols: dict[str, np.ndarray]) -> str:
    """The panel's title, or the name of its one column with data when the others have none."""
    shown = [k for k in keys if _has_data(cols, k)]
    return name if len(shown) != 1 or len(keys) == 1 else NAMES.get(shown[0], shown[0])


def _y_axis(ax, values: list[np.ndarray], logy: bool) -> None:
    """Log scale labelled at whole decades where the values span one or more, else linear with
    plain labels (no offset text such as "1e-13+5e-2" over the title for a flat series)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(0)])
    positive = finite[finite > 0]
    if logy and len(positive) and positive.max() >= 10 * positive.min():
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=7))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.ticklabel_format(axis="y", useOffset=False)
        if len(finite) and finite.max() - finite.min() <= 1e-6 * max(abs(finite).max(), 1e-12):
            centre = float(finite.mean())          # flat: show it mid-panel, not float noise
            half = 0.05 * abs(centre) or 1.0
            ax.set_ylim(centre - half, centre + half)
    ax.tick_params(which="both", labelsize=LABEL_SIZE)


def curves_figure(cols: dict[str, np.ndarray], kappa2: float | None = None, title: str | None = None):
    """The figure of read_log's columns: one panel per logged quantity that has data."""
    steps = cols.get("step", np.zeros(0))
    panels = [p for p in PANELS if any(_has_data(cols, c) for c in p[1])]
    n = max(len(panels), 1)
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig = figure(4.2 * ncols, 3.0 * nrows)
    window = max(1, len(steps) // 50)
    for i, (name, keys, logy) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        plotted = []
        for key in keys:
            y = cols.get(key)
            if y is None or not np.isfinite(y).any():
                continue
            if logy:
                y = np.where(y > 0, y, np.nan)
            plotted.append(y)
            raw = ax.plot(steps, y, lw=0.6, alpha=0.35)[0]
            if key != "C_hat" and window > 1:
                ax.plot(steps, smooth(y, window), lw=1.4, color=raw.get_color(), label=key)
            else:
                raw.set_alpha(1.0)
                raw.set_label(key)
        if name.startswith("C") and kappa2 is not None:
            ax.axhline(kappa2, color="k", ls="--", lw=0.8, label="kappa^2")
            plotted.append(np.array([kappa2], float))
        _y_axis(ax, plotted, logy)
        ax.set_title(panel_title(name, keys, cols), fontsize=10)
        ax.set_xlabel("step", fontsize=LABEL_SIZE)
        if len(ax.get_legend_handles_labels()[0]) > 1:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_curves(log_path: str | Path, out_path: str | Path, kappa2: float | None = None,
                title: str | None = None) -> Path:
    """Write a PNG with one panel per logged quantity that has data; returns out_path."""
    return save_png(curves_figure(read_log(log_path), kappa2, title), out_path)
