"""`track run`: track one or more sequences, write MOTChallenge results, evaluate where gt exists."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.detect import add_detector_arguments, open_detector_from_args, sequences_with_frames
from tools.cli.sequence_options import add_sequence_options, detection_paths, select_sequences
from tools.io.errors import InputError
from tools.track.experiment import experiment_name, run_experiment, safe_name
from tools.cli.tracker_options import add_config_arguments, config_from_args
from tools.track.runner import RunConfig


def register(sub) -> None:
    p = sub.add_parser("run", help="track sequences and write MOTChallenge results",
                       description="Track sequences with SORT, DeepSORT, ByteTrack or OC-SORT. Results go to "
                                   "RESULTS_ROOT/EXPERIMENT/data/<seq>.txt; sequences with ground "
                                   "truth are evaluated with TrackEval afterwards.")
    what = p.add_argument_group("what to track")
    add_sequence_options(what)
    what.add_argument("--video", metavar="FILE", type=Path,
                      help="track a plain video (no MOT folder); writes EXPERIMENT/video/<name>.mp4 with the "
                           "tracks drawn and EXPERIMENT/data/<name>.txt. Without --detections a detector "
                           "(--detector, default hog) finds the people first")
    what.add_argument("--detections", metavar="PATH",
                      help="replace det/det.txt: a MOT det file or DeepSORT .npy (one sequence), or a folder "
                           "of <seq>.npy / <seq>.txt files")
    add_detector_arguments(p, min_score_flag="--detector-min-score",
                           title="detector (--video without --detections, or --detector with --seq/--all)")
    add_config_arguments(p)
    out = p.add_argument_group("output")
    out.add_argument("--experiment", help="results folder name (default: sort, deepsort-motion, deepsort-hist, "
                                          "deepsort-KIND-RUN for a checkpoint in a run folder RUN, ...)")
    out.add_argument("--results-root", default="results", help="default: %(default)s")
    out.add_argument("--save-video", action="store_true", help="also write EXPERIMENT/video/<seq>.mp4 with boxes, IDs and trails")
    out.add_argument("--no-eval", action="store_true", help="skip evaluation")
    out.add_argument("--benchmark", choices=("MOT15", "MOT16", "MOT17"), help="evaluation rules (default: from the sequence names)")
    out.add_argument("--jobs", type=int, default=1, help="sequences tracked in parallel processes (default: %(default)s)")
    out.add_argument("--force", action="store_true", help="with --all: redo sequences that already have results")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    out.add_argument("--strict", action="store_true",
                     help="stop (exit 2) at a missing or unreadable frame, or with --all at a sequence "
                          "without frames that the descriptor needs; by default such frames are tracked "
                          "on their detections alone and such sequences skipped, with a warning and a note "
                          "in run.json")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    """Defaults < --config FILE < flags (see tools/track/run_config.py)."""
    return config_from_args(args)


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    if getattr(args, "video", None) is not None:
        args.save_video = True  # the annotated video is what --video is for
    seqs = select_sequences(args)
    if detects_first(args):
        detector = open_detector_from_args(args)
        # named for the detector too: these results must not mix with a run on the file's detections
        name = args.experiment or f"{experiment_name(cfg, {})}-{safe_name(detector.name)}"
        seqs, detections = detect_before_tracking(args, cfg, seqs, Path(args.results_root) / name, detector)
        out_dir = Path(args.results_root) / name
    else:
        detections = detection_paths(args, seqs)
        out_dir = Path(args.results_root) / (args.experiment or experiment_name(cfg, detections))
    run_experiment(seqs, cfg, out_dir, detections=detections, save_video=args.save_video,
                   evaluate=not args.no_eval, benchmark=args.benchmark, jobs=args.jobs,
                   skip_finished=args.all and not args.force, progress=not args.quiet, strict=args.strict,
                   skip_no_frames=args.all and not args.strict, command=getattr(args, "command_line", None))
    return 0


def detects_first(args: argparse.Namespace) -> bool:
    """Whether this run makes its own detections: --video without --detections, or --detector."""
    if args.detector is not None and args.detections:
        raise InputError(None, "give --detector or --detections, not both")
    detects = args.detector is not None or (args.video is not None and not args.detections)
    if not detects and (args.detector_size is not None or args.detector_min_score is not None):
        raise InputError(None, "--detector-size and --detector-min-score apply only when the run detects "
                               "(--video without --detections, or --detector)")
    return detects


def detect_before_tracking(args: argparse.Namespace, cfg, seqs: list, out_dir: Path,
                           detector) -> tuple[list, dict[str, Path]]:
    """Run the detector over every sequence into out_dir/detections/<seq>.txt and say where; the
    descriptor and the output folder are checked first, so a bad one costs no detection time.
    With --all (not --strict) sequences without frames are left out with a warning, and (without
    --force) a sequence with results and detections from an earlier run is not detected again.
    Returns the sequences to track and their detection files."""
    from tools.detect.detection_run import detect_to_folder
    from tools.io.folders import check_output_folder
    from tools.track.runner import open_run_descriptor

    seqs = sequences_with_frames(args, seqs)
    open_run_descriptor(cfg)  # an unknown descriptor or damaged checkpoint fails now, not after detecting
    folder = check_output_folder(out_dir, "--experiment") / "detections"
    done = {s.name: folder / f"{s.name}.txt" for s in seqs if args.all and not args.force
            and (folder / f"{s.name}.txt").is_file() and (out_dir / "data" / f"{s.name}.txt").is_file()}
    print(f"detecting people with {detector.describe()}")
    paths = dict(done)
    paths.update(detect_to_folder([s for s in seqs if s.name not in done], detector, folder,
                                  progress=not args.quiet, strict=args.strict))
    target = next(iter(paths.values())) if len(paths) == 1 else folder
    print(f"detections written to {target} (reuse them: --detections {target})")
    return seqs, paths
