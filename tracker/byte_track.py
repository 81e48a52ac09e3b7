"""ByteTrack (Zhang et al. 2022): associate every detection box, the low-score ones too.

Reproduces the frame logic of ifzhang/ByteTrack's BYTETracker.update (yolox/tracker/byte_tracker.py):
high-score boxes are matched to tracked and lost tracks by IoU (fused with the score), low-score
boxes then keep the remaining tracked tracks alive, unconfirmed tracks get the leftover high
boxes, and only high boxes start tracks. Track state lives in arrays kept in the reference's
list order (its tracked list, then its lost list), so prediction and every cost matrix are one
batched computation per frame, and ties in the assignment meet the tracks in the same order.

Kept from the reference on purpose, though they look like accidents, so results match it:

* Unconfirmed tracks are not Kalman-predicted before their association (they are not in the
  pool); a lost track's height velocity is zeroed at every prediction.
* A lost track removed for age stays in the lost list one frame more (the reference subtracts its
  removed list before appending that frame's removals), so it can still be re-found then; and a
  track re-found that way, being on the removed list, vanishes the next time it is lost.
* remove_duplicate_stracks drops the younger of a tracked/lost pair, the tracked one on a tie.

Deliberate differences: a box scoring exactly track_thresh counts as high (the reference's
`> track_thresh` and `< track_thresh` drop it from both sets); track ids count from 1 per tracker
instance (the reference's counter is global to the process); camera motion and appearance are
additions (apply_camera_motion, appearance_weight), both off by default.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker import kalman_filter as kf
from tracker.camera_motion import XYAH_SIZES, as_affine, warp_states
from tracker.detections import Detections
from tracker.params import make_params
from tracker.track_features import blend, normalise
from tracker.linear_assignment import INFTY_COST

TRACKED, LOST, REMOVED = 1, 2, 3
# remove_duplicate_stracks: a tracked and a lost track closer than this IoU distance are one object
DUPLICATE_IOU_DISTANCE = 0.15


@dataclass
class ByteTrackParams:
    """The reference's defaults (its args and the thresholds hard-coded in BYTETracker.update)."""

    track_thresh: float = 0.5      # high/low split (reference: args.track_thresh)
    low_thresh: float = 0.1        # boxes below are discarded
    new_track_thresh: float | None = None  # None: track_thresh + 0.1, as the reference (det_thresh)
    match_thresh: float = 0.8      # first association, IoU distance
    second_match_thresh: float = 0.5   # low-score association
    unconfirmed_match_thresh: float = 0.7
    track_buffer: int = 30         # frames a lost track is kept, at 30 fps
    # the buffer scales as int(frame_rate / 30 * track_buffer); None: 30, or the sequence's rate
    # where the caller knows it (the runner passes it, as the reference passes the video's fps)
    frame_rate: float | None = None
    fuse_score: bool = True        # reference's non-MOT20 path: IoU similarity multiplied by det score
    appearance_weight: float = 0.0  # fused cost (1-w)*iou_dist + w*cosine_dist on EMA track features; 0 = the original exactly
    appearance_thresh: float = 0.25  # (only when w>0) pairs with cosine distance above this are not admissible
    ema_alpha: float = 0.9         # track feature f <- alpha f + (1-alpha) f_det, renormalised (BoT-SORT/FairMOT)


def iou_inclusive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (N, M) of x1,y1,x2,y2 boxes with the +1 pixel convention of cython_bbox.bbox_overlaps,
    which the reference's iou_distance calls: a box spans x2 - x1 + 1 pixels."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    a = a[:, None, :]
    b = b[None, :, :]
    iw = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1.0)
    ih = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1.0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1.0) * (a[..., 3] - a[..., 1] + 1.0)
    area_b = (b[..., 2] - b[..., 0] + 1.0) * (b[..., 3] - b[..., 1] + 1.0)
    return inter / (area_a + area_b - inter)


