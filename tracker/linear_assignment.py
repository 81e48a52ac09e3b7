"""Min-cost matching and DeepSORT's matching cascade on precomputed cost matrices.

Costs arrive as full (tracks x detections) matrices computed once per frame; the cascade only
selects rows and columns, so each level costs one assignment, never a re-computation.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

INFTY_COST = 1e5


def min_cost_matching(cost: np.ndarray, max_distance: float, track_idx: np.ndarray,
                      det_idx: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Assign rows `track_idx` to columns `det_idx` of `cost`; pairs above max_distance fail.

    Returns (matches, unmatched tracks, unmatched detections) in the reference's order:
    unassigned ones first, then rejected pairs in row order.
    """
    if len(track_idx) == 0 or len(det_idx) == 0:
        return [], track_idx, det_idx
    sub = cost[np.ix_(track_idx, det_idx)]
    sub[sub > max_distance] = max_distance + 1e-5
    rows, cols = linear_sum_assignment(sub)
    ok = sub[rows, cols] <= max_distance
    row_used = np.zeros(len(track_idx), bool)
    row_used[rows] = True
    col_used = np.zeros(len(det_idx), bool)
    col_used[cols] = True
    matches = list(zip(track_idx[rows[ok]].tolist(), det_idx[cols[ok]].tolist()))
    unmatched_tracks = np.concatenate([track_idx[~row_used], track_idx[rows[~ok]]])
    unmatched_dets = np.concatenate([det_idx[~col_used], det_idx[cols[~ok]]])
    return matches, unmatched_tracks, unmatched_dets


def matching_cascade(cost: np.ndarray, max_distance: float, cascade_depth: int,
                     time_since_update: np.ndarray, track_idx: np.ndarray,
                     det_idx: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Match tracks level by level, most recently seen first, so fresh tracks claim detections.

    Level l holds the tracks with time_since_update == 1 + l; levels without tracks are skipped.
    """
    matches: list[tuple[int, int]] = []
    unmatched_dets = det_idx
    ages = time_since_update[track_idx]
    for age in np.unique(ages):
        if age < 1 or age > cascade_depth:
            continue
        if len(unmatched_dets) == 0:
            break
        level = track_idx[ages == age]
        found, _, unmatched_dets = min_cost_matching(cost, max_distance, level, unmatched_dets)
        matches += found
    return matches, _unmatched(track_idx, matches), unmatched_dets


def global_matching(cost: np.ndarray, max_distance: float, cascade_depth: int,
                    time_since_update: np.ndarray, track_idx: np.ndarray,
                    det_idx: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The cascade's tracks (time_since_update 1..cascade_depth) in one assignment, without its
    order (StrongSORT's vanilla matching): the lowest total cost wins, however long ago a track
    was seen. Same arguments and results as matching_cascade."""
    ages = time_since_update[track_idx]
    reach = track_idx[(ages >= 1) & (ages <= cascade_depth)]
    matches, _, unmatched_dets = min_cost_matching(cost, max_distance, reach, det_idx)
    return matches, _unmatched(track_idx, matches), unmatched_dets


def _unmatched(track_idx: np.ndarray, matches: list[tuple[int, int]]) -> np.ndarray:
    """`track_idx` without the matched tracks, in its own order."""
    matched = {t for t, _ in matches}
    return np.array([t for t in track_idx.tolist() if t not in matched], np.int64)
