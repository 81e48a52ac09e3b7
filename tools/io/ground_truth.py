"""Which ground-truth rows are scored, and which gt identity each detection covers.

One definition for everything that reads gt (the evaluator's switch counter, crop caches,
threshold calibration): consider flag set and, for MOT16/17/20-style files, class 1.
"""
from __future__ import annotations

import numpy as np

from tools.io.errors import InputError
from tools.io.motformat import MotRows

# IoU at which a detection is taken to show a gt person (the MOTChallenge matching threshold).
GT_MATCH_IOU = 0.5


def has_class_columns(data: np.ndarray) -> bool:
    """True for MOT16/17/20-style gt (column 8 a class 1-13, column 9 a visibility in [0, 1]).

    MOT15 ground truth holds -1 or world coordinates there; then no row is dropped by class
    and there is no visibility to filter on.
    """
    if not len(data) or data.shape[1] < 9:
        return False
    cls, vis = data[:, 7], data[:, 8]
    return bool(np.all((cls == np.round(cls)) & (cls >= 1) & (cls <= 13))
                and np.all((vis >= 0) & (vis <= 1)))


def scored_mask(gt: MotRows, min_visibility: float = 0.0) -> np.ndarray:
    """Rows of gt that show a pedestrian to be scored (consider flag set, class 1 or unknown)."""
    d = gt.data
    keep = d[:, 6] != 0 if d.shape[1] > 6 else np.ones(len(d), bool)
    if has_class_columns(d):
        keep &= d[:, 7] == 1
        if min_visibility > 0:
            keep &= d[:, 8] >= min_visibility
    elif min_visibility > 0 and len(d):
        raise InputError(gt.path, "has no visibility column (MOT15-style ground truth: columns "
                                  "8-10 are -1 or world coordinates), so a minimum visibility "
                                  "cannot be applied; leave it at 0")
    return keep


def match_gt_ids(det_frame: np.ndarray, det_tlwh: np.ndarray, gt: MotRows) -> np.ndarray:
    """The scored gt identity each detection overlaps with IoU >= 0.5 (Hungarian per frame), else -1.

    Evaluation only: label-free training never calls this.
    """
    from scipy.optimize import linear_sum_assignment

    from tracker.iou import iou_tlwh

    det_frame = np.asarray(det_frame).astype(np.int64)
    ids = np.full(len(det_frame), -1, dtype=np.int64)
    g = gt.data[scored_mask(gt)]
    if not len(g) or not len(det_frame):
        return ids
    g_frame = g[:, 0].astype(np.int64)
    g_order = np.argsort(g_frame, kind="stable")
    g_sorted = g_frame[g_order]
    for f in np.unique(det_frame):
        d = np.flatnonzero(det_frame == f)
        glo, ghi = np.searchsorted(g_sorted, [f, f + 1])
        if glo == ghi:
            continue
        rows = g[g_order[glo:ghi]]
        iou = iou_tlwh(np.asarray(det_tlwh, np.float64)[d], rows[:, 2:6])
        r, c = linear_sum_assignment(np.where(iou >= GT_MATCH_IOU, iou, 0.0), maximize=True)
        good = iou[r, c] >= GT_MATCH_IOU
        ids[d[r[good]]] = rows[c[good], 1].astype(np.int64)
    return ids
