"""Appearance features for a sequence's detections, written as DeepSORT's .npy detection files.

The .npy layout (10 MOT det columns, then the feature) is the one nwojke/deep_sort's
`generate_detections.py` writes and `deep_sort_app.py` reads, so features made here drive the
original DeepSORT, and its files drive `track run --detections`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from appearance.descriptors.registry import Descriptor
from tools.io.errors import InputError
from tools.io.motformat import MotRows, write_npy_detections
from tools.io.sequence import Sequence, frame_slices


@dataclass
class EmbedResult:
    name: str
    path: Path
    rows: int
    dim: int
    seconds: float


def check_features(features: np.ndarray, n: int, dim: int, where: str) -> np.ndarray:
    """A descriptor's output as (n, dim) float32, or an error naming what it returned instead.

    A user's descriptor that returns the wrong shape or NaNs would otherwise surface much later,
    as a broadcasting error or as silently broken matching inside the tracker.
    """
    feats = np.asarray(features)
    if feats.shape != (n, dim):
        raise InputError(None, f"{where}: the descriptor returned shape {feats.shape}, expected ({n}, {dim})")
    feats = feats.astype(np.float32, copy=False)
    if not np.isfinite(feats).all():
        raise InputError(None, f"{where}: the descriptor returned NaN or infinite features")
    return feats


def embed_rows(seq: Sequence, descriptor: Descriptor, rows: MotRows | np.ndarray,
               progress: bool = True) -> np.ndarray:
    """(N, dim) features of the N detection rows, one descriptor call (one batch) per frame.

    Frames are decoded in order, once; frames without rows are decoded but not embedded (a video
    cannot skip frames without decoding them anyway).
    """
    data = rows.data if isinstance(rows, MotRows) else np.asarray(rows, dtype=np.float64)
    out = np.zeros((len(data), descriptor.dim), np.float32)
    if not len(data):
        return out
    if not seq.has_frames:
        raise InputError(seq.root, "the sequence has no frames (no img1/ folder and no video file): "
                                   "appearance features need them")
    per_frame = frame_slices(data, seq.info.length)
    last = int(data[:, 0].max())
    bar = tqdm(total=last, desc=seq.name, unit="frame", disable=not progress, leave=True,
               dynamic_ncols=True)
    for frame_no, image in seq.frames():
        idx = per_frame[frame_no]
        if len(idx):
            feats = descriptor.embed(image, data[idx, 2:6])
            out[idx] = check_features(feats, len(idx), descriptor.dim, f"{seq.name} frame {frame_no}")
        bar.update(1)
        if frame_no >= last:  # nothing to embed beyond the last detection: stop decoding
            break
    bar.close()
    return out


def embed_sequence(seq: Sequence, descriptor: Descriptor, out_path: str | Path,
                   detections: str | Path | None = None, min_confidence: float = 0.0,
                   progress: bool = True) -> EmbedResult:
    """Write out_path: the sequence's detections (confidence >= min_confidence, file order kept)
    with the descriptor's feature of each box appended, atomically."""
    t0 = time.perf_counter()
    rows = seq.detections(detections)
    data = rows.data[rows.data[:, 6] >= min_confidence]
    feats = embed_rows(seq, descriptor, data, progress)
    out_path = Path(out_path)
    write_npy_detections(out_path, data, feats)
    return EmbedResult(seq.name, out_path, len(data), descriptor.dim, time.perf_counter() - t0)
