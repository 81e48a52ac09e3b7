"""`track synth`: write small synthetic MOTChallenge sequences for tests, demos and training."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.io.errors import InputError
from tools.io.folders import check_output_folder


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth", help="write synthetic MOTChallenge sequences (frames, det.txt, gt.txt)",
        description="Write SYNTH-01, SYNTH-02, ... under --out: walking pedestrians with distinct "
                    "clothing who cross each other and pass behind pillars and trees, with ground "
                    "truth (gt/gt.txt) and noisy detections (det/det.txt). Same seed, same files.")
    parser.add_argument("--out", type=Path, default=Path("data/synth"),
                        help="folder to write the sequences into (default: data/synth)")
    parser.add_argument("--sequences", type=int, default=3,
                        help="number of sequences to write (default: 3)")
    parser.add_argument("--frames", type=int, default=150, help="frames per sequence (default: 150)")
    parser.add_argument("--people", type=int, default=8,
                        help="people in the scene at a time; others enter as they leave (default: 8)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; each sequence derives its own from it (default: 0)")
    parser.add_argument("--width", type=int, default=640, help="frame width in pixels (default: 640)")
    parser.add_argument("--height", type=int, default=360, help="frame height in pixels (default: 360)")
    parser.add_argument("--frame-rate", type=float, default=15.0,
                        help="frames per second, sets walking speed per frame (default: 15)")
    parser.add_argument("--occluders", type=int, default=2,
                        help="static pillars / trees / hedges in the scene (default: 2)")
    parser.add_argument("--fp-rate", type=float, default=0.4,
                        help="mean false positive detections per frame (default: 0.4)")
    parser.add_argument("--miss-rate", type=float, default=0.05,
                        help="chance a clearly visible person is not detected (default: 0.05)")
    parser.add_argument("--split", default=None,
                        help="write under OUT/SPLIT/ (e.g. train or test) instead of OUT/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tools.data.synth import SynthConfig, make_dataset

    if args.sequences < 1:
        raise InputError(None, f"--sequences must be at least 1, got {args.sequences}")
    if args.split is not None and (not args.split or Path(args.split).name != args.split
                                   or args.split in (".", "..")):
        raise InputError(None, f"--split must be a plain folder name, got {args.split!r}")
    check_output_folder(args.out, "--out")
    try:
        config = SynthConfig(width=args.width, height=args.height, frames=args.frames,
                             people=args.people, frame_rate=args.frame_rate, seed=args.seed,
                             occluders=args.occluders, fp_rate=args.fp_rate, miss_rate=args.miss_rate)
    except ValueError as exc:
        field, _, rest = str(exc).partition(" ")
        raise InputError(None, f"--{field.replace('_', '-')} {rest}") from None
    with tqdm(total=args.sequences * args.frames, unit="frame", desc="synth") as bar:
        paths = make_dataset(args.out, args.sequences, config, args.split,
                             on_frame=lambda _frame: bar.update(1))
    for path in paths:
        print(path)
    return 0