def assign_with_limit(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-cost partial matching as lap.lapjv(cost, extend_cost=True, cost_limit=limit), the
    reference's linear_assignment: returns (matches (K, 2) row-sorted, unmatched rows, unmatched
    columns), both ascending.

    lapjv pads the (n, m) matrix to (n+m, n+m) with dummy entries costing limit / 2 (dummy x dummy
    0), so leaving a row and a column unmatched costs `limit`: it minimises the sum of
    (cost - limit) over the pairs it takes, and takes none costing more than `limit`. The same
    optimum is found on the (n, m) matrix min(cost - limit, 0), where a clipped pair is one the
    padded problem would leave open; those are dropped after. This is not Hungarian-then-filter,
    which first forces min(n, m) pairs and so may give up a cheap pair to make room for one that
    the filter then drops. Non-finite costs count as over the limit; a pair costing exactly the
    limit ties with leaving it open and is kept when the solver picks it.
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.empty((0, 2), np.int64), np.arange(n), np.arange(m)
    admissible = cost <= limit  # False for NaN
    gain = np.where(admissible, cost - limit, 0.0)
    rows, cols = linear_sum_assignment(gain)
    keep = admissible[rows, cols]
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    row_free = np.ones(n, bool)
    row_free[matches[:, 0]] = False
    col_free = np.ones(m, bool)
    col_free[matches[:, 1]] = False
    return matches, np.flatnonzero(row_free), np.flatnonzero(col_free)


