"""A detector run over a sequence's frames: MOTChallenge det rows and how fast the detector went.

The rows are what a det/det.txt holds, (frame, -1, x, y, w, h, score, -1, -1, -1), frames from
1, so `track run --detections FILE` (or a sequence's own det/det.txt) reads them back unchanged.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from tools.detect.detector import Detector
from tools.io.atomic import remove_stale_temps
from tools.io.motformat import DET_ROW, write_mot
from tools.io.sequence import Sequence

DET_COLUMNS = 10


@dataclass
class DetectionRun:
    name: str                 # the sequence (or video) name
    rows: np.ndarray          # (N, 10) MOT det rows, frame order
    frames: int               # frames the run went through (those without an image included)
    detector_seconds: float   # in detector.detect alone
    total_seconds: float      # with frame decoding
    detector: str = ""        # detector.describe()
    damaged: list = field(default_factory=list)  # tools.io.frames.DamagedFrames: frames with no image

    @property
    def detections(self) -> int:
        return len(self.rows)

    @property
    def fps(self) -> float:
        """Detector frames/s: frames over the time spent in detect() (decoding not counted)."""
        return self.frames / self.detector_seconds if self.detector_seconds > 0 else float("inf")

    def line(self, path: Path | None = None) -> str:
        """One line for the terminal: counts, speed and where the rows went."""
        where = f" -> {path}" if path is not None else ""
        return (f"{self.name}: {self.frames} frames, {self.detections} detections "
                f"({self.detections / max(self.frames, 1):.1f} a frame), detector {self.fps:,.1f} frames/s{where}")


def detect_frames(detector: Detector, frames: Iterable[tuple[int, np.ndarray | None]]) -> tuple[np.ndarray, int, float]:
    """Run `detector` on (frame number, BGR image) pairs; an image of None (a damaged frame) gets
    no detections. Returns (rows (N, 10), frames seen, seconds in detect())."""
    out: list[np.ndarray] = []
    seen = 0
    seconds = 0.0
    for frame_no, image in frames:
        seen += 1
        if image is None:
            continue
        t0 = time.perf_counter()
        tlwh, scores = detector.detect(image)
        seconds += time.perf_counter() - t0
        if len(scores):
            rows = np.full((len(scores), DET_COLUMNS), -1.0)
            rows[:, 0] = frame_no
            rows[:, 2:6] = tlwh
            rows[:, 6] = scores
            out.append(rows)
    rows = np.concatenate(out) if out else np.zeros((0, DET_COLUMNS))
    return rows, seen, seconds


def detect_sequence(seq: Sequence, detector: Detector, *, progress: bool = True, strict: bool = False,
                    position: int = 0, leave: bool = True) -> DetectionRun:
    """Run `detector` over frames 1..seqLength of `seq` (img1/ or its video file).

    A frame that is missing or cannot be decoded gets no detections, with a warning and a record
    in `damaged`; strict=True makes it an InputError instead. The progress bar shows only when
    stderr is a terminal.
    """
    from tools.io.frames import iter_frames

    started = time.perf_counter()
    damaged: list = []
    frames: Iterator = iter_frames(seq, strict, damaged, warn=lambda line: tqdm.write(line, file=sys.stderr))
    bar = tqdm(frames, total=seq.info.length, desc=f"{seq.name} detect", unit="frame",
               disable=None if progress else True, position=position, leave=leave, dynamic_ncols=True)
    try:
        rows, seen, seconds = detect_frames(detector, bar)
    finally:
        bar.close()
    return DetectionRun(seq.name, rows, seen, seconds, time.perf_counter() - started, detector.describe(), damaged)


def write_detections(path: str | Path, rows: np.ndarray) -> Path:
    """MOT det rows written atomically as a det.txt: frame,-1,x,y,w,h,score,-1,-1,-1."""
    started = time.time()
    path = Path(path)
    rows = np.asarray(rows, np.float64).reshape(-1, DET_COLUMNS) if len(rows) else np.zeros((0, DET_COLUMNS))
    write_mot(path, rows, DET_ROW, [0, 1, 2, 3, 4, 5, 6])
    remove_stale_temps(path, started)
    return path


def detect_to_folder(seqs: list[Sequence], detector: Detector, folder: str | Path, *, progress: bool = True,
                     strict: bool = False, report: Callable[[str], object] | None = print) -> dict[str, Path]:
    """Detect in every sequence and write folder/<seq>.txt; `report` gets one line a sequence.
    A sequence without frames is an InputError before anything is detected. Returns the paths by
    sequence name, as `track run --detections` takes them."""
    from tools.io.errors import InputError

    folder = Path(folder)
    for seq in seqs:
        if not seq.has_frames:
            raise InputError(seq.root, "the sequence has no frames (no img1/ folder and no video file) "
                                       "to detect people in")
    paths = {}
    for seq in seqs:
        done = detect_sequence(seq, detector, progress=progress, strict=strict)
        paths[seq.name] = write_detections(folder / f"{seq.name}.txt", done.rows)
        if report is not None:
            report(done.line(paths[seq.name]))
    return paths
