"""One plotting set-up: an Agg figure that never touches pyplot's global state, and PNG output.

Figures are built on `matplotlib.figure.Figure` with its own Agg canvas, so plotting from a
library call, a worker process or a headless machine never switches a global backend.
"""
from __future__ import annotations

import io
from pathlib import Path

from tools.io.atomic import atomic_write_bytes


def figure(width: float, height: float, layout: str | None = "constrained"):
    """A matplotlib Figure of width x height inches on its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, dpi: int = 100, palette: bool = False) -> bytes:
    """The figure as PNG bytes; `palette` reduces it to 256 colours when Pillow is there
    (a heat map with thousands of points otherwise runs to several hundred KB)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if not palette:
        return buf.getvalue()
    try:
        from PIL import Image
    except ImportError:
        return buf.getvalue()
    buf.seek(0)
    small = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        small, format="PNG", optimize=True)
    return small.getvalue() if small.tell() < len(buf.getvalue()) else buf.getvalue()


def save_png(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write the figure to `path` atomically (a killed run leaves no half-written PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, png_bytes(fig, dpi))
    return path
