"""The detector bench: OpenCV's HOG people detector on the MOT15 sequences that have frames, its speed
and what SORT makes of its detections next to the public (Faster R-CNN) ones.

For each sequence (default PETS09-S2L1 and TUD-Stadtmitte) and each --upscale, HOG runs once over
every frame with no score cut (min_score 0) and its rows are kept under OUT/hog-xUPSCALE/<seq>.txt
(reused by later runs; --force redoes them). Each --min-score then filters those rows, SORT
(`track run --tracker sort`, its defaults) tracks them, and TrackEval scores them (MOT15 rules),
as it does the public det/det.txt:

    python -m tools.bench.detector [--data-root DIR] [--upscale 1.0 1.5]
                                   [--min-score 0.5 0.7 0.8 0.9] [--seqs PETS09-S2L1 TUD-Stadtmitte]

The row "upscale 1.5, min score 0.8" is HOG as `track detect` and `track run --video` run it by
default. Detector frames/s is frames over the time inside detect() (decoding not counted), on
this machine, with whatever else ran on it. Writes OUT/table.md and table.json (OUT: data/detector-bench) and
prints the table. Skips cleanly (exit 0) when the data folder is absent or OpenCV has no HOG.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tools.bench.data_root import PROJECT_ROOT, absent, add_data_root
from tools.bench.table_files import write_table
from tools.detect.detection_run import detect_sequence, write_detections
from tools.detect.hog import HogDetector, hog_available
from tools.eval.evaluation import evaluate
from tools.io.atomic import atomic_write_text
from tools.io.errors import exit_status
from tools.io.machine import cpu_model
from tools.io.motformat import write_results
from tools.io.sequence import Sequence
from tools.track.runner import RunConfig, track_sequence

SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")
SHOWN = ("MOTA", "IDF1", "HOTA", "IDs")


def sort_config() -> RunConfig:
    """`track run --tracker sort` with nothing else: SORT's defaults."""
    from tools.track.run_config import resolve

    return resolve(None, {"tracker": "sort"})


def hog_rows(seq: Sequence, upscale: float, cache: Path, force: bool, progress: bool) -> tuple[Path, dict]:
    """HOG's rows for `seq` at `upscale` (no score cut), from the cache or detected now."""
    path = cache / f"hog-x{upscale:g}" / f"{seq.name}.txt"
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file() and not force:
        return path, json.loads(meta_path.read_text())
    detector = HogDetector(upscale=upscale, min_score=0.0)
    run = detect_sequence(seq, detector, progress=progress)
    write_detections(path, run.rows)
    meta = {"frames": run.frames, "detections": run.detections, "detector_seconds": run.detector_seconds,
            "fps": run.fps, "detector": run.detector, "machine": cpu_model()}
    atomic_write_text(meta_path, json.dumps(meta, indent=2))
    print(run.line(path), flush=True)
    return path, meta


def score(seqs: list[Sequence], det_files: dict[str, Path], min_score: float, data_root: Path) -> dict:
    """SORT on each sequence's detections with score >= min_score; TrackEval's rows by sequence."""
    cfg = sort_config()
    with tempfile.TemporaryDirectory(prefix="detector-bench-") as tmp:
        counts = {}
        for seq in seqs:
            rows = seq.detections(det_files[seq.name])
            keep = rows.data[:, 6] >= min_score
            rows.data, rows.line = rows.data[keep], rows.line[keep]
            counts[seq.name] = len(rows.data)
            result = track_sequence(seq, cfg, rows, progress=False, descriptor=None)
            write_results(Path(tmp) / f"{seq.name}.txt", result.rows)
        summary = evaluate(tmp, data_root, "MOT15", seqs=[s.name for s in seqs])
    return {name: {**{k: summary[name][k] for k in SHOWN}, "det_rows": counts.get(name)}
            for name in [s.name for s in seqs] + ["COMBINED"]}


