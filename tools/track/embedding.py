"""Appearance features for a sequence's detections, written as DeepSORT's .npy detection files.

The .npy layout (10 MOT det columns, then the feature) is the one nwojke/deep_sort's
`generate_detections.py` writes and `deep_sort_app.py` reads, so features made here drive the
original DeepSORT, and its files drive `track run --detections`.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from appearance.descriptors.registry import Descriptor
from tools.io.atomic import atomic_write_text
from tools.io.errors import InputError
from tools.io.folders import check_output_folder
from tools.io.motformat import MotRows, write_npy_detections
from tools.io.records import read_record
from tools.io.sequence import Sequence, frame_slices


@dataclass
class EmbedResult:
    name: str
    path: Path
    rows: int
    dim: int
    seconds: float


@dataclass
class EmbedRun:
    """What `embed_sequences` wrote: one EmbedResult per sequence and the folder's embed.json."""

    results: list[EmbedResult]
    record_path: Path
    record: dict = field(default_factory=dict)


def open_descriptor(spec: str, options: dict | None = None) -> Descriptor | None:
    """The registry's descriptor for SPEC (None for `none`); an unknown name is an InputError."""
    from appearance.descriptors.registry import create

    try:
        return create(spec, options)
    except KeyError as exc:
        raise InputError(None, str(exc.args[0])) from None


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
    bar = tqdm(total=last, desc=seq.name, unit="frame", disable=None if progress else True, leave=True,
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


def centre_features(feats: np.ndarray) -> np.ndarray:
    """Features minus their mean (computed in float64): what `track embed --centre` writes."""
    return feats - feats.mean(axis=0, dtype=np.float64).astype(np.float32) if len(feats) else feats


def embed_sequence(seq: Sequence, descriptor: Descriptor, out_path: str | Path,
                   detections: str | Path | None = None, min_confidence: float = 0.0,
                   progress: bool = True, centre: bool = False) -> EmbedResult:
    """Write out_path: the sequence's detections (confidence >= min_confidence, file order kept)
    with the descriptor's feature of each box appended, atomically.

    centre: subtract the mean feature of these detections, a label-free fit on the sequence being
    tracked that removes what every box shares (scene colour, the encoder's offset) before the
    cosine distance compares directions."""
    t0 = time.perf_counter()
    rows = seq.detections(detections)
    data = rows.data[rows.data[:, 6] >= min_confidence]
    feats = embed_rows(seq, descriptor, data, progress)
    if centre:
        feats = centre_features(feats)
    out_path = Path(out_path)
    write_npy_detections(out_path, data, feats)
    return EmbedResult(seq.name, out_path, len(data), descriptor.dim, time.perf_counter() - t0)


def embed_sequences(seqs: list[Sequence], appearance: str, out: str | Path,
                    detections: dict[str, Path | None] | None = None, min_confidence: float = 0.0,
                    progress: bool = True, command: list[str] | None = None, centre: bool = False) -> EmbedRun:
    """Write OUT/<seq>.npy for every sequence (one line printed each) and OUT/embed.json.

    embed.json says what made the features (the .npy cannot), so a later run uses the same
    distance; sequences embedded earlier into OUT with the same settings stay listed in it.
    """
    descriptor = open_descriptor(appearance)
    if descriptor is None:
        raise InputError(None, f"--appearance {appearance} gives no features; choose a descriptor")
    out = check_output_folder(out, "--out")
    detections = detections or {}
    results = []
    for seq in seqs:
        res = embed_sequence(seq, descriptor, out / f"{seq.name}.npy", detections.get(seq.name),
                             min_confidence, progress=progress, centre=centre)
        rate = res.rows / res.seconds if res.seconds > 0 else float("inf")
        print(f"{res.name}: {res.rows} detections x {res.dim}-D, {rate:,.0f} boxes/s -> {res.path}")
        results.append(res)
    record = {"command": command, "appearance": appearance,
              "metric": descriptor.metric, "dim": descriptor.dim, "min_confidence": min_confidence,
              "centre": centre, "sequences": {r.name: r.rows for r in results}}
    record_path = out / "embed.json"
    previous = read_record(record_path)
    same = ("appearance", "metric", "dim", "min_confidence", "centre")
    if previous and all(previous.get(k) == record[k] for k in same):
        # more sequences embedded into the same folder with the same settings: keep the earlier ones
        record["sequences"] = {**previous.get("sequences", {}), **record["sequences"]}
    elif previous:
        print(f"note: {record_path} described other settings ({previous.get('appearance')}); "
              f"files of other sequences in {out} were not rewritten")
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    return EmbedRun(results, record_path, record)

