"""BoxMOT side of tools/bench/boxmot_compare.py; runs under the BoxMOT virtual environment.

Imports only the standard library, NumPy and boxmot (never this project). Reads a job file
(JSON) that boxmot_compare.py writes:

    {"tracker": "bytetrack", "pass": 1, "out": "DIR", "write": true,
     "sequences": [{"name": ..., "det": ".../det/det.txt", "length": N, "width": W,
                    "height": H, "frame_rate": F}, ...]}

For each sequence it feeds BoxMOT's Python tracker (constructor defaults, motion only) one
update() per frame 1..length: the frame's detections as an (N, 6) float array
[x1, y1, x2, y2, conf, cls=0] (an empty (0, 6) array on a frame without detections) and a black
uint8 BGR image of the sequence's size (made once per sequence, outside the timing). Only the
update() calls are timed. With "write" it writes DIR/data/<seq>.txt as MOTChallenge rows
(frame, id, x, y, w, h, 1, -1, -1, -1) and always DIR/timing-pass<k>.json with the seconds
per sequence, the boxmot version and the constructor options used.

    python tools/bench/boxmot_worker.py JOB.json
"""
from __future__ import annotations

import collections
import inspect
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

# our name -> BoxMOT class name, and the keyword options we set (everything else: defaults)
CLASSES = {"bytetrack": "ByteTrack", "ocsort": "OcSort", "botsort": "BotSort", "boosttrack": "BoostTrack"}
MOTION_ONLY = {
    # BoT-SORT's constructor defaults to use_embeddings=True, which would build a ReID model
    # (downloading weights); reid_weights=None and use_embeddings=False keep it motion only.
    "botsort": {"use_embeddings": False, "reid_weights": None},
    # BoostTrack defaults to use_embeddings=False already; said explicitly.
    "boosttrack": {"use_embeddings": False, "reid_weights": None},
}


def make_tracker(name: str, frame_rate: float):
    """A BoxMOT tracker with its constructor's defaults, motion only; frame_rate from seqinfo
    where the constructor takes one (ByteTrack, BoT-SORT: they scale track_buffer with it)."""
    import boxmot

    cls = getattr(boxmot, CLASSES[name])
    options = dict(MOTION_ONLY.get(name, {}))
    if "frame_rate" in inspect.signature(cls.__init__).parameters:
        options["frame_rate"] = int(round(frame_rate))
    return cls(**options), options


def read_detections(path: str, length: int) -> list[np.ndarray]:
    """Per frame 1..length (index 0 unused): (N, 6) float32 [x1, y1, x2, y2, conf, 0]."""
    text = Path(path).read_text()
    rows = [line.replace(" ", "").split(",") for line in text.splitlines() if line.strip()]
    data = np.array([[float(v) for v in r[:7]] for r in rows], dtype=np.float64).reshape(-1, 7)
    frames = data[:, 0].astype(np.int64)
    out = [np.zeros((0, 6), np.float32) for _ in range(length + 1)]
    for f in range(1, length + 1):
        d = data[frames == f]
        if len(d):
            x, y, w, h, c = d[:, 2], d[:, 3], d[:, 4], d[:, 5], d[:, 6]
            out[f] = np.column_stack([x, y, x + w, y + h, c, np.zeros(len(d))]).astype(np.float32)
    return out


def run_sequence(name: str, seq: dict) -> tuple[np.ndarray, float, dict]:
    """(rows (K, 6) frame, id, x, y, w, h; seconds in update(); options used)."""
    per_frame = read_detections(seq["det"], seq["length"])
    image = np.zeros((seq["height"], seq["width"], 3), np.uint8)
    tracker, options = make_tracker(name, seq["frame_rate"])
    out = []
    seconds = 0.0
    clock = time.perf_counter
    for frame in range(1, seq["length"] + 1):
        dets = per_frame[frame]
        t0 = clock()
        tracks = tracker.update(dets, image)
        seconds += clock() - t0
        for t in np.asarray(tracks, dtype=np.float64).reshape(len(tracks), -1) if len(tracks) else ():
            x1, y1, x2, y2, tid = (float(v) for v in t[:5])  # [x1, y1, x2, y2, id, conf, cls, det_ind]
            out.append((frame, int(tid), x1, y1, x2 - x1, y2 - y1))
    rows = np.array(out, dtype=np.float64).reshape(-1, 6)
    return rows, seconds, options


def write_rows(path: Path, rows: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        for r in rows:
            fh.write("%d,%d,%.2f,%.2f,%.2f,%.2f,1,-1,-1,-1\n" % tuple(r))
    os.replace(tmp, path)


class _CountingHandler(logging.Handler):
    """Replaces BoxMOT's console handler: counts its warnings (e.g. BoT-SORT's and BoostTrack's
    "ECC did not converge" on every black frame) instead of printing them inside the timing."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: collections.Counter = collections.Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[record.getMessage()[:120]] += 1


def _quiet_boxmot_logger() -> _CountingHandler:
    import boxmot.utils  # noqa: F401  (boxmot imports lazily; this one installs the Rich handler)

    log = logging.getLogger("boxmot")
    for h in list(log.handlers):
        log.removeHandler(h)
    handler = _CountingHandler()
    log.addHandler(handler)
    log.setLevel(logging.WARNING)  # drops the INFO line each constructor logs
    log.propagate = False
    return handler


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    import boxmot

    counter = _quiet_boxmot_logger()
    name = job["tracker"]
    out = Path(job["out"])
    timing = {"tracker": name, "side": "boxmot", "pass": job["pass"], "boxmot": boxmot.__version__,
              "class": CLASSES[name], "seconds": {}, "frames": {}, "boxes": {}, "options": {}}
    for seq in job["sequences"]:
        rows, seconds, options = run_sequence(name, seq)
        timing["seconds"][seq["name"]] = seconds
        timing["frames"][seq["name"]] = seq["length"]
        timing["boxes"][seq["name"]] = len(rows)
        timing["options"][seq["name"]] = options
        if job.get("write", True):
            write_rows(out / "data" / f"{seq['name']}.txt", rows)
    timing["warnings"] = dict(counter.counts)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"timing-pass{job['pass']}.json").write_text(json.dumps(timing, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
