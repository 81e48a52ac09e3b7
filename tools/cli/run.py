"""`track run`: track one or more sequences, write MOTChallenge results, evaluate where gt exists."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.sequence_options import add_sequence_options, detection_paths, select_sequences
from tools.track.experiment import experiment_name, run_experiment
from tools.track.run_config import add_config_arguments, config_from_args
from tools.track.runner import RunConfig


def register(sub) -> None:
    p = sub.add_parser("run", help="track sequences and write MOTChallenge results",
                       description="Track sequences with SORT or DeepSORT. Results go to "
                                   "RESULTS_ROOT/EXPERIMENT/data/<seq>.txt; sequences with ground "
                                   "truth are evaluated with TrackEval afterwards.")
    what = p.add_argument_group("what to track")
    add_sequence_options(what)
    what.add_argument("--video", metavar="FILE", type=Path,
                      help="track a plain video (no MOT folder) with --detections FILE; writes "
                           "EXPERIMENT/video/<name>.mp4 with the tracks drawn and EXPERIMENT/data/<name>.txt")
    what.add_argument("--detections", metavar="PATH",
                      help="replace det/det.txt: a MOT det file or DeepSORT .npy (one sequence), or a folder "
                           "of <seq>.npy / <seq>.txt files")
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
    detections = detection_paths(args, seqs)
    out_dir = Path(args.results_root) / (args.experiment or experiment_name(cfg, detections))
    run_experiment(seqs, cfg, out_dir, detections=detections, save_video=args.save_video,
                   evaluate=not args.no_eval, benchmark=args.benchmark, jobs=args.jobs,
                   skip_finished=args.all and not args.force, progress=not args.quiet, strict=args.strict,
                   skip_no_frames=args.all and not args.strict, command=getattr(args, "command_line", None))
    return 0
