"""Per-track appearance galleries and the nearest-neighbour distance of DeepSORT.

Each confirmed track keeps its last `budget` features (or, in EMA mode, one running average).
The cost of pairing a track with a detection is the smallest distance from the detection to the
track's gallery. Cosine galleries are stored normalised once, so a frame costs one matrix product
over all galleries.
"""
from __future__ import annotations

import numpy as np

from tracker.track_features import blend

_HAS_OLD = np.ones(1, bool)
METRICS = ("cosine", "euclidean")
# Upper bound (roughly) on the values of one gallery-to-detections distance block: 4M float32
# values, 16 MiB, where 1000 confirmed tracks x 100 samples x 1000 detections would be 400 MB.
CHUNK_ELEMENTS = 1 << 22


def check_metric(metric: str) -> None:
    """ValueError unless `metric` is one of METRICS."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def _normalise(x: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Rows scaled to unit length; with a positive floor a zero row stays zero instead of NaN."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), floor)


def pairwise_distance(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """(len(a), len(b)) distances in float64, as the gallery defines them: 1 - cos, or squared
    Euclidean. Offline scoring (re-id, calibration) measures with these, the tracker with
    Gallery.distance, which computes the same in float32 on stored galleries."""
    check_metric(metric)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if metric == "cosine":
        return 1.0 - _normalise(a, 1e-12) @ _normalise(b, 1e-12).T
    d = np.square(a).sum(1)[:, None] + np.square(b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def paired_distance(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distance of a[i] to b[i] for each row i (float64), with the definitions of pairwise_distance."""
    check_metric(metric)
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if metric == "cosine":
        na = np.linalg.norm(a, axis=1)
        nb = np.linalg.norm(b, axis=1)
        return 1.0 - (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    return np.square(a - b).sum(axis=1)


class Gallery:
    """Features per track id: cosine distance 1 - a.b, or squared Euclidean as in DeepSORT.

    With `ema` set, a track keeps one feature instead, folded with each new one as
    ema * old + (1 - ema) * new (renormalised for cosine): StrongSORT's EMA track feature, which
    a single off-person crop disturbs less than it joins a nearest-neighbour gallery.
    """

    def __init__(self, metric: str = "cosine", budget: int | None = 100, ema: float | None = None) -> None:
        check_metric(metric)
        if budget is not None and budget < 1:
            raise ValueError("budget must be None or >= 1")
        if ema is not None and not 0.0 <= ema <= 1.0:
            raise ValueError("ema must be None or between 0 and 1")
        self.metric = metric
        self.budget = budget
        self.ema = ema
        self.samples: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def add(self, track_id: int, features: np.ndarray) -> None:
        """Append (K, D) features to a track's gallery, keeping the newest `budget` (in EMA mode:
        fold them, in order, into the track's one feature)."""
        if len(features) == 0:
            return
        feats = np.asarray(features, dtype=np.float32)
        if self.metric == "cosine":
            feats = _normalise(feats)
        old = self.samples.get(track_id)
        if self.ema is not None:
            self.samples[track_id] = self._fold(old, feats)
            return
        merged = feats if old is None else np.concatenate([old, feats])
        if self.budget is not None and len(merged) > self.budget:
            merged = merged[-self.budget:]
        self.samples[track_id] = merged

    def _fold(self, old: np.ndarray | None, feats: np.ndarray) -> np.ndarray:
        """(1, D) EMA of `old` (or the first new feature) and each of `feats` in order: the
        fused trackers' blend for cosine, the plain average for Euclidean."""
        acc = (feats[:1] if old is None else old).astype(np.float64)
        for f in feats[0 if old is not None else 1:]:
            if self.metric == "cosine":
                acc = blend(acc, f[None], _HAS_OLD, self.ema)
            else:
                acc = self.ema * acc + (1.0 - self.ema) * f
        return acc.astype(np.float32)

    def retain(self, active_ids) -> None:
        """Forget every track not in `active_ids` (deleted or no longer confirmed)."""
        self.samples = {k: self.samples[k] for k in active_ids if k in self.samples}

    def distance(self, features: np.ndarray, track_ids) -> np.ndarray:
        """Cost matrix (len(track_ids), N): nearest gallery sample of each track to each feature.

        A track without samples costs 0 (its appearance is unknown; gating decides). Galleries
        are taken in chunks so the (samples x N) distance block stays near CHUNK_ELEMENTS
        values however many tracks and detections a frame has.
        """
        track_ids = list(track_ids)
        n = len(features)
        cost = np.zeros((len(track_ids), n))
        rows = [i for i, t in enumerate(track_ids) if t in self.samples]
        if not rows or n == 0:
            return cost
        feats = np.asarray(features, dtype=np.float32)
        if self.metric == "cosine":
            feats = _normalise(feats)
        else:
            b2 = np.square(feats).sum(axis=1)
        galleries = [self.samples[track_ids[i]] for i in rows]
        sizes = np.array([len(g) for g in galleries])
        # chunk boundaries over tracks: each chunk holds about CHUNK_ELEMENTS / N samples
        per_chunk = max(1, CHUNK_ELEMENTS // n)
        bounds = [0]
        total = 0
        for k, size in enumerate(sizes.tolist()):
            total += size
            if total >= per_chunk:
                bounds.append(k + 1)
                total = 0
        if bounds[-1] != len(sizes):
            bounds.append(len(sizes))
        out = np.empty((len(rows), n))
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            stacked = np.concatenate(galleries[lo:hi])
            if self.metric == "cosine":
                dist = 1.0 - stacked @ feats.T
            else:
                a2 = np.square(stacked).sum(axis=1)
                dist = np.clip(-2.0 * (stacked @ feats.T) + a2[:, None] + b2[None, :], 0.0, None)
            starts = np.concatenate([[0], np.cumsum(sizes[lo:hi])[:-1]])
            out[lo:hi] = np.minimum.reduceat(dist, starts, axis=0)
        cost[rows] = out
        return cost
