"""A geometry study: several checkpoints measured on the same crops, written to one folder.

OUT/geometry.json holds every figure, OUT/boxes.png the condition number and normalised MF (the
FMVAE paper's Figures 2 and 4) and, for 2-D latents, OUT/mf_contours.png and OUT/geodesics.png
(Figures 1 and 3), one panel per checkpoint. `track geometry` is this function's command line.
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appearance.geometry.report import GeometryOptions, ModelGeometry, analyse, load_crops
from tools.io.atomic import atomic_write_bytes, atomic_write_text
from tools.io.errors import InputError
from tools.io.folders import check_output_folder


@dataclass
class GeometryStudy:
    models: list[ModelGeometry]
    report: dict              # what geometry.json holds
    written: list[Path]       # geometry.json and the figures, in out


def study_geometry(checkpoints: list[Path], crop_folders: list[Path], out: Path, opts: GeometryOptions,
                   labels: list[str] | None = None, threads: int | None = None,
                   command: str = "track geometry") -> GeometryStudy:
    """Measure every checkpoint on the crops of `crop_folders` and write the study into `out`.
    Every input is checked before anything is measured or written (InputError naming it)."""
    import torch

    from appearance.geometry.plots import box_plots, geodesic_lines, mf_contours

    opts.check()
    if labels is not None and len(labels) != len(checkpoints):
        raise InputError(None, f"{len(labels)} --label value(s) for {len(checkpoints)} checkpoint(s)")
    if threads is not None:
        if threads < 1:
            raise InputError(None, f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    check_output_folder(out, "--out")
    for ckpt in checkpoints:
        if not Path(ckpt).is_file():
            raise InputError(ckpt, "checkpoint not found")
    crops, colour, fit = load_crops(crop_folders, opts.max_crops, opts.seed)

    start = time.perf_counter()
    models = [analyse(ckpt, crops, colour, opts, labels[i] if labels else None, fit)
              for i, ckpt in enumerate(checkpoints)]
    names = [m.label for m in models]
    if len(set(names)) < len(names):  # two runs of one kind and eta: tell them by their run folder
        for m, ckpt in zip(models, checkpoints):
            m.label = m.report["label"] = f"{m.label} ({Path(ckpt).parent.name})"

    written = []
    figures = {"boxes.png": box_plots(models), "mf_contours.png": mf_contours(models),
               "geodesics.png": geodesic_lines(models)}
    for name, data in figures.items():
        if data is not None:
            atomic_write_bytes(out / name, data)
            written.append(out / name)
    report = {
        "command": command,
        "crops": [str(c) for c in crop_folders], "crops_encoded": int(len(crops)),
        "options": {k: getattr(opts, k) for k in opts.__dataclass_fields__ if k != "progress"},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
        "seconds": time.perf_counter() - start,
        "models": [m.report for m in models],
        "figures": [p.name for p in written],
    }
    atomic_write_text(out / "geometry.json", json.dumps(report, indent=1, default=_plain) + "\n")
    return GeometryStudy(models, report, [out / "geometry.json", *written])


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def study_table(models: list[ModelGeometry]) -> str:
    """The acceptance figures, one row per model (Markdown)."""
    rows = ["| model | d | median cond(G) | IQR norm. MF | IQR log10 MF | IQR norm. MF^(1/d) | Riemannian ratio | "
            "latent ratio | Euclid query | geodesic query | ratio |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        r = m.report
        t1, t = r["table1"], r["timing"]
        rows.append(f"| {m.label} | {r['latent_dim']} | {r['condition_number'].get('median', float('nan')):.4g} | "
                    f"{r['normalised_mf'].get('iqr', float('nan')):.3g} | {r['log10_mf'].get('iqr', float('nan')):.3g} | "
                    f"{r.get('normalised_mf_per_dim', {}).get('iqr', float('nan')):.3g} | "
                    f"{t1['riemannian']['mean']:.3f} +- {t1['riemannian']['sd']:.3f} | "
                    f"{t1['latent']['mean']:.3f} +- {t1['latent']['sd']:.3f} | "
                    f"{t['euclidean_s'] * 1e6:.2f} us | {t['geodesic_query_s'] * 1e3:.2f} ms | {t['ratio']:.3g}x |")
    return "\n".join(rows)
