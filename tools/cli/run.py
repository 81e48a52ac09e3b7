"""`track run`: track one or more sequences, write MOTChallenge results, evaluate where gt exists."""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools.io.atomic import atomic_write_text
from tools.io.errors import InputError
from tools.track.run_config import DEFAULT_MAX_DISTANCE, add_config_arguments, config_from_args  # noqa: F401
from tools.track.runner import RunConfig, run_and_write
from tools.io.sequence import Sequence, find_sequence, list_sequences



def add_sequence_options(group) -> None:
    """--seq / --all / --split / --data-root: how every per-sequence command picks sequences."""
    group.add_argument("--seq", nargs="+", metavar="NAME", help="sequence name(s) under --data-root, or sequence folders")
    group.add_argument("--all", action="store_true", help="every sequence under --data-root (optionally one --split)")
    group.add_argument("--split", help="with --all: only sequences under a folder of this name (e.g. train)")
    group.add_argument("--data-root", default="data", help="where sequences are looked up (default: %(default)s)")

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
    out.add_argument("--experiment", help="results folder name (default: TRACKER-APPEARANCE)")
    out.add_argument("--results-root", default="results", help="default: %(default)s")
    out.add_argument("--save-video", action="store_true", help="also write EXPERIMENT/video/<seq>.mp4 with boxes, IDs and trails")
    out.add_argument("--no-eval", action="store_true", help="skip evaluation")
    out.add_argument("--benchmark", choices=("MOT15", "MOT16", "MOT17"), help="evaluation rules (default: from the sequence names)")
    out.add_argument("--jobs", type=int, default=1, help="sequences tracked in parallel processes (default: %(default)s)")
    out.add_argument("--force", action="store_true", help="with --all: redo sequences that already have results")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    out.add_argument("--strict", action="store_true",
                     help="stop (exit 2) at a missing or unreadable frame; by default such frames are "
                          "tracked on their detections alone, with a warning and a note in run.json")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    """Defaults < --config FILE < flags (see tools/config.py)."""
    return config_from_args(args)


def _sequences(args: argparse.Namespace) -> list[Sequence]:
    video = getattr(args, "video", None)
    if video is not None:
        if args.all or args.seq:
            raise InputError(None, "give one of --seq NAME ..., --all or --video FILE")
        if not args.detections:
            raise InputError(video, "--video needs --detections FILE (MOT det rows or a DeepSORT .npy)")
        from tools.io.video import open_video

        return [open_video(video)]
    if args.all == bool(args.seq):
        raise InputError(None, "give either --seq NAME ... or --all")
    if args.all:
        seqs = list_sequences(args.data_root, args.split)
        if not seqs:
            raise InputError(args.data_root, "no sequences found (looked for <seq>/seqinfo.ini)")
        return seqs
    return [find_sequence(name, args.data_root) for name in args.seq]


def _detection_path(args: argparse.Namespace, seq: Sequence, n_seqs: int) -> Path | None:
    if not args.detections:
        return None
    path = Path(args.detections)
    if path.is_dir():
        for suffix in (".npy", ".txt"):
            if (path / f"{seq.name}{suffix}").is_file():
                return path / f"{seq.name}{suffix}"
        raise InputError(path, f"no {seq.name}.npy or {seq.name}.txt in this folder")
    if n_seqs > 1:
        raise InputError(path, "one detection file given for several sequences; pass a folder of <seq>.npy files")
    if not path.is_file():
        raise InputError(path, "file not found")
    return path


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    if getattr(args, "video", None) is not None:
        args.save_video = True  # the annotated video is what --video is for
    seqs = _sequences(args)
    if args.experiment:
        experiment = args.experiment
    else:
        experiment = "sort" if cfg.tracker == "sort" else f"deepsort-{cfg.appearance or 'auto'}"
    out_dir = Path(args.results_root) / experiment
    det_paths = {s.name: _detection_path(args, s, len(seqs)) for s in seqs}
    manifest_path = out_dir / "run.json"
    record = {"command": getattr(args, "command_line", None), "config": cfg.to_dict()}
    todo = seqs
    if args.all and not args.force and manifest_path.is_file():
        try:
            previous = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            previous = {}
        if previous.get("config") == record["config"]:
            todo = [s for s in seqs if not (out_dir / "data" / f"{s.name}.txt").is_file()]
            if len(todo) < len(seqs):
                print(f"skipping {len(seqs) - len(todo)} finished sequence(s); --force redoes them")
    out_dir.mkdir(parents=True, exist_ok=True)
    record["damaged_frames"] = _previous_damage(manifest_path, record, seqs, todo)
    atomic_write_text(manifest_path, json.dumps(record, indent=2, default=str))
    progress = not args.quiet
    results = []
    if args.jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_and_write, s, cfg, out_dir, det_paths[s.name], args.save_video,
                                   progress, i, args.strict) for i, s in enumerate(todo)]
            results = [f.result() for f in futures]
    else:
        for s in todo:
            results.append(run_and_write(s, cfg, out_dir, det_paths[s.name], args.save_video, progress,
                                         0, args.strict))
    for r in results:
        fps = r.frames / r.tracker_seconds if r.tracker_seconds > 0 else float("inf")
        print(f"{r.name}: {r.frames} frames, {len(r.rows)} boxes, tracker {fps:,.0f} frames/s "
              f"-> {out_dir / 'data' / (r.name + '.txt')}")
    _report_damage(manifest_path, record, results)
    with_gt = [s for s in seqs if s.has_gt]
    if with_gt and not args.no_eval:
        _evaluate(out_dir, with_gt, args.benchmark)
    return 0


def _evaluate(out_dir: Path, seqs: list[Sequence], benchmark: str | None) -> None:
    from tools.eval.evaluation import evaluate, format_table, write_summary

    roots = {s.root.parent for s in seqs}
    if len(roots) > 1:
        print("sequences come from several folders; evaluate each with `track eval`", file=sys.stderr)
        return
    summary = evaluate(out_dir / "data", roots.pop(), benchmark=benchmark, seqs=[s.name for s in seqs])
    print(format_table(summary))
    write_summary(summary, json_path=out_dir / "summary.json", csv_path=out_dir / "summary.csv",
                  md_path=out_dir / "summary.md")


def _previous_damage(manifest_path: Path, record: dict, seqs: list[Sequence], todo: list[Sequence]) -> dict:
    """Damaged-frame notes of the sequences this run skips, kept from the previous run.json."""
    skipped = {s.name for s in seqs} - {s.name for s in todo}
    if not skipped or not manifest_path.is_file():
        return {}
    try:
        previous = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, OSError):
        return {}
    if not isinstance(previous, dict) or previous.get("config") != record["config"]:
        return {}
    notes = previous.get("damaged_frames")
    return {k: v for k, v in notes.items() if k in skipped} if isinstance(notes, dict) else {}


def _report_damage(manifest_path: Path, record: dict, results: list) -> None:
    """Say which frames had no image (tracked on detections alone) and note them in run.json."""
    for r in results:
        record["damaged_frames"].pop(r.name, None)
        if r.damaged:
            frames = sum(d.count for d in r.damaged)
            print(f"{r.name}: {frames} frame(s) had no image and were tracked on their detections only: "
                  + "; ".join(d.describe() for d in r.damaged), file=sys.stderr)
            record["damaged_frames"][r.name] = [d.to_dict() for d in r.damaged]
    atomic_write_text(manifest_path, json.dumps(record, indent=2, default=str))
