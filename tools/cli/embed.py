"""`track embed`: write DeepSORT .npy detection files carrying a descriptor's features.

The output folder drives `track run --detections FOLDER` (no descriptor at tracking time) and the
original nwojke/deep_sort (`deep_sort_app.py --detection_file FOLDER/<seq>.npy`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.sequence_options import add_sequence_options, detection_paths, select_sequences


def register(sub) -> None:
    p = sub.add_parser("embed", help="write DeepSORT .npy detections with appearance features",
                       description="Embed every detection of the chosen sequences with a descriptor "
                                   "and write OUT/<seq>.npy in DeepSORT's format (10 MOT det columns, "
                                   "then the feature). `track run --detections OUT` then tracks with "
                                   "these features, and so does the original DeepSORT.")
    what = p.add_argument_group("what to embed")
    add_sequence_options(what)
    what.add_argument("--detections", metavar="PATH",
                      help="instead of det/det.txt: a MOT det file or DeepSORT .npy (one sequence), or a "
                           "folder of <seq>.npy / <seq>.txt files (features in an .npy are replaced)")
    what.add_argument("--min-confidence", type=float, default=0.0,
                      help="keep detections with at least this score (default: %(default)s, all; "
                           "`track run` filters again at tracking time)")
    how = p.add_argument_group("descriptor and output")
    how.add_argument("--appearance", required=True, metavar="SPEC",
                     help="descriptor: hist, fmvae:CHECKPOINT, supervised:CHECKPOINT, or a registered name[:ARG]")
    how.add_argument("--out", required=True, type=Path, help="folder for <seq>.npy files and embed.json")
    how.add_argument("--centre", action="store_true",
                     help="subtract each sequence's mean feature (label-free, fitted on the detections "
                          "embedded); sharpens cosine distance for descriptors whose features share an offset")
    how.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tools.track.embedding import embed_sequences

    seqs = select_sequences(args)
    done = embed_sequences(seqs, args.appearance, args.out, detection_paths(args, seqs), args.min_confidence,
                           progress=not args.quiet, command=getattr(args, "command_line", None),
                           centre=args.centre)
    print(f"track with: track run --detections {args.out} --metric {done.record['metric']} ...")
    return 0
