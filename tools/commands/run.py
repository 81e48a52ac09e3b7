"""`track run`: track one or more sequences, write MOTChallenge results, evaluate where gt exists."""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools.atomic import atomic_write_text
from tools.errors import InputError
from tools.runner import TRACKERS, RunConfig, run_and_write
from tools.sequence import Sequence, find_sequence, list_sequences
from tracker import DeepSortParams, DetectionFilter, SortParams

# Documented default thresholds per distance (cosine: DeepSORT's 0.2; squared Euclidean on
# unit-free latents has no universal scale, so calibrate it for each descriptor).
DEFAULT_MAX_DISTANCE = {"cosine": 0.2, "euclidean": 1.0}


def register(sub) -> None:
    p = sub.add_parser("run", help="track sequences and write MOTChallenge results",
                       description="Track sequences with SORT or DeepSORT. Results go to "
                                   "RESULTS_ROOT/EXPERIMENT/data/<seq>.txt; sequences with ground "
                                   "truth are evaluated with TrackEval afterwards.")
    what = p.add_argument_group("what to track")
    what.add_argument("--seq", nargs="+", metavar="NAME", help="sequence name(s) under --data-root, or sequence folders")
    what.add_argument("--all", action="store_true", help="every sequence under --data-root (optionally one --split)")
    what.add_argument("--split", help="with --all: only sequences under a folder of this name (e.g. train)")
    what.add_argument("--data-root", default="data", help="where sequences are looked up (default: %(default)s)")
    what.add_argument("--detections", metavar="PATH",
                      help="replace det/det.txt: a MOT det file or DeepSORT .npy (one sequence), or a folder "
                           "of <seq>.npy / <seq>.txt files")
    how = p.add_argument_group("tracker")
    how.add_argument("--tracker", choices=TRACKERS, default="deepsort", help="default: %(default)s")
    how.add_argument("--appearance", metavar="SPEC",
                     help="DeepSORT descriptor: none (motion only), hist, or a registered name[:ARG]. "
                          "Default: the features carried by the detection file, else none")
    how.add_argument("--metric", choices=("cosine", "euclidean"), help="appearance distance (default: cosine)")
    how.add_argument("--max-distance", type=float,
                     help="appearance gate: cosine distance (default 0.2) or squared Euclidean (default 1.0)")
    how.add_argument("--nn-budget", type=int, default=DeepSortParams.nn_budget, help="gallery size per track (default: %(default)s)")
    how.add_argument("--max-age", type=int, help="frames a lost track is kept (default: sort 1, deepsort 30)")
    how.add_argument("--min-hits", type=int, default=SortParams.min_hits, help="SORT: hits before a track is reported (default: %(default)s)")
    how.add_argument("--iou-threshold", type=float, default=SortParams.iou_threshold, help="SORT: minimum IoU for a match (default: %(default)s)")
    how.add_argument("--n-init", type=int, default=DeepSortParams.n_init, help="DeepSORT: hits before a track is confirmed (default: %(default)s)")
    how.add_argument("--max-iou-distance", type=float, default=DeepSortParams.max_iou_distance, help="DeepSORT IoU stage gate (default: %(default)s)")
    how.add_argument("--min-confidence", type=float, default=DetectionFilter.min_confidence, help="DeepSORT: drop weaker detections (default: %(default)s)")
    how.add_argument("--min-height", type=float, default=DetectionFilter.min_height, help="DeepSORT: drop shorter boxes (default: %(default)s)")
    how.add_argument("--nms-max-overlap", type=float, default=DetectionFilter.nms_max_overlap, help="DeepSORT: NMS overlap (default: %(default)s)")
    out = p.add_argument_group("output")
    out.add_argument("--experiment", help="results folder name (default: TRACKER-APPEARANCE)")
    out.add_argument("--results-root", default="results", help="default: %(default)s")
    out.add_argument("--save-video", action="store_true", help="also write EXPERIMENT/video/<seq>.mp4 with boxes, IDs and trails")
    out.add_argument("--no-eval", action="store_true", help="skip evaluation")
    out.add_argument("--benchmark", choices=("MOT15", "MOT16", "MOT17"), help="evaluation rules (default: from the sequence names)")
    out.add_argument("--jobs", type=int, default=1, help="sequences tracked in parallel processes (default: %(default)s)")
    out.add_argument("--force", action="store_true", help="with --all: redo sequences that already have results")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    metric = args.metric or "cosine"
    max_age = args.max_age
    sort = SortParams(max_age=1 if max_age is None else max_age, min_hits=args.min_hits,
                      iou_threshold=args.iou_threshold)
    deep = DeepSortParams(max_distance=args.max_distance if args.max_distance is not None else DEFAULT_MAX_DISTANCE[metric],
                          metric=metric, nn_budget=args.nn_budget,
                          max_iou_distance=args.max_iou_distance,
                          max_age=30 if max_age is None else max_age, n_init=args.n_init)
    filt = DetectionFilter(args.min_confidence, args.min_height, args.nms_max_overlap)
    return RunConfig(args.tracker, args.appearance, sort, deep, filt)


def _sequences(args: argparse.Namespace) -> list[Sequence]:
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
    atomic_write_text(manifest_path, json.dumps(record, indent=2, default=str))
    progress = not args.quiet
    results = []
    if args.jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_and_write, s, cfg, out_dir, det_paths[s.name], args.save_video,
                                   progress, i) for i, s in enumerate(todo)]
            results = [f.result() for f in futures]
    else:
        for s in todo:
            results.append(run_and_write(s, cfg, out_dir, det_paths[s.name], args.save_video, progress))
    for r in results:
        fps = r.frames / r.tracker_seconds if r.tracker_seconds > 0 else float("inf")
        print(f"{r.name}: {r.frames} frames, {len(r.rows)} boxes, tracker {fps:,.0f} frames/s "
              f"-> {out_dir / 'data' / (r.name + '.txt')}")
    with_gt = [s for s in seqs if s.has_gt]
    if with_gt and not args.no_eval:
        _evaluate(out_dir, with_gt, args.benchmark)
    return 0


def _evaluate(out_dir: Path, seqs: list[Sequence], benchmark: str | None) -> None:
    from tools.evaluation import evaluate, format_table, write_summary

    roots = {s.root.parent for s in seqs}
    if len(roots) > 1:
        print("sequences come from several folders; evaluate each with `track eval`", file=sys.stderr)
        return
    summary = evaluate(out_dir / "data", roots.pop(), benchmark=benchmark, seqs=[s.name for s in seqs])
    print(format_table(summary))
    write_summary(summary, json_path=out_dir / "summary.json", csv_path=out_dir / "summary.csv",
                  md_path=out_dir / "summary.md")
