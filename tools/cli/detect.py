"""`track detect`: run a person detector over sequences' frames (or a plain video) and write MOT
det files, for `track run --detections` when a sequence has no det/det.txt of its own."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.sequence_options import add_sequence_options
from tools.detect.detector import DETECTOR_HELP

DEFAULT_OUT = Path("data") / "detections"


def register(sub) -> None:
    p = sub.add_parser("detect", help="detect people in frames and write MOT det files",
                       description="Run a person detector over every frame of the chosen sequences (or of "
                                   "a plain video) and write MOTChallenge det rows "
                                   "(frame,-1,x,y,w,h,score,-1,-1,-1), one file a sequence. "
                                   "`track run --detections FILE_OR_FOLDER` then tracks them.")
    what = p.add_argument_group("what to detect in")
    add_sequence_options(what)
    what.add_argument("--video", metavar="FILE", type=Path, help="a plain video file instead of sequences")
    add_detector_arguments(p, min_score_flag="--min-score")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="PATH",
                     help=f"a .txt file (one sequence or video), or a folder for <seq>.txt files "
                          f"(default: {DEFAULT_OUT}/DETECTOR/<seq>.txt, DETECTOR being hog or the "
                          "model file's name)")
    out.add_argument("--strict", action="store_true",
                     help="stop (exit 2) at a missing or undecodable frame; by default it gets no "
                          "detections, with a warning")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def add_detector_arguments(parser: argparse.ArgumentParser, *, min_score_flag: str,
                           title: str = "detector") -> None:
    """--detector, --detector-size, MIN_SCORE_FLAG (dest detector_min_score) and --detector-threads."""
    g = parser.add_argument_group(title)
    g.add_argument("--detector", metavar="SPEC", help=f"{DETECTOR_HELP} (default: hog)")
    g.add_argument("--detector-size", metavar="N|WxH",
                   help="ONNX detectors: the model's input size when its input shape is dynamic "
                        "(default: the model's own fixed size, else 640)")
    g.add_argument(min_score_flag, dest="detector_min_score", type=float, metavar="S",
                   help="least detection score kept, in [0, 1] (default: hog 0.8, its scores starting at "
                        "0.5 on the SVM boundary; ONNX 0.25)")
    g.add_argument("--detector-threads", type=int, default=0, metavar="T",
                   help="ONNX detectors: onnxruntime threads (default: 0, its own choice)")


def open_detector_from_args(args: argparse.Namespace):
    from tools.detect.detector import open_detector, parse_size
    from tools.io.errors import InputError

    if args.detector_threads < 0:
        raise InputError(None, f"--detector-threads must be at least 0, got {args.detector_threads}")
    return open_detector(args.detector or "hog", size=parse_size(args.detector_size), min_score=args.detector_min_score,
                         threads=args.detector_threads)


def sequences_with_frames(args: argparse.Namespace, seqs: list) -> list:
    """The sequences a detector can run on. A sequence without frames is an InputError, except
    with --all (not --strict), which leaves such sequences out with a warning."""
    import sys

    from tools.io.errors import InputError

    frameless = [s for s in seqs if not s.has_frames]
    if not frameless:
        return seqs
    if not args.all or args.strict:
        raise InputError(frameless[0].root, "the sequence has no frames (no img1/ folder and no video file) "
                                            "to detect people in")
    print(f"skipping {len(frameless)} sequence(s) without frames to detect in: "
          f"{', '.join(s.name for s in frameless)}", file=sys.stderr)
    kept = [s for s in seqs if s.has_frames]
    if not kept:
        raise InputError(args.data_root, "none of the sequences has frames to detect people in")
    return kept


def output_paths(out: Path | None, names: list[str], detector_name: str) -> dict[str, Path]:
    """Where each sequence's rows go: --out as a file (one sequence, a .txt path), else a folder."""
    from tools.io.errors import InputError
    from tools.io.folders import check_output_folder

    if out is not None and out.suffix.lower() == ".txt" and not out.is_dir():
        if len(names) > 1:
            raise InputError(out, f"one file given for {len(names)} sequences; give a folder for <seq>.txt files")
        check_output_folder(out.parent, "--out")
        return {names[0]: out}
    folder = check_output_folder(out if out is not None else DEFAULT_OUT / detector_name, "--out")
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise InputError(None, f"two sequences are named {twice!r}; their det files would share {folder / twice}.txt")
    return {n: folder / f"{n}.txt" for n in names}


def run(args: argparse.Namespace) -> int:
    from tools.cli.sequence_options import select_sequences
    from tools.detect.detection_run import detect_sequence, write_detections
    seqs = sequences_with_frames(args, select_sequences(args))
    detector = open_detector_from_args(args)
    paths = output_paths(args.out, [s.name for s in seqs], detector.name)
    print(f"detector: {detector.describe()}")
    for seq in seqs:
        done = detect_sequence(seq, detector, progress=not args.quiet, strict=args.strict)
        write_detections(paths[seq.name], done.rows)
        print(done.line(paths[seq.name]), flush=True)
    target = next(iter(paths.values())) if len(paths) == 1 else next(iter(paths.values())).parent
    print(f"track with: track run {_selection(args)} --detections {target}")
    return 0


def _selection(args: argparse.Namespace) -> str:
    """The --video / --seq / --all flags of this command, for the `track run` line it prints."""
    import shlex

    if args.video is not None:
        return f"--video {shlex.quote(str(args.video))}"
    words = ["--seq", *args.seq] if args.seq else ["--all"] + (["--split", args.split] if args.split else [])
    if args.data_root != "data":
        words += ["--data-root", str(args.data_root)]
    return shlex.join(words)
