"""The tracker table on the MOT15 train sequences: every tracker on the public detections.

Each row is a named configuration, the `track run` flags that give it; every row tracks the same
detections through the library call `track run` wraps, is scored with TrackEval (MOT15 rules)
combined over all sequences found and over the two image sequences, and is timed on the tracker
alone (frames/s over all frames, best of --passes). Rows with an appearance descriptor or camera
motion need frames, so they run on the image sequences alone (their all-sequence cells stay
empty), and their frames/s counts the tracker calls, not the descriptor:

    python -m tools.bench.tracker_table [--data-root DIR] [--rows NAME ...]

Writes data/tracker-table/table.md and table.json and prints the table. Skips cleanly (exit 0)
when the data folder is absent.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.data_root import PROJECT_ROOT, absent, add_data_root
from tools.bench.table_files import write_table
from tools.eval.evaluation import evaluate
from tools.io.errors import exit_status
from tools.io.machine import cpu_model
from tools.io.motformat import write_results
from tools.io.sequence import Sequence, list_sequences
from tools.track.run_config import config_argv, resolve
from tools.track.runner import RunConfig, open_run_descriptor, track_sequence

IMAGE_SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
# name -> the `track run` flags of the row (argparse dests, as tools.track.run_config.resolve takes them)
_SPLIT = {"tracker": "bytetrack", "track_thresh": 0.8}
_HIST = {**_SPLIT, "appearance": "hist"}
ROWS: dict[str, dict] = {
    "SORT (paper)": {"tracker": "sort"},
    "DeepSORT (paper)": {"tracker": "deepsort", "appearance": "none"},
    "ByteTrack (paper)": {"tracker": "bytetrack"},
    "OC-SORT (paper)": {"tracker": "ocsort"},
    "SORT, max age 20, min hits 4, gaps <= 20 interpolated": {"tracker": "sort", "max_age": 20, "min_hits": 4,
                                                              "interpolate": 20},
    "ByteTrack, score split 0.8": _SPLIT,
    "ByteTrack, score split 0.8, gaps <= 10 interpolated": {**_SPLIT, "interpolate": 10},
    "OC-SORT, gaps <= 10 interpolated": {"tracker": "ocsort", "interpolate": 10},
    # the sweeps docs/trackers.md quotes around the chosen configuration
    "ByteTrack, score split 0.75": {**_SPLIT, "track_thresh": 0.75},
    "ByteTrack, score split 0.85": {**_SPLIT, "track_thresh": 0.85},
    "ByteTrack, score split 0.8, buffer 60": {**_SPLIT, "track_buffer": 60},
    "ByteTrack, score split 0.8, match 0.7": {**_SPLIT, "match_thresh": 0.7},
    "ByteTrack, score split 0.8, match 0.9": {**_SPLIT, "match_thresh": 0.9},
    "ByteTrack (paper), gaps <= 20 interpolated": {"tracker": "bytetrack", "interpolate": 20},
    "DeepSORT (paper), max age 10": {"tracker": "deepsort", "appearance": "none", "max_age": 10},
    # rows that need frames: the image sequences only
    "ByteTrack, score split 0.8, camera motion flow": {**_SPLIT, "camera_motion": "flow"},
    "ByteTrack, score split 0.8, camera motion ecc": {**_SPLIT, "camera_motion": "ecc"},
    "DeepSORT + colour histogram": {"tracker": "deepsort", "appearance": "hist"},
    **{f"ByteTrack, score split 0.8 + colour histogram (weight {w:g}, gate {g:g})": {
        **_HIST, "appearance_weight": w, "appearance_thresh": g}
       for w, g in ((0.1, 0.4), (0.05, 0.4), (0.15, 0.4), (0.2, 0.4), (0.1, 0.3), (0.1, 0.5), (0.2, 0.5),
                    (0.3, 0.6), (0.5, 0.25))},
    "ByteTrack, score split 0.8 + colour histogram (weight 0.1, gate 0.4), camera motion flow": {
        **_HIST, "appearance_weight": 0.1, "appearance_thresh": 0.4, "camera_motion": "flow"},
}
SHOWN = ("IDF1", "MOTA", "HOTA", "IDs")


def row_config(flags: dict) -> RunConfig:
    return resolve(None, flags)


def track_row(seqs: list[Sequence], cfg: RunConfig, out_dir: Path, passes: int = 2) -> float:
    """Track every sequence into out_dir/<seq>.txt; returns the tracker-only frames/s (best pass)."""
    descriptor = open_run_descriptor(cfg)
    best = 0.0
    for _ in range(max(1, passes)):
        seconds = frames = 0
        for seq in seqs:
            result = track_sequence(seq, cfg, progress=False, descriptor=descriptor)
            write_results(out_dir / f"{seq.name}.txt", result.rows)
            seconds += result.tracker_seconds
            frames += result.frames
        best = max(best, frames / max(seconds, 1e-9))
    return best


def measure(data_root: Path, rows: list[str], passes: int = 2) -> list[dict]:
    seqs = list_sequences(data_root)
    names = [s.name for s in seqs]
    two = [n for n in IMAGE_SEQS if n in names]
    out = []
    for name in rows:
        flags = ROWS[name]
        cfg = row_config(flags)
        needs_frames = cfg.appearance not in (None, "none") or cfg.camera_motion != "none"
        if needs_frames and not two:
            print(f"{name}: skipped, no image sequence under {data_root}")
            continue
        run_on = [s for s in seqs if s.name in two] if needs_frames else seqs
        with tempfile.TemporaryDirectory(prefix="tracker-table-") as tmp:
            fps = track_row(run_on, cfg, Path(tmp), passes)
            every = None if needs_frames else evaluate(tmp, data_root, "MOT15")["COMBINED"]
            pair = evaluate(tmp, data_root, "MOT15", seqs=two)["COMBINED"] if two else None
        where = "--seq " + " ".join(two) if needs_frames else "--all"
        entry = {"row": name, "flags": flags, "command": f"track run {where} " + shlex.join(config_argv(flags)),
                 "all": every and {k: every[k] for k in SHOWN}, "pair": pair and {k: pair[k] for k in SHOWN},
                 "fps": fps}
        print(f"{name}: {_cells(entry['all'])} | {_cells(entry['pair'])} | {fps:,.0f} frames/s",
              flush=True)
        out.append(entry)
    return out


def _cells(values: dict | None) -> str:
    if values is None:
        return " / ".join("—" for _ in SHOWN)
    return " / ".join(f"{values[k]:.0f}" if k == "IDs" else f"{values[k]:.1f}" for k in SHOWN)


def markdown(entries: list[dict], n_seqs: int) -> str:
    head = (f"| configuration | {n_seqs} sequences: {' / '.join(SHOWN)} | PETS09 + TUD-Stadtmitte | "
            "tracker frames/s |\n|---|---|---|---|\n")
    return head + "".join(f"| {e['row']} | {_cells(e['all'])} | {_cells(e['pair'])} | {e['fps']:,.0f} |\n"
                          for e in entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.tracker_table", description=__doc__.split("\n")[0])
    add_data_root(parser)
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), metavar="NAME",
                        help="configurations to measure (default: all)")
    parser.add_argument("--passes", type=int, default=2, help="timing passes; the best counts (default: 2)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "tracker-table")
    args = parser.parse_args(argv)
    if absent(args.data_root):
        return 0

    def run() -> int:
        started = time.time()
        entries = measure(args.data_root, args.rows, args.passes)
        n = len(list_sequences(args.data_root))
        table = markdown(entries, n)
        write_table(args.out, table + f"\nMachine: {cpu_model()}; {time.time() - started:.0f} s.\n", entries)
        return 0

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
