"""Training curves from DIR/log.csv: the numbers to look at before trusting a descriptor.

C against kappa^2 shows whether the constraint is met; lambda shows how hard it was pushed;
c^2 and the latent spread show whether the flatness term is being "won" by rescaling the
latent space instead of flattening the decoder. Drawn with the Agg canvas directly, so no
global matplotlib backend is switched.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tools.io.plotting import figure, save_png

# (panel title, columns, log scale)
PANELS = (
    ("loss", ("loss",), False),
    ("F (KL bound, nats)", ("F",), False),
    ("C (per-pixel MSE)", ("C", "C_hat"), True),
    ("lambda", ("lambda",), True),
    ("c2 and latent std", ("c2", "latent_std"), True),
    ("flatness penalty", ("penalty", "relative"), True),
)


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


def plot_curves(log_path: str | Path, out_path: str | Path, kappa2: float | None = None,
                title: str | None = None) -> Path:
    """Write a PNG with one panel per logged quantity that has data; returns out_path."""
    cols = read_log(log_path)
    steps = cols.get("step", np.zeros(0))
    panels = [p for p in PANELS if any(np.isfinite(cols.get(c, np.zeros(0))).any() for c in p[1])]
    n = max(len(panels), 1)
    ncols = min(n, 3)
    nrows = (n + ncols - 1) // ncols
    fig = figure(4.2 * ncols, 3.0 * nrows)
    window = max(1, len(steps) // 50)
    for i, (name, keys, logy) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for key in keys:
            y = cols.get(key)
            if y is None or not np.isfinite(y).any():
                continue
            if logy:
                y = np.where(y > 0, y, np.nan)
            raw = ax.plot(steps, y, lw=0.6, alpha=0.35)[0]
            if key != "C_hat" and window > 1:
                ax.plot(steps, smooth(y, window), lw=1.4, color=raw.get_color(), label=key)
            else:
                raw.set_alpha(1.0)
                raw.set_label(key)
        if name.startswith("C") and kappa2 is not None:
            ax.axhline(kappa2, color="k", ls="--", lw=0.8, label="kappa^2")
        if logy:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        if len(keys) > 1 or (name.startswith("C") and kappa2 is not None):
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_png(fig, out_path)
