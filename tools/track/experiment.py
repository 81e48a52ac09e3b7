"""An experiment: sequences tracked with one RunConfig into RESULTS/EXPERIMENT, then evaluated.

The library side of `track run`. The folder holds data/<seq>.txt (MOTChallenge rows), run.json
(the command, the config and the frames tracked without an image), video/<seq>.mp4 when asked
for, and summary.{json,csv,md} when the sequences have ground truth.
"""
from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tools.io.atomic import atomic_write_text
from tools.io.records import read_record
from tools.io.sequence import Sequence
from tools.track.runner import RunConfig, SequenceResult, run_and_write


@dataclass
class ExperimentResult:
    out_dir: Path
    results: list[SequenceResult] = field(default_factory=list)  # the sequences tracked by this call
    skipped: list[str] = field(default_factory=list)              # finished earlier, kept as they were
    summary: dict | None = None                                   # evaluation, where it ran


def experiment_name(cfg: RunConfig) -> str:
    """The default results folder name: sort, or deepsort-APPEARANCE (deepsort-auto when unset)."""
    return "sort" if cfg.tracker == "sort" else f"deepsort-{cfg.appearance or 'auto'}"


def run_experiment(seqs: list[Sequence], cfg: RunConfig, out_dir: str | Path, *,
                   detections: dict[str, Path | None] | None = None, save_video: bool = False,
                   evaluate: bool = True, benchmark: str | None = None, jobs: int = 1,
                   skip_finished: bool = False, progress: bool = True, strict: bool = False,
                   command: list[str] | None = None) -> ExperimentResult:
    """Track `seqs` into out_dir/data/<seq>.txt, one line printed per sequence; evaluate those with gt.

    detections: per sequence name, a detection file replacing det/det.txt (None: the sequence's
    own). skip_finished: sequences that already have results from a run with the same config
    are left as they are. jobs > 1 tracks sequences in parallel processes. strict: a missing or
    unreadable frame is an InputError instead of a frame tracked on its detections alone.
    """
    out_dir = Path(out_dir)
    det_paths = detections or {}
    manifest_path = out_dir / "run.json"
    record = {"command": command, "config": cfg.to_dict()}
    todo = seqs
    if skip_finished and manifest_path.is_file():
        previous = read_record(manifest_path) or {}
        if previous.get("config") == record["config"]:
            todo = [s for s in seqs if not (out_dir / "data" / f"{s.name}.txt").is_file()]
            if len(todo) < len(seqs):
                print(f"skipping {len(seqs) - len(todo)} finished sequence(s); --force redoes them")
    out_dir.mkdir(parents=True, exist_ok=True)
    record["damaged_frames"] = _previous_damage(manifest_path, record, seqs, todo)
    atomic_write_text(manifest_path, json.dumps(record, indent=2, default=str))
    results = []
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_and_write, s, cfg, out_dir, det_paths.get(s.name), save_video,
                                   progress, i, strict) for i, s in enumerate(todo)]
            results = [f.result() for f in futures]
    else:
        for s in todo:
            results.append(run_and_write(s, cfg, out_dir, det_paths.get(s.name), save_video, progress,
                                         0, strict))
    for r in results:
        fps = r.frames / r.tracker_seconds if r.tracker_seconds > 0 else float("inf")
        print(f"{r.name}: {r.frames} frames, {len(r.rows)} boxes, tracker {fps:,.0f} frames/s "
              f"-> {out_dir / 'data' / (r.name + '.txt')}")
    _report_damage(manifest_path, record, results)
    done = {s.name for s in todo}
    outcome = ExperimentResult(out_dir, results, [s.name for s in seqs if s.name not in done])
    with_gt = [s for s in seqs if s.has_gt]
    if with_gt and evaluate:
        outcome.summary = evaluate_experiment(out_dir, with_gt, benchmark)
    return outcome


def evaluate_experiment(out_dir: Path, seqs: list[Sequence], benchmark: str | None) -> dict | None:
    """TrackEval on out_dir/data against the sequences' gt: print the table, write summary.*."""
    from tools.eval.evaluation import evaluate, format_table, write_summary

    roots = {s.root.parent for s in seqs}
    if len(roots) > 1:
        print("sequences come from several folders; evaluate each with `track eval`", file=sys.stderr)
        return None
    summary = evaluate(out_dir / "data", roots.pop(), benchmark=benchmark, seqs=[s.name for s in seqs])
    print(format_table(summary))
    write_summary(summary, json_path=out_dir / "summary.json", csv_path=out_dir / "summary.csv",
                  md_path=out_dir / "summary.md")
    return summary


def _previous_damage(manifest_path: Path, record: dict, seqs: list[Sequence], todo: list[Sequence]) -> dict:
    """Damaged-frame notes of the sequences this run skips, kept from the previous run.json."""
    skipped = {s.name for s in seqs} - {s.name for s in todo}
    if not skipped:
        return {}
    previous = read_record(manifest_path)
    if previous is None or previous.get("config") != record["config"]:
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
