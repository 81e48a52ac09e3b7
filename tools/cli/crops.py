"""`track crops`: cut detection or ground-truth boxes into a cached crop dataset for training."""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from tools.io.errors import InputError
from tools.io.sequence import Sequence, find_sequence, list_sequences


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "crops", help="cut boxes out of sequence frames into a cached crop dataset",
        description="Decode the frames of the chosen sequences once and cut every selected box "
                    "into a SIZE x SIZE RGB crop, stored in a cache folder (crops.npy, meta.npz, "
                    "info.json) for descriptor training. A second run with the same settings and "
                    "unchanged input files reuses the cache. Detection crops carry no labels; "
                    "their ground-truth id (IoU >= 0.5) is kept for evaluation only.")
    what = parser.add_argument_group("what to cut")
    what.add_argument("--seq", nargs="+", metavar="NAME",
                      help="sequence name(s) under --data-root, or sequence folders")
    what.add_argument("--all", action="store_true",
                      help="every sequence under --data-root (optionally one --split)")
    what.add_argument("--split", help="with --all: only sequences under a folder of this name (e.g. train)")
    what.add_argument("--data-root", type=Path, default=Path("data"),
                      help="where sequences are looked up (default: %(default)s)")
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
    out.add_argument("--out", type=Path,
                     help="cache folder (default: data/crops/SOURCE-SEQUENCES, or SOURCE-all with --all)")
    out.add_argument("--force", action="store_true",
                     help="rebuild the cache even when one with the same settings exists")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def default_out(source: str, seqs: list[Sequence], all_: bool, split: str | None) -> Path:
    """data/crops/<source>-<names>: readable for a few sequences, hashed for many."""
    if all_:
        tag = "all" if split is None else f"all-{split}"
    else:
        tag = "+".join(s.name for s in seqs)
        if len(tag) > 80:
            digest = hashlib.sha1(tag.encode()).hexdigest()[:8]
            tag = f"{seqs[0].name}+{len(seqs) - 1}-more-{digest}"
    return Path("data") / "crops" / f"{source}-{tag}"


def _sequences(args: argparse.Namespace) -> list[Sequence]:
    if args.all == bool(args.seq):
        raise InputError(None, "give either --seq NAME ... or --all")
    if args.split is not None and not args.all:
        raise InputError(None, "--split applies only with --all")
    if args.all:
        seqs = list_sequences(args.data_root, args.split)
        if not seqs:
            where = f" under a folder named {args.split!r}" if args.split else ""
            raise InputError(args.data_root, f"no sequences found{where} (looked for <seq>/seqinfo.ini)")
        return seqs
    seqs = [find_sequence(name, args.data_root) for name in dict.fromkeys(args.seq)]
    names = [s.name for s in seqs]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise InputError(None, f"two sequences are named {twice!r}: crops are labelled by "
                               f"sequence name, so cut them into separate caches")
    return seqs


def run(args: argparse.Namespace) -> int:
    from appearance.crops.cache import extract_crops

    if args.size < 8:
        raise InputError(None, f"--size must be at least 8, got {args.size}")
    if args.every < 1:
        raise InputError(None, f"--every must be at least 1, got {args.every}")
    if not 0.0 <= args.min_visibility <= 1.0:
        raise InputError(None, f"--min-visibility must lie in [0, 1], got {args.min_visibility:g}")
    if args.min_visibility > 0 and args.source != "gt":
        raise InputError(None, "--min-visibility applies only to --source gt (detections have no visibility)")
    seqs = _sequences(args)
    out = args.out if args.out is not None else default_out(args.source, seqs, args.all, args.split)
    crops = extract_crops(seqs, out, source=args.source, min_confidence=args.min_confidence,
                          size=args.size, min_height=args.min_height,
                          min_visibility=args.min_visibility, every=args.every,
                          progress=not args.quiet, force=args.force)
    counts = {**dict.fromkeys((s.name for s in seqs), 0), **crops.counts()}
    with_id = {name: int((crops.gt_id[crops.seq == name] >= 0).sum()) for name in counts}
    print(f"{len(crops)} {args.source} crops, {crops.size}x{crops.size} RGB, "
          f"from {len(counts)} sequence{'s' if len(counts) != 1 else ''}")
    width = max(len(n) for n in counts)
    for name, count in counts.items():
        note = f"  ({with_id[name]} with a gt id)" if args.source == "det" else ""
        print(f"  {name:<{width}}  {count:>7}{note}")
    print(f"{'cache' if crops.reused else 'wrote'} {crops.folder}")
    return 0
