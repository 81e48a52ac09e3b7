"""`track pendulum`: write the FMVAE paper's pendulum image set as a crop cache for `track train`."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pendulum", help="make the 16x16 pendulum image set (a crop cache) for 2-D latent checks",
        description="Render images of a pendulum with the joint angle uniform in [0, 360) degrees and "
                    "Gaussian pixel noise, as the FMVAE paper's first experiment, into a crop cache "
                    "(crops.npy, meta.npz with the angles, info.json) that `track train --arch mlp "
                    "--latent-dim 2` and `track geometry` read.")
    p.add_argument("--out", type=Path, default=Path("data/pendulum"), help="cache folder (default: %(default)s)")
    p.add_argument("--count", type=int, default=10000, help="number of images (default: %(default)s)")
    p.add_argument("--noise", type=float, default=0.05, help="pixel noise sd, intensities in [0, 1] "
                                                             "(default: %(default)s)")
    p.add_argument("--size", type=int, default=16, help="image side in pixels (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="angles and noise (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="rewrite the cache even when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from appearance.geometry.pendulum import write_pendulum

    cs = write_pendulum(args.out, n=args.count, seed=args.seed, noise=args.noise, size=args.size,
                        force=args.force)
    print(f"{len(cs)} pendulum images, {cs.size}x{cs.size}, noise sd {args.noise:g}: {cs.folder}")
    return 0
