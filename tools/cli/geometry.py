"""`track geometry`: how flat is a VAE's latent space? The FMVAE paper's measurements, side by side
(appearance.geometry.study.study_geometry)."""
from __future__ import annotations

import argparse
from pathlib import Path


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
    from appearance.geometry.report import GeometryOptions
    from appearance.geometry.study import study_geometry, study_table

    opts = GeometryOptions(samples=args.samples, pairs=args.pairs, nodes=args.nodes, k=args.k, grid=args.grid,
                           radius=args.radius, subdivide=args.subdivide, refine=args.refine,
                           refine_points=args.refine_points, refine_iterations=args.refine_iterations,
                           queries=args.queries, max_crops=args.max_crops, seed=args.seed,
                           progress=not args.quiet)
    study = study_geometry(args.checkpoint, args.crops, args.out, opts, labels=args.label, threads=args.threads,
                           command=" ".join(getattr(args, "command_line", ["track", "geometry"])))
    print(study_table(study.models))
    print("wrote " + ", ".join(str(p) for p in study.written))
    return 0