def measure(data_root: Path, names: list[str], upscales: list[float], min_scores: list[float], out: Path,
            force: bool, progress: bool) -> list[dict]:
    seqs = []
    for name in names:
        seq = Sequence.open(data_root / name)
        if not seq.has_frames:
            print(f"{name}: no frames, left out", file=sys.stderr)
            continue
        seqs.append(seq)
    entries = []
    public = score(seqs, {s.name: s.det_path for s in seqs}, -np.inf, data_root)
    entries.append({"detections": "public (det/det.txt)", "fps": {}, "scores": public})
    _print(entries[-1], seqs)
    for up in upscales:
        files, fps = {}, {}
        for seq in seqs:
            files[seq.name], meta = hog_rows(seq, up, out, force, progress)
            fps[seq.name] = meta["fps"]
        for ms in min_scores:
            entries.append({"detections": f"HOG, upscale {up:g}, min score {ms:g}", "upscale": up,
                            "min_score": ms, "fps": fps, "scores": score(seqs, files, ms, data_root)})
            _print(entries[-1], seqs)
    return entries


def _cells(values: dict) -> str:
    return " | ".join(f"{values[k]:.0f}" if k == "IDs" else f"{values[k]:.1f}" for k in SHOWN)


def _print(entry: dict, seqs: list[Sequence]) -> None:
    for s in seqs:
        v = entry["scores"][s.name]
        fps = entry["fps"].get(s.name)
        print(f"{s.name} | {entry['detections']} | {v['det_rows']} rows | "
              f"{'-' if fps is None else f'{fps:.2f}'} frames/s | {_cells(v)}", flush=True)


def markdown(entries: list[dict], seqs: list[str]) -> str:
    lines = [f"| sequence | detections | det rows | detector frames/s | {' | '.join(SHOWN)} |",
             "|---|---|---|---|" + "---|" * len(SHOWN)]
    for name in seqs:
        for e in entries:
            if name not in e["scores"]:
                continue
            v = e["scores"][name]
            fps = e["fps"].get(name)
            lines.append(f"| {name} | {e['detections']} | {v['det_rows']} | "
                         f"{'—' if fps is None else f'{fps:.2f}'} | {_cells(v)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.detector", description=__doc__.split("\n")[0])
    add_data_root(parser)
    parser.add_argument("--seqs", nargs="+", default=list(SEQS), metavar="NAME",
                        help="sequences with frames (default: %(default)s)")
    parser.add_argument("--upscale", nargs="+", type=float, default=[1.5],
                        help="HOG's frame upscale factors to try (default: %(default)s, the detector's own)")
    parser.add_argument("--min-score", nargs="+", type=float, default=[0.5, 0.7, 0.8, 0.9],
                        help="score cuts applied to HOG's rows before SORT (default: %(default)s; HOG's "
                             "scores start at 0.5, so 0.5 keeps every row)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "detector-bench",
                        help="table and cached detections (default: data/detector-bench)")
    parser.add_argument("--force", action="store_true", help="detect again instead of reusing cached rows")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if absent(args.data_root):
        return 0
    if not hog_available():
        print("skipped: this OpenCV has no HOGDescriptor (OpenCV 5 without contrib)")
        return 0
    present = [n for n in args.seqs if (args.data_root / n / "seqinfo.ini").is_file()]
    if not present:
        print(f"skipped: none of {', '.join(args.seqs)} under {args.data_root}")
        return 0

    def run() -> int:
        started = time.time()
        entries = measure(args.data_root, present, args.upscale, args.min_score, args.out, args.force,
                          not args.quiet)
        table = markdown(entries, present)
        note = (f"\nSORT (`track run --tracker sort` defaults) on each detection set, TrackEval MOT15 rules. "
                f"Detector frames/s: time inside detect() only. Machine: {cpu_model()}; "
                f"{time.time() - started:.0f} s.\n")
        write_table(args.out, table + note, entries)
        return 0

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
