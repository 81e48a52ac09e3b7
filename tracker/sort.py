"""SORT (Bewley et al. 2016): a constant-velocity Kalman filter per track and IoU assignment.

Reproduces abewley/sort output for output (posterior boxes, IDs up to relabelling), with the
filter batched over all tracks so a frame costs a fixed number of NumPy calls, not one per track.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker.camera_motion import XYSR_SIZES, as_affine, warp_states
from tracker.detections import Detections
from tracker.params import make_params
from tracker.iou import iou_tlbr
from tracker.kalman_filter import diagonal_innovation

# State [x, y, s, r, vx, vy, vs]: centre, area, aspect ratio w/h, and velocities of x, y, s.
_F = np.eye(7)
_F[0, 4] = _F[1, 5] = _F[2, 6] = 1.0
_R_DIAG = np.array([1.0, 1.0, 10.0, 10.0])
_R = np.diag(_R_DIAG)
_P0 = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])
_Q = np.diag([1.0, 1.0, 1.0, 1.0, 1e-2, 1e-2, 1e-4])


@dataclass
class SortParams:
    """SORT's defaults from the paper and its reference implementation."""

    max_age: int = 1
    min_hits: int = 3
    iou_threshold: float = 0.3


def kf_predict(x: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched constant-velocity prediction of the xysr filter (SORT, OC-SORT)."""
    return x @ _F.T, _F @ P @ _F.T + _Q


def kf_update(x: np.ndarray, P: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Kalman correction with z (n, 4) in the Joseph form of filterpy and the reference,
    (I - KH) P (I - KH)^T + K R K^T. H = [I 0] is applied by slicing, not by 7x7 products: the
    same terms summed in another order (equal to ~1e-12), a third of the work, which counts in
    OC-SORT's re-update of re-found tracks."""
    S = P[:, :4, :4] + _R
    s = diagonal_innovation(S)
    K = P[:, :, :4] @ np.linalg.inv(S) if s is None else P[:, :, :4] * (1.0 / s)
    x = x + (K @ (z - x[:, :4])[:, :, None])[:, :, 0]
    Kt = K.transpose(0, 2, 1)
    A = P - K @ P[:, :4, :]          # (I - KH) P
    A -= A[:, :, :4] @ Kt             # ... (I - KH)^T
    return x, A + (K * _R_DIAG) @ Kt


def tlbr_to_z(tlbr: np.ndarray) -> np.ndarray:
    z = np.empty((len(tlbr), 4))
    wh = tlbr[:, 2:] - tlbr[:, :2]
    z[:, :2] = tlbr[:, :2] + wh / 2.0
    z[:, 2] = wh[:, 0] * wh[:, 1]
    z[:, 3] = wh[:, 0] / wh[:, 1]
    return z


def x_to_tlbr(x: np.ndarray) -> np.ndarray:
    """Boxes of xysr states; NaN where area x aspect ratio is negative (the trackers drop those)."""
    out = np.empty((len(x), 4))
    sr = x[:, 2] * x[:, 3]
    # errstate costs more than the rest of the call: enter it only where a box went invalid
    with nullcontext() if (sr > 0).all() else np.errstate(invalid="ignore", divide="ignore"):
        np.sqrt(sr, out=out[:, 2])
        np.divide(x[:, 2], out[:, 2], out=out[:, 3])
    half = out[:, 2:] / 2.0
    out[:, :2] = x[:, :2] - half
    out[:, 2:] = x[:, :2] + half
    return out


def associate(dets: np.ndarray, trks: np.ndarray, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Match detections to predicted boxes (both x1,y1,x2,y2); returns (matches (K,2), unmatched dets).

    As in the reference: when every row and column has at most one pair above the threshold those
    pairs are taken directly, otherwise the assignment maximising total IoU; pairs under the
    threshold are then dropped.
    """
    n_det = len(dets)
    if len(trks) == 0 or n_det == 0:
        return np.empty((0, 2), np.int64), np.arange(n_det)
    iou = iou_tlbr(dets, trks)
    above = iou > iou_threshold
    if above.sum(1).max() == 1 and above.sum(0).max() == 1:
        pairs = np.stack(np.nonzero(above), axis=1)
    else:
        rows, cols = linear_sum_assignment(-iou)
        pairs = np.stack([rows, cols], axis=1)
    keep = iou[pairs[:, 0], pairs[:, 1]] >= iou_threshold
    assigned = np.zeros(n_det, bool)
    assigned[pairs[:, 0]] = True
    unmatched = np.concatenate([np.flatnonzero(~assigned), pairs[~keep, 0]])
    return pairs[keep], unmatched


class Sort:
    """SORT tracker. Call update() once per frame, also for frames without detections."""

    def __init__(self, params: SortParams | None = None, **overrides) -> None:
        self.params = make_params(SortParams, params, overrides)
        self.frame_count = 0
        self._next_id = 1
        self.x = np.zeros((0, 7))
        self.P = np.zeros((0, 7, 7))
        self.ids = np.zeros(0, np.int64)
        self.time_since_update = np.zeros(0, np.int64)
        self.hit_streak = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.age = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def update(self, detections: Detections | np.ndarray):
        """Advance one frame.

        With `Detections`, returns a list of (track id, tlwh box) for the tracks to report. With
        the original SORT's (N, 5) array [x1, y1, x2, y2, score], returns an (M, 5) array
        [x1, y1, x2, y2, id] like the original, so existing SORT code can switch unchanged.
        """
        legacy = not isinstance(detections, Detections)
        dets = Detections.from_tlbr_score(detections) if legacy else detections
        ids, boxes = self._step(dets.tlbr())
        if legacy:
            return np.concatenate([boxes, ids[:, None].astype(np.float64)], axis=1)
        tlwh = boxes.copy()
        tlwh[:, 2:] -= tlwh[:, :2]
        return list(zip(ids.tolist(), tlwh))

    def tentative_tracks(self) -> list[tuple[int, np.ndarray]]:
        """(id, tlwh) of the tracks matched or born in the last frame that update() did not
        report (too few hits in a row yet): for drawing them faintly; results leave them out."""
        p = self.params
        shown = (self.hit_streak >= p.min_hits) | (self.frame_count <= p.min_hits)
        idx = np.flatnonzero((self.time_since_update < 1) & ~shown)
        tlwh = x_to_tlbr(self.x[idx])
        tlwh[:, 2:] -= tlwh[:, :2]
        return list(zip(self.ids[idx].tolist(), tlwh))

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every track by the camera's (2, 3) affine warp from the last frame to this one;
        call before update()."""
        warp = as_affine(warp)
        if len(self.ids):
            self.x, self.P = warp_states(self.x, self.P, warp, XYSR_SIZES)

    def _step(self, dets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        self.frame_count += 1
        if len(self.ids):
            self._predict()
            pred = x_to_tlbr(self.x)
            ok = ~np.isnan(pred).any(axis=1)
            if not ok.all():
                self._keep(ok)
                pred = pred[ok]
        else:
            pred = np.zeros((0, 4))
        matches, unmatched = associate(dets, pred, p.iou_threshold)
        if len(matches):
            self._correct(matches[:, 1], tlbr_to_z(dets[matches[:, 0]]))
        if len(unmatched):
            self._birth(tlbr_to_z(dets[unmatched]))
        tsu = self.time_since_update
        report = (tsu < 1) & ((self.hit_streak >= p.min_hits) | (self.frame_count <= p.min_hits))
        # the reference lists reported tracks newest first
        order = np.flatnonzero(report)[::-1]
        out_ids, out_boxes = self.ids[order], x_to_tlbr(self.x[order])
        alive = tsu <= p.max_age
        if not alive.all():
            self._keep(alive)
        return out_ids, out_boxes

    def _predict(self) -> None:
        x = self.x
        x[x[:, 6] + x[:, 2] <= 0, 6] = 0.0
        self.x, self.P = kf_predict(x, self.P)
        self.age += 1
        self.hit_streak[self.time_since_update > 0] = 0
        self.time_since_update += 1

    def _correct(self, idx: np.ndarray, z: np.ndarray) -> None:
        self.x[idx], self.P[idx] = kf_update(self.x[idx], self.P[idx], z)
        self.time_since_update[idx] = 0
        self.hits[idx] += 1
        self.hit_streak[idx] += 1

    def _birth(self, z: np.ndarray) -> None:
        n = len(z)
        x = np.zeros((n, 7))
        x[:, :4] = z
        self.x = np.concatenate([self.x, x])
        self.P = np.concatenate([self.P, np.broadcast_to(_P0, (n, 7, 7))])
        self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        zeros = np.zeros(n, np.int64)
        self.time_since_update = np.concatenate([self.time_since_update, zeros])
        self.hit_streak = np.concatenate([self.hit_streak, zeros])
        self.hits = np.concatenate([self.hits, zeros])
        self.age = np.concatenate([self.age, zeros])

    def _keep(self, mask: np.ndarray) -> None:
        for name in ("x", "P", "ids", "time_since_update", "hit_streak", "hits", "age"):
            setattr(self, name, getattr(self, name)[mask])
