"""`track geometry`: how flat is a VAE's latent space? The FMVAE paper's measurements, side by side.

Writes OUT/geometry.json, OUT/boxes.png (condition number and normalised MF, the paper's
Figures 2 and 4) and, for 2-D latents, OUT/mf_contours.png and OUT/geodesics.png (Figures 1
and 3), one panel per checkpoint.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from tools.io.errors import InputError
from tools.io.folders import check_output_folder


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "geometry", help="latent geometry report of VAE checkpoints (flatness, geodesics, query time)",
        description="Measure the decoder's pull-back metric G = J^T J of each checkpoint on its "
                    "encoded crops: condition number and normalised magnification factor over latent "
                    "samples, the FMVAE paper's Table 1 ratios (straight-line length / geodesic length, "
                    "latent distance / geodesic latent length) over random pairs, and the time of a "
                    "Euclidean distance against a graph-geodesic query. Several checkpoints are "
                    "measured on the same crops and drawn side by side.")
    p.add_argument("--checkpoint", required=True, nargs="+", type=Path, metavar="FILE",
                   help="fmvae / vhp-vae checkpoint(s) (from `track train`)")
    p.add_argument("--crops", required=True, nargs="+", type=Path, metavar="FOLDER",
                   help="crop cache folder(s) to encode (`track crops`, `track pendulum`)")
    p.add_argument("--out", type=Path, default=Path("results/geometry"), help="report folder (default: %(default)s)")
    p.add_argument("--label", nargs="+", metavar="NAME", help="one name per checkpoint (default: kind and eta)")
    m = p.add_argument_group("measurement")
    m.add_argument("--samples", type=int, default=300, help="latent samples for G (default: %(default)s)")
    m.add_argument("--pairs", type=int, default=100, help="random pairs for the Table 1 ratios (default: %(default)s)")
    m.add_argument("--max-crops", type=int, default=5000, help="crops encoded at most, drawn at random "
                                                               "(default: %(default)s)")
    m.add_argument("--nodes", type=int, default=1000, help="kNN graph nodes, latents above 2-D (default: %(default)s)")
    m.add_argument("--k", type=int, default=10, help="kNN graph neighbours (default: %(default)s)")
    m.add_argument("--grid", type=int, default=64, help="grid side for 2-D latents (default: %(default)s)")
    m.add_argument("--radius", type=int, default=2,
                   help="grid stencil: 1 = 8 neighbours, 2 = 16 (default: %(default)s)")
    m.add_argument("--subdivide", type=int, default=4, help="decoded pieces per graph edge (default: %(default)s)")
    m.add_argument("--no-refine", dest="refine", action="store_false",
                   help="use graph paths as they are (no L-BFGS curve-energy refinement)")
    m.add_argument("--refine-points", type=int, default=16, help="points of a refined curve (default: %(default)s)")
    m.add_argument("--refine-iterations", type=int, default=30, help="L-BFGS iterations (default: %(default)s)")
    m.add_argument("--queries", type=int, default=20, help="timed geodesic queries (default: %(default)s)")
    m.add_argument("--seed", type=int, default=0, help="crops, samples and pairs (default: %(default)s)")
    r = p.add_argument_group("running")
    r.add_argument("--threads", type=int, metavar="T", help="torch CPU threads (default: torch's choice)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from appearance.geometry.plots import box_plots, geodesic_lines, mf_contours
    from appearance.geometry.report import GeometryOptions, analyse, load_crops
    from tools.io.atomic import atomic_write_bytes, atomic_write_text

    opts = GeometryOptions(samples=args.samples, pairs=args.pairs, nodes=args.nodes, k=args.k, grid=args.grid,
                           radius=args.radius, subdivide=args.subdivide, refine=args.refine,
                           refine_points=args.refine_points, refine_iterations=args.refine_iterations,
                           queries=args.queries, max_crops=args.max_crops, seed=args.seed,
                           progress=not args.quiet)
    opts.check()
    if args.label is not None and len(args.label) != len(args.checkpoint):
        raise InputError(None, f"{len(args.label)} --label value(s) for {len(args.checkpoint)} checkpoint(s)")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError(None, f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    check_output_folder(args.out, "--out")
    for ckpt in args.checkpoint:
        if not ckpt.is_file():
            raise InputError(ckpt, "checkpoint not found")
    crops, colour = load_crops(args.crops, opts.max_crops, opts.seed)

    start = time.perf_counter()
    models = []
    for i, ckpt in enumerate(args.checkpoint):
        label = args.label[i] if args.label else None
        models.append(analyse(ckpt, crops, colour, opts, label))
    labels = [m.label for m in models]
    if len(set(labels)) < len(labels):
        for m, ckpt in zip(models, args.checkpoint):
            m.label = m.report["label"] = f"{m.label} ({ckpt.parent.name})"

    written = []
    figures = {"boxes.png": box_plots(models), "mf_contours.png": mf_contours(models),
               "geodesics.png": geodesic_lines(models)}
    for name, data in figures.items():
        if data is not None:
            atomic_write_bytes(args.out / name, data)
            written.append(name)
    report = {
        "command": " ".join(getattr(args, "command_line", ["track", "geometry"])),
        "crops": [str(c) for c in args.crops], "crops_encoded": int(len(crops)),
        "options": {k: getattr(opts, k) for k in opts.__dataclass_fields__ if k != "progress"},
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads()},
        "seconds": time.perf_counter() - start,
        "models": [m.report for m in models],
        "figures": written,
    }
    atomic_write_text(args.out / "geometry.json", json.dumps(report, indent=1, default=_plain) + "\n")
    print(table(models))
    print(f"wrote {args.out / 'geometry.json'}, " + ", ".join(str(args.out / w) for w in written))
    return 0


def _plain(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def table(models) -> str:
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
