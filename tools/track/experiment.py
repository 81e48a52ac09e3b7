"""An experiment: sequences tracked with one RunConfig into RESULTS/EXPERIMENT, then evaluated.

The library side of `track run`. The folder holds data/<seq>.txt (MOTChallenge rows), run.json
(the command, the config, the frames tracked without an image, whether the run came to motion
only and the sequences left out for want of frames), video/<seq>.mp4 when asked for, and
summary.{json,csv,md} when the sequences have ground truth.
"""
from __future__ import annotations

import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from tools.io.atomic import atomic_write_bytes, atomic_write_text
from tools.io.errors import InputError
from tools.io.folders import check_output_folder, folder_or_nothing
from tools.io.records import read_record
from tools.io.sequence import Sequence
from tools.track.run_inputs import RunInputs, read_inputs
from tools.track.runner import APPEARANCE_TRACKERS, RunConfig, SequenceResult, run_and_write, weighs_appearance


@dataclass
class ExperimentResult:
    out_dir: Path
    results: list[SequenceResult] = field(default_factory=list)  # the sequences tracked by this call
    skipped: list[str] = field(default_factory=list)              # finished earlier, kept as they were
    no_frames: list[str] = field(default_factory=list)            # left out: no frames for the descriptor
    summary: dict | None = None                                   # evaluation, where it ran


def experiment_name(cfg: RunConfig, detections: dict[str, Path | None] | None = None) -> str:
    """The default results folder name: sort; deepsort-motion (bytetrack, ocsort) without
    appearance (--appearance none, or by default when no detection file is a .npy with features);
    TRACKER-auto for the features of .npy detection files; TRACKER-KIND or TRACKER-KIND-RUN for a
    descriptor, RUN naming its checkpoint (a `track train` run folder) in letters safe for a
    folder name."""
    if cfg.tracker == "sort":
        return "sort"
    # DeepSORT without appearance is named for it; the others are motion trackers first
    motion = "deepsort-motion" if cfg.tracker == "deepsort" else cfg.tracker
    if cfg.appearance is None:
        features = any(p is not None and Path(p).suffix == ".npy" for p in (detections or {}).values())
        return f"{cfg.tracker}-auto" if features and weighs_appearance(cfg) else motion
    kind, _, arg = cfg.appearance.partition(":")
    if kind == "none":
        return motion
    tag = _file_tag(kind, arg) if arg else ""
    return safe_name(f"{cfg.tracker}-{kind}" + (f"-{tag}" if tag and tag != safe_name(kind) else ""))


def _file_tag(kind: str, arg: str) -> str:
    """A short name for a descriptor's file: its run folder for OUT/checkpoint.pt (the folder above
    models/ for `track demo`'s RESULTS/models/KIND/checkpoint.pt), else the file's stem."""
    path = Path(arg)
    if path.stem not in ("checkpoint", "model"):
        return safe_name(path.stem)
    folder = path.absolute().parent
    if folder.name == kind and folder.parent.name == "models":
        folder = folder.parent.parent
    return safe_name(folder.name)


