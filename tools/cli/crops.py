"""`track crops`: cut detection or ground-truth boxes into a cached crop dataset for training."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.sequence_options import add_sequence_options, select_sequences


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "crops", help="cut boxes out of sequence frames into a cached crop dataset",
        description="Decode the frames of the chosen sequences once and cut every selected box "
                    "into a SIZE x SIZE RGB crop, stored in a cache folder (crops.npy, meta.npz, "
                    "info.json) for descriptor training. A second run with the same settings and "
                    "unchanged input files reuses the cache. Detection crops carry no labels; "
                    "their ground-truth id (IoU >= 0.5) is kept for evaluation only.")
    what = parser.add_argument_group("what to cut")
    add_sequence_options(what)
    what.add_argument("--source", choices=("det", "gt"), default="det",
                      help="det: detector boxes, no labels; gt: ground-truth boxes with "
                           "identities (default: %(default)s)")
    what.add_argument("--min-confidence", type=float, default=0.5,
                      help="det: keep detections with at least this score (default: %(default)s)")
    what.add_argument("--min-height", type=float, default=0.0,
                      help="keep boxes at least this many pixels tall (default: %(default)s)")
    what.add_argument("--min-visibility", type=float, default=0.0,
                      help="gt: keep boxes at least this visible, 0-1; needs MOT16/17-style gt "
                           "with a visibility column (default: %(default)s)")
    what.add_argument("--every", type=int, default=1, metavar="K",
                      help="cut boxes from every K-th frame only: 1, 1+K, 1+2K, ... "
                           "(default: %(default)s)")
    out = parser.add_argument_group("output")
    out.add_argument("--size", type=int, default=64,
                     help="crop side in pixels; boxes are resized with INTER_AREA (default: %(default)s)")
    out.add_argument("--fit", choices=("stretch", "pad"), default="stretch",
                     help="stretch: resize the box to the square (a person is widened); pad: keep its "
                          "aspect, the height filling the square, grey beside it. A model trained on "
                          "these crops cuts its tracking crops the same way (default: %(default)s)")
    out.add_argument("--out", type=Path,
                     help="cache folder (default: data/crops/SOURCE-SEQUENCES, or SOURCE-all with --all)")
    out.add_argument("--force", action="store_true",
                     help="rebuild the cache even when one with the same settings exists")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tools.track.descriptors import check_crop_settings, cut_crops, default_crops_folder

    check_crop_settings(args.source, args.size, args.min_visibility, args.every)
    seqs = select_sequences(args, by_name=True)
    out = args.out if args.out is not None else default_crops_folder(args.source, seqs, args.all, args.split)
    cut_crops(seqs, out, source=args.source, min_confidence=args.min_confidence, min_height=args.min_height,
              min_visibility=args.min_visibility, every=args.every, size=args.size, force=args.force,
              progress=not args.quiet, fit=args.fit)
    return 0