class ByteTrack:
    """ByteTrack tracker. Call update() once per frame, also for frames without detections.

    With appearance_weight > 0 and features in the frame, the first (high-score) and the
    unconfirmed associations cost (1 - w) * motion + w * cosine distance to the track's EMA
    feature, pairs over appearance_thresh in cosine inadmissible; the low-score association stays
    IoU only, as in BoT-SORT (low boxes are mostly occluded, their features unreliable), and only
    high boxes update a track's feature. A track without a feature yet is costed on motion alone.
    """

    def __init__(self, params: ByteTrackParams | None = None, **overrides) -> None:
        self.params = make_params(ByteTrackParams, params, overrides)
        p = self.params
        self.det_thresh = p.track_thresh + 0.1 if p.new_track_thresh is None else p.new_track_thresh
        self.max_time_lost = int((p.frame_rate or 30.0) / 30.0 * p.track_buffer)
        self.frame_id = 0
        self._next_id = 1
        self._warp: np.ndarray | None = None  # (3, 3) camera motion awaiting the next update()
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 8, 8))
        self.ids = np.zeros(0, np.int64)
        self.state = np.zeros(0, np.int64)
        self.activated = np.zeros(0, bool)
        self.start_frame = np.zeros(0, np.int64)
        self.frame_seen = np.zeros(0, np.int64)   # last frame updated: the reference's frame_id
        self.retired = np.zeros(0, bool)          # the id is on the reference's removed list
        self.feature: np.ndarray | None = None    # (T, D) unit EMA features, made on first use
        self._boxes = np.zeros((0, 4))            # this frame's predicted x1, y1, x2, y2 of every track
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (tracks, xyah) awaiting _flush
        self.has_feature = np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self.ids)

    # -- public ------------------------------------------------------------------------------

    def update(self, detections: Detections) -> list[tuple[int, np.ndarray]]:
        """Advance one frame; returns (id, tlwh) of the activated tracked tracks (output_stracks)."""
        p = self.params
        self.frame_id += 1
        dets = detections
        use_app = p.appearance_weight > 0 and dets.feature is not None
        if use_app and self.feature is None:
            self.feature = np.zeros((len(self.ids), dets.feature.shape[1]), np.float32)
        conf = dets.confidence
        high = dets.subset(np.flatnonzero(conf >= p.track_thresh))
        low = dets.subset(np.flatnonzero((conf > p.low_thresh) & (conf < p.track_thresh)))

        was = self.state.copy()  # TRACKED: in the tracked list; LOST or REMOVED: in the lost list
        unconfirmed = np.flatnonzero((was == TRACKED) & ~self.activated)
        pool = np.flatnonzero((was != TRACKED) | self.activated)
        self._predict(pool)
        self._apply_warp()
        # every association below costs tracks that no earlier stage of this frame has corrected
        self._boxes = self._tlbr(np.arange(len(self.ids)))

        # first association: high boxes with tracked and lost tracks
        m1, u_pool, u_high = assign_with_limit(self._cost(pool, high, use_app), p.match_thresh)
        matched = pool[m1[:, 0]]
        self._correct(matched, high, m1[:, 1], use_app)
        refound = matched[was[matched] != TRACKED]

        # second association: low boxes with the tracked tracks left over; the rest are lost
        rest = pool[u_pool]
        rest = rest[was[rest] == TRACKED]
        iou_cost = 1.0 - iou_inclusive(self._boxes[rest], low.tlbr()) if len(low) else np.zeros((len(rest), 0))
        m2, u_rest, _ = assign_with_limit(iou_cost, p.second_match_thresh)
        self._correct(rest[m2[:, 0]], low, m2[:, 1], False)
        newly_lost = rest[u_rest]
        self.state[newly_lost] = LOST

        # unconfirmed tracks take the high boxes left over, or are removed
        left = high.subset(u_high)
        m3, u_unconf, u_left = assign_with_limit(self._cost(unconfirmed, left, use_app),
                                                 p.unconfirmed_match_thresh)
        self._correct(unconfirmed[m3[:, 0]], left, m3[:, 1], use_app)
        self.state[unconfirmed[u_unconf]] = REMOVED
        self._flush()

        old_lost = np.flatnonzero(was != TRACKED)
        expired = old_lost[self.frame_id - self.frame_seen[old_lost] > self.max_time_lost]
        self.state[expired] = REMOVED
        born = self._birth(left.subset(u_left[left.confidence[u_left] >= self.det_thresh]), use_app)

        # the reference's list bookkeeping, in its order
        old_tracked = np.flatnonzero(was == TRACKED)
        tracked = np.concatenate([old_tracked[self.state[old_tracked] == TRACKED], born, refound])
        lost = np.concatenate([old_lost[self.state[old_lost] != TRACKED], newly_lost])
        lost = lost[~self.retired[lost]]  # removed before this frame (this frame's wait one more)
        self.retired[expired] = True
        tracked, lost = self._drop_duplicates(tracked, lost)
        self._reorder(np.concatenate([tracked, lost]))
        return self.tracks_to_report()

    def tracks_to_report(self) -> list[tuple[int, np.ndarray]]:
        show = np.flatnonzero((self.state == TRACKED) & self.activated)
        return list(zip(self.ids[show].tolist(), self.tlwh(show)))

    def tentative_tracks(self) -> list[tuple[int, np.ndarray]]:
        """(id, tlwh) of the tracks updated this frame that update() did not report (born this
        frame, unconfirmed until matched on the next): for drawing them faintly."""
        show = np.flatnonzero((self.state == TRACKED) & ~self.activated
                              & (self.frame_seen == self.frame_id))
        return list(zip(self.ids[show].tolist(), self.tlwh(show)))

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Register the camera motion (2, 3) affine from the previous frame's image to this one.

        It takes effect in the next update(), right after the Kalman prediction, which is where
        BoT-SORT's GMC applies it (multi_gmc on the predicted pool and on the unconfirmed tracks);
        several calls before one update compose. The 2x2 part maps centre and centre velocity and
        the translation moves the centre. Unlike multi_gmc, whose xywh state lets it map (w, h)
        by the same 2x2, the xyah state keeps its aspect ratio and scales height and its velocity
        by the warp's scale sqrt|det A|: mixing a ratio with a length under rotation is meaningless.
        """
        h = np.vstack([as_affine(warp), [0.0, 0.0, 1.0]])
        self._warp = h if self._warp is None else h @ self._warp

    def tlwh(self, idx: np.ndarray) -> np.ndarray:
        m = self.mean[idx, :4].copy()
        m[:, 2] *= m[:, 3]
        m[:, :2] -= m[:, 2:] / 2
        return m

    # -- association -------------------------------------------------------------------------

    def _tlbr(self, idx: np.ndarray) -> np.ndarray:
        m = self.mean[idx, :4]
        half = m[:, 2:].copy()   # (a, h) -> (w, h) / 2
        half[:, 0] *= half[:, 1]
        half /= 2
        return np.concatenate([m[:, :2] - half, m[:, :2] + half], axis=1)

    def _cost(self, rows: np.ndarray, dets: Detections, use_app: bool) -> np.ndarray:
        """IoU distance of tracks `rows` to `dets`, fused with score and appearance as configured."""
        p = self.params
        if len(rows) == 0 or len(dets) == 0:
            return np.zeros((len(rows), len(dets)))
        dist = 1.0 - iou_inclusive(self._boxes[rows], dets.tlbr())
        if p.fuse_score:
            dist = 1.0 - (1.0 - dist) * dets.confidence[None, :]
        if use_app and self.has_feature[rows].any():
            cos = 1.0 - self.feature[rows].astype(np.float64) @ normalise(
                dets.feature.astype(np.float64)).T
            w = p.appearance_weight
            fused = np.where(cos > p.appearance_thresh, INFTY_COST, (1.0 - w) * dist + w * cos)
            dist = np.where(self.has_feature[rows, None], fused, dist)
        return dist

    def _drop_duplicates(self, tracked: np.ndarray, lost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """remove_duplicate_stracks: of a tracked and a lost track on one object, drop the one
        tracked for fewer frames (the tracked one on a tie)."""
        if len(tracked) == 0 or len(lost) == 0:
            return tracked, lost
        close = 1.0 - iou_inclusive(self._tlbr(tracked), self._tlbr(lost)) < DUPLICATE_IOU_DISTANCE
        a, b = np.nonzero(close)
        if len(a) == 0:
            return tracked, lost
        span = self.frame_seen - self.start_frame
        a_older = span[tracked[a]] > span[lost[b]]
        keep_a = np.ones(len(tracked), bool)
        keep_a[a[~a_older]] = False
        keep_b = np.ones(len(lost), bool)
        keep_b[b[a_older]] = False
        return tracked[keep_a], lost[keep_b]

    # -- track bookkeeping -------------------------------------------------------------------

    def _predict(self, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        mean = self.mean[idx]
        mean[self.state[idx] != TRACKED, 7] = 0.0
        self.mean[idx], self.cov[idx] = kf.predict(mean, self.cov[idx])

    def _apply_warp(self) -> None:
        warp, self._warp = self._warp, None
        if warp is None or len(self.ids) == 0 or np.array_equal(warp, np.eye(3)):
            return
        self.mean, self.cov = warp_states(self.mean, self.cov, warp[:2], XYAH_SIZES)

    def _correct(self, idx: np.ndarray, dets: Detections, det_idx: np.ndarray, use_app: bool) -> None:
        """Mark tracks `idx` matched to boxes `det_idx` (update and re_activate alike); their Kalman
        update waits for _flush, so the frame's three stages share one batched update (no stage
        costs a track another stage has matched, so none needs the corrected state earlier)."""
        if len(idx) == 0:
            return
        self._pending.append((idx, dets.xyah()[det_idx]))
        self.state[idx] = TRACKED
        self.activated[idx] = True
        self.frame_seen[idx] = self.frame_id
        if use_app:
            new = normalise(dets.feature[det_idx].astype(np.float64))
            self.feature[idx] = blend(self.feature[idx], new, self.has_feature[idx], self.params.ema_alpha)
            self.has_feature[idx] = True

    def _flush(self) -> None:
        """The Kalman update of every track matched this frame."""
        if self._pending:
            idx = np.concatenate([i for i, _ in self._pending])
            z = np.concatenate([z for _, z in self._pending])
            self.mean[idx], self.cov[idx] = kf.update(self.mean[idx], self.cov[idx], z)
            self._pending = []

    def _birth(self, dets: Detections, use_app: bool) -> np.ndarray:
        """New tracks, activated at once only on the first frame; returns their indices."""
        n = len(dets)
        start = len(self.ids)
        if n == 0:
            return np.zeros(0, np.int64)
        mean, cov = kf.initiate(dets.xyah())
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self.state = np.concatenate([self.state, np.full(n, TRACKED, np.int64)])
        self.activated = np.concatenate([self.activated, np.full(n, self.frame_id == 1)])
        frames = np.full(n, self.frame_id, np.int64)
        self.start_frame = np.concatenate([self.start_frame, frames])
        self.frame_seen = np.concatenate([self.frame_seen, frames])
        self.retired = np.concatenate([self.retired, np.zeros(n, bool)])
        self.has_feature = np.concatenate([self.has_feature, np.full(n, use_app)])
        if self.feature is not None:
            if use_app:
                new = normalise(dets.feature.astype(np.float64)).astype(np.float32)
            else:
                new = np.zeros((n, self.feature.shape[1]), np.float32)
            self.feature = np.concatenate([self.feature, new])
        return np.arange(start, start + n)

    def _reorder(self, order: np.ndarray) -> None:
        """Keep tracks `order` in that order (tracks left out are gone)."""
        if len(order) == len(self.ids) and np.array_equal(order, np.arange(len(order))):
            return
        for name in ("mean", "cov", "ids", "state", "activated", "start_frame", "frame_seen",
                     "retired", "has_feature"):
            setattr(self, name, getattr(self, name)[order])
        if self.feature is not None:
            self.feature = self.feature[order]