def safe_name(name: str) -> str:
    """Letters, digits and . _ + - only; no leading dot (a hidden folder) or trailing separator."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip("-.")


def run_experiment(seqs: list[Sequence], cfg: RunConfig, out_dir: str | Path, *,
                   detections: dict[str, Path | None] | None = None, save_video: bool = False,
                   evaluate: bool = True, benchmark: str | None = None, jobs: int = 1,
                   skip_finished: bool = False, progress: bool = True, strict: bool = False,
                   skip_no_frames: bool = False, command: list[str] | None = None) -> ExperimentResult:
    """Track `seqs` into out_dir/data/<seq>.txt, one line printed per sequence; evaluate those with gt.

    detections: per sequence name, a detection file replacing det/det.txt (None: the sequence's
    own). skip_finished: sequences that already have results from a run with the same config
    are left as they are. jobs > 1 tracks sequences in parallel processes. strict: a missing or
    unreadable frame is an InputError instead of a frame tracked on its detections alone.
    skip_no_frames: a sequence without frames, which the descriptor or the video needs, is left
    out with a warning instead of being an InputError.

    Every input is read before anything is written: a bad one leaves out_dir as it was. run.json
    is written before the first sequence (a rerun resumes from it); a run that fails before any
    sequence is finished puts the previous run.json back and removes the folders it made.
    """
    out_dir = check_output_folder(out_dir)
    manifest_path = out_dir / "run.json"
    record = {"command": command, "config": cfg.to_dict()}
    previous = read_record(manifest_path) if manifest_path.is_file() else None
    todo = seqs
    if skip_finished and previous is not None and previous.get("config") == record["config"]:
        todo = [s for s in seqs if not (out_dir / "data" / f"{s.name}.txt").is_file()]
    inputs = read_inputs(todo, cfg, detections, save_video, skip_no_frames)
    if inputs.no_frames and len(inputs.no_frames) == len(seqs):
        raise InputError(inputs.no_frames[0].root.parent, f"none of the {len(seqs)} sequence(s) has frames, "
                                                          "which the appearance descriptor or --save-video needs")
    if len(todo) < len(seqs):
        print(f"skipping {len(seqs) - len(todo)} finished sequence(s); --force redoes them")
    for s in inputs.no_frames:
        print(f"{s.name}: skipped, no frames (no img1/ folder and no video file), which the appearance "
              "descriptor or --save-video needs; --strict stops instead", file=sys.stderr)
    todo = inputs.sequences
    record["damaged_frames"] = _previous_damage(previous, record, seqs, todo)
    if cfg.tracker in APPEARANCE_TRACKERS:  # what the default (auto) appearance came to; the report's label
        record["motion_only"] = inputs.motion_only if todo else (previous or {}).get("motion_only")
    if inputs.no_frames:
        record["no_frames"] = [s.name for s in inputs.no_frames]
    finished: dict[str, SequenceResult] = {}
    with folder_or_nothing(out_dir):
        old_manifest = manifest_path.read_bytes() if manifest_path.is_file() else None
        atomic_write_text(manifest_path, json.dumps(record, indent=2, default=str))
        try:
            _track(todo, cfg, out_dir, inputs, save_video, progress, strict, jobs, finished)
        except BaseException:
            if not finished:  # nothing of this run to resume: leave the folder as it was
                _put_back(manifest_path, old_manifest, out_dir)
            raise
    results = [finished[s.name] for s in todo]
    _report_damage(manifest_path, record, results)
    if inputs.no_frames:
        print(f"tracked {len(results)} sequence(s); skipped {len(inputs.no_frames)} without frames: "
              f"{', '.join(s.name for s in inputs.no_frames)}", file=sys.stderr)
    done = {s.name for s in todo}
    left_out = {s.name for s in inputs.no_frames}
    outcome = ExperimentResult(out_dir, results, [s.name for s in seqs if s.name not in done | left_out],
                               no_frames=sorted(left_out))
    with_gt = [s for s in seqs if s.has_gt and s.name not in left_out]
    if with_gt and evaluate:
        outcome.summary = evaluate_experiment(out_dir, with_gt, benchmark)
    return outcome


def _track(todo: list[Sequence], cfg: RunConfig, out_dir: Path, inputs: RunInputs, save_video: bool, progress: bool,
           strict: bool, jobs: int, finished: dict[str, SequenceResult]) -> None:
    """Track and write each sequence into `finished`, printing its line once it is done (in a
    terminal with progress bars and parallel jobs: all lines at the end, below the bars)."""
    if jobs <= 1 or len(todo) <= 1:
        for s in todo:
            finished[s.name] = run_and_write(s, cfg, out_dir, None, save_video, progress, 0, strict,
                                             rows=inputs.rows[s.name], descriptor=inputs.descriptor)
            print(_result_line(finished[s.name], out_dir))
        return
    bars = progress and sys.stderr.isatty()
    slots = multiprocessing.Value("i", 0)
    with ProcessPoolExecutor(max_workers=jobs, initializer=_take_slot, initargs=(slots,)) as pool:
        futures = {pool.submit(_run_in_worker, s, cfg, out_dir, inputs.rows[s.name], save_video, progress,
                               strict): s.name for s in todo}
        try:
            for future in as_completed(futures):
                result = future.result()
                finished[result.name] = result
                if not bars:
                    print(_result_line(result, out_dir), flush=True)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            for future in futures:  # the sequences that finished while the others were stopped
                if future.done() and not future.cancelled() and future.exception() is None:
                    finished.setdefault(future.result().name, future.result())
            raise
    if bars:
        for s in todo:
            print(_result_line(finished[s.name], out_dir))


_SLOT = 0  # a worker process's progress bar line, 0 .. jobs - 1


def _take_slot(counter) -> None:
    global _SLOT
    with counter.get_lock():
        _SLOT = counter.value
        counter.value += 1


def _run_in_worker(seq: Sequence, cfg: RunConfig, out_dir: Path, rows, save_video: bool, progress: bool,
                   strict: bool) -> SequenceResult:
    """run_and_write in a worker: its bar on the worker's own line, cleared when done (each sequence
    gets its printed line instead), so bars neither pile up nor leave blank lines."""
    return run_and_write(seq, cfg, out_dir, None, save_video, progress, _SLOT, strict, rows=rows, leave=False)


def _result_line(r: SequenceResult, out_dir: Path) -> str:
    fps = r.frames / r.tracker_seconds if r.tracker_seconds > 0 else float("inf")
    return (f"{r.name}: {r.frames} frames, {r.detections} detections in, {len(r.rows)} track boxes out "
            f"({r.tracks} tracks), tracker {fps:,.0f} frames/s -> {out_dir / 'data' / (r.name + '.txt')}")


def _put_back(manifest_path: Path, old: bytes | None, out_dir: Path) -> None:
    """Undo the run.json of a run that finished nothing: the previous one back, or none; the
    data/ and video/ folders it made go when empty (folder_or_nothing removes out_dir)."""
    if old is not None:
        atomic_write_bytes(manifest_path, old)
    else:
        manifest_path.unlink(missing_ok=True)
    for sub in ("data", "video"):
        try:
            (out_dir / sub).rmdir()
        except OSError:
            pass  # not there, or it holds earlier results


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


def _previous_damage(previous: dict | None, record: dict, seqs: list[Sequence], todo: list[Sequence]) -> dict:
    """Damaged-frame notes of the sequences this run skips, kept from the previous run.json."""
    skipped = {s.name for s in seqs} - {s.name for s in todo}
    if not skipped:
        return {}
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
