"""Training curves (appearance/training/curves.py): panels titled by what they show, readable axes."""
from __future__ import annotations

import numpy as np

from appearance.training.curves import curves_figure, plot_curves

STEPS = np.arange(1, 301, dtype=float)


def _vhp_vae_log() -> dict[str, np.ndarray]:
    """A VHP-VAE's columns: no flatness term, so c2 / penalty / relative are empty."""
    nan = np.full_like(STEPS, np.nan)
    c = 1.8 * 0.995 ** STEPS + 0.3                  # within a decade, above kappa^2 = 0.25
    return {"step": STEPS, "loss": 1e4 / STEPS, "F": 5 + 1 / STEPS, "C": c, "C_hat": c,
            "lambda": 1000 * 1.03 ** STEPS, "c2": nan, "penalty": nan, "relative": nan,
            "latent_std": np.full_like(STEPS, 0.05)}   # flat: one value all along


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def test_a_panel_is_titled_by_the_columns_it_shows():
    cols = _vhp_vae_log()
    titles = _titles(curves_figure(cols, kappa2=0.25))
    assert "latent std" in titles and not any("c2" in t for t in titles)
    cols["c2"] = np.linspace(60, 10, len(STEPS))       # an FMVAE logs c2: both in one panel
    assert "c2 and latent std" in _titles(curves_figure(cols, kappa2=0.25))


def test_axis_labels_are_one_size_distinct_and_do_not_overlap():
    fig = curves_figure(_vhp_vae_log(), kappa2=0.25)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        labels = [t for t in ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels()
                  if t.get_visible() and t.get_text() and lo <= t.get_position()[1] <= hi]
        texts = [t.get_text() for t in labels]
        assert len(labels) >= 2, ax.get_title()
        assert len(set(texts)) == len(texts), (ax.get_title(), texts)             # no repeated label
        assert len({t.get_fontsize() for t in labels}) == 1, (ax.get_title(), texts)
        assert ax.yaxis.get_offset_text().get_text() == "", ax.get_title()      # nothing over the title
        boxes = [t.get_window_extent(renderer) for t in labels]
        for i, a in enumerate(boxes):
            assert not any(a.overlaps(b) for b in boxes[i + 1:]), (ax.get_title(), texts)
    lam = next(ax for ax in fig.axes if ax.get_title() == "lambda")
    assert lam.get_yscale() == "log"                     # several decades: log scale kept


def test_plot_curves_writes_a_png(tmp_path):
    log = tmp_path / "log.csv"
    cols = _vhp_vae_log()
    keys = list(cols)
    rows = [",".join(keys)] + [",".join("" if np.isnan(cols[k][i]) else f"{cols[k][i]:.8g}" for k in keys)
                               for i in range(len(STEPS))]
    log.write_text("\n".join(rows) + "\n")
    out = plot_curves(log, tmp_path / "curves.png", kappa2=0.25, title="vhp-vae")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
