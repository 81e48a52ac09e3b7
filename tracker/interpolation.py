"""Linear interpolation of a track's missing frames: offline post-processing of result rows.

An online tracker reports nothing while a track coasts through an occlusion, so the frames
between its last box and its re-found box count as misses although the identity was kept.
ByteTrack and BoT-SORT fill such gaps linearly for their MOT17 results; this is that step, for
any tracker's output. Gaps longer than max_gap stay open: over long gaps a straight line is a
guess, not a track.
"""
from __future__ import annotations

import numpy as np


def interpolate_gaps(rows: np.ndarray, max_gap: int) -> np.ndarray:
    """Rows (K, 6) frame, id, x, y, w, h with every gap of 1..max_gap missing frames within a
    track filled by boxes linear in the frame number; sorted by frame, then id."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    if max_gap < 1 or len(rows) == 0:
        return rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    order = np.lexsort((rows[:, 0], rows[:, 1]))  # by id, then frame
    r = rows[order]
    same = r[1:, 1] == r[:-1, 1]
    missing = (r[1:, 0] - r[:-1, 0] - 1).astype(np.int64)
    gap = np.flatnonzero(same & (missing >= 1) & (missing <= max_gap))
    if len(gap) == 0:
        return rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    counts = missing[gap]
    start = np.repeat(gap, counts)
    # step k = 1..count within each gap, as a fraction of the gap's span
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    t = (k / np.repeat(counts + 1, counts))[:, None]
    a, b = r[start], r[start + 1]
    filled = a + (b - a) * t
    filled[:, 0] = a[:, 0] + k
    filled[:, 1] = a[:, 1]
    out = np.concatenate([r, filled])
    return out[np.lexsort((out[:, 1], out[:, 0]))]
