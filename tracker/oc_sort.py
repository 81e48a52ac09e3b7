"""OC-SORT (Cao et al., CVPR 2023): SORT made observation-centric, so tracks survive occlusion.

SORT's filter drifts while a track goes unobserved and its velocity is estimated from noisy
frame-to-frame steps. OC-SORT keeps SORT's xysr Kalman filter (the same F, R, P0, Q, imported
from tracker.sort) and adds three things built on the detections themselves:

* ORU, observation-centric re-update: when a track lost for g frames is matched again, its
  filter is rolled back to where it was lost and g virtual observations, linear in centre and
  width/height between the last observation and the new one, are run through it (the
  reference's freeze/unfreeze), so the filter leaves the gap as if it had seen the object all
  along rather than with the drift and uncertainty it built up while predicting blind.
* OCM, observation-centric momentum: a track's direction is taken from its observations
  delta_t frames apart; the first association adds inertia * score * (pi/2 - angle)/pi to the
  IoU, where angle lies between that direction and the one from the track's observation
  delta_t frames back to the candidate detection.
* OCR, observation-centric recovery: detections and tracks left after the first association
  are matched again by IoU against each track's last observation rather than its prediction.

With use_byte, boxes scoring between min_conf and det_thresh are matched to the tracks left
unmatched (by their predictions) before OCR, as in ByteTrack; they never start tracks.

Follows noahcao/OC_SORT (trackers/ocsort_tracker/ocsort.py, association.py, kalmanfilter.py,
its OCSort.update) frame for frame: one-to-one IoU pairs above the threshold are taken directly,
otherwise a full assignment (lap.lapjv with extend_cost and no cost limit, which is
Hungarian on the rectangular matrix; here scipy's linear_sum_assignment) and pairs under the
threshold dropped after; a reported box is the track's last observation (the detection it was
matched to this frame), the filter's box only for a track born this frame; a track's first
detection is not an observation (the reference starts its observation history at the second).
Track state lives in arrays in the reference's list order (prediction and costs are batched);
the few re-found tracks replay their virtual trajectories together, step by step. On MOT15 train it
agrees with BoxMOT 25.0.0's OcSort box for box and id for id (tools/bench/boxmot_compare).

Differences from the reference, all deliberate:

* Whether a track has an observation is a flag; the reference tests `last_observation.sum() >= 0`
  against its [-1]*5 placeholder, which also fires for a real box whose coordinates sum
  negative (partly off the left/top edge), skipping its velocity update and reporting the
  filter's box. BoxMOT tests the score column instead, which is what the flag does.
* The measurement's aspect ratio is w / h (tracker.sort.tlbr_to_z) where the reference has
  w / (h + 1e-6): a relative difference of about 1e-6 / h.
* Track ids count from 1 per tracker instance (the reference's counter is a class attribute).
* Additions, off by default: apply_camera_motion, and appearance (appearance_weight > 0) in the
  first association, Deep OC-SORT style without its adaptive weighting: the similarity
  maximised becomes IoU + OCM term + w * cosine similarity to the track's EMA feature, counted
  only where the boxes overlap (IoU > 0); the IoU threshold still decides which pairs are kept.
  Boxes matched in the first association or OCR update the feature; BYTE's low boxes do not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker.camera_motion import XYSR_SIZES, as_affine, warp_states
from tracker.detections import Detections
from tracker.params import make_params
from tracker.track_features import blend, normalise
from tracker.iou import iou_tlbr
from tracker.sort import _P0, kf_predict, kf_update, tlbr_to_z, x_to_tlbr


@dataclass
class OcSortParams:
    """The authors' defaults (OCSort.__init__, utils/args.py of noahcao/OC_SORT); det_thresh BoxMOT's.

    det_thresh: the reference has no default and its scripts pass --track_thresh 0.6, a value
    set for their YOLOX scores (objectness x class, spread down to 0.1); BoxMOT 25 defaults to
    0.3. A box at or below it is dropped (with use_byte it may only keep a track alive), so the
    value belongs to the detector's score scale. The public MOT15 det.txt (the SORT release's
    Faster R-CNN boxes) was already cut at 0.5 (scores 0.5001 to 0.9998): 0.6 would drop a
    further 4.6 % of its boxes, which SORT uses and DeepSORT's filter (0.3) keeps. 0.3 keeps them
    all, like BoxMOT's OcSort. (0.6 scores better on MOT15 train, IDF1 48.8 against 47.4, but
    picking it for that would be tuning on the data the trackers are compared on.)
    """

    det_thresh: float = 0.3        # boxes scoring above it are matched and start tracks
    max_age: int = 30              # frames a track lives unmatched
    min_hits: int = 3              # hits in a row before a track is reported
    iou_threshold: float = 0.3     # minimum IoU of a match, in every association
    delta_t: int = 3               # frames between the observations that give OCM's direction
    inertia: float = 0.2           # weight of OCM's direction term
    use_byte: bool = False         # BYTE: associate min_conf < score < det_thresh boxes too
    min_conf: float = 0.1          # BYTE's lower score bound (hard-coded 0.1 in the reference)
    appearance_weight: float = 0.0  # w of the cosine-similarity term; 0 = the original exactly
    ema_alpha: float = 0.9         # track feature f <- alpha f + (1 - alpha) f_det, renormalised


def _assign(cost: np.ndarray) -> np.ndarray:
    """Min-cost pairs (K, 2) of a full rectangular assignment: lap.lapjv(cost, extend_cost=True)
    without a cost limit pads the matrix with zeros, which changes no optimum."""
    rows, cols = linear_sum_assignment(cost)
    return np.stack([rows, cols], axis=1).astype(np.int64)


def _match(iou: np.ndarray, similarity: np.ndarray, threshold: float) -> np.ndarray:
    """The reference's matching: pairs (det, track) with IoU >= threshold, taken directly when
    each row and column has at most one pair over it, else from the assignment maximising
    `similarity`."""
    above = iou > threshold
    if above.sum(1).max() == 1 and above.sum(0).max() == 1:
        pairs = np.stack(np.nonzero(above), axis=1)
    else:
        pairs = _assign(-similarity)
    return pairs[iou[pairs[:, 0], pairs[:, 1]] >= threshold]


def _centres(tlbr: np.ndarray) -> np.ndarray:
    return (tlbr[..., :2] + tlbr[..., 2:]) / 2.0


def _warp_tlbr(tlbr: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Boxes moved by the affine warp as warp_states moves an xysr state: centre by A c + t,
    width and height by the scale sqrt|det A| (the aspect ratio is kept)."""
    a, t = warp[:, :2], warp[:, 2]
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    c = _centres(tlbr) @ a.T + t
    half = (tlbr[..., 2:] - tlbr[..., :2]) * (scale / 2.0)
    return np.concatenate([c - half, c + half], axis=-1)


def _interpolated_z(z1: np.ndarray, z2: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """ORU's virtual observations (n, max gap, 4) for the frames after z1 up to z2's, linear in
    centre, width and height (kalmanfilter.unfreeze): row i's step k < gap[i] is frame k + 1 of
    its gap, step gap[i] - 1 is z2's frame; later steps (unused) repeat z2."""
    w1, h1 = np.sqrt(z1[:, 2] * z1[:, 3]), np.sqrt(z1[:, 2] / z1[:, 3])
    w2, h2 = np.sqrt(z2[:, 2] * z2[:, 3]), np.sqrt(z2[:, 2] / z2[:, 3])
    g = gap[:, None].astype(np.float64)
    k = np.minimum(np.arange(1, gap.max() + 1, dtype=np.float64)[None, :], g)
    cx = z1[:, 0, None] + k * ((z2[:, 0, None] - z1[:, 0, None]) / g)
    cy = z1[:, 1, None] + k * ((z2[:, 1, None] - z1[:, 1, None]) / g)
    w = w1[:, None] + k * ((w2 - w1)[:, None] / g)
    h = h1[:, None] + k * ((h2 - h1)[:, None] / g)
    return np.stack([cx, cy, w * h, w / h], axis=2)


class OcSort:
    """OC-SORT tracker. Call update() once per frame, also for frames without detections."""

    _ARRAYS = ("x", "P", "ids", "time_since_update", "hit_streak", "has_obs", "last_obs",
               "velocity", "ring_box", "ring_frame", "frozen_x", "frozen_P", "has_feature")

    def __init__(self, params: OcSortParams | None = None, **overrides) -> None:
        self.params = make_params(OcSortParams, params, overrides)
        k = self.params.delta_t
        self.frame_count = 0
        self._next_id = 1
        self.x = np.zeros((0, 7))
        self.P = np.zeros((0, 7, 7))
        self.ids = np.zeros(0, np.int64)
        self.time_since_update = np.zeros(0, np.int64)
        self.hit_streak = np.zeros(0, np.int64)
        # observations: the reference's last_observation, its age-keyed dict (only the last
        # delta_t frames are ever read: a ring indexed by frame % delta_t) and velocity (dy, dx)
        self.has_obs = np.zeros(0, bool)
        self.last_obs = np.zeros((0, 4))
        self.velocity = np.zeros((0, 2))
        self.ring_box = np.zeros((0, k, 4))
        self.ring_frame = np.zeros((0, k), np.int64)
        # ORU: the filter as it was on the first frame of the current gap (the reference's freeze)
        self.frozen_x = np.zeros((0, 7))
        self.frozen_P = np.zeros((0, 7, 7))
        self.feature: np.ndarray | None = None  # (T, D) unit EMA features, made on first use
        self.has_feature = np.zeros(0, bool)

    def __len__(self) -> int:
        return len(self.ids)

    # -- public ------------------------------------------------------------------------------

    def update(self, detections: Detections) -> list[tuple[int, np.ndarray]]:
        """Advance one frame; returns (id, tlwh) of the tracks the reference reports: updated
        this frame and min_hits hits in a row (or within the first min_hits frames)."""
        p = self.params
        self.frame_count += 1
        frame = self.frame_count
        all_tlbr, conf = detections.tlbr(), detections.confidence
        high = np.flatnonzero(conf > p.det_thresh)
        dets, scores = all_tlbr[high], conf[high]
        use_app = p.appearance_weight > 0 and detections.feature is not None
        det_feat = normalise(detections.feature[high].astype(np.float64)) if use_app else None
        if use_app and self.feature is None:
            self.feature = np.zeros((len(self.ids), detections.feature.shape[1]), np.float32)

        pred = self._predict()
        prev_obs = self._previous_observations(frame)

        # first association: IoU with the predictions plus OCM's direction term
        m1 = self._first_association(dets, scores, pred, prev_obs, det_feat)
        free_trk = np.ones(len(self.ids), bool)
        free_trk[m1[:, 1]] = False
        free_det = np.ones(len(dets), bool)
        free_det[m1[:, 0]] = False

        # BYTE: low boxes against the predictions of the tracks left
        m_low = np.zeros((0, 2), np.int64)
        if p.use_byte:
            low = all_tlbr[(conf > p.min_conf) & (conf < p.det_thresh)]
            trk = np.flatnonzero(free_trk)
            if len(low) and len(trk):
                iou = iou_tlbr(low, pred[trk])
                if iou.max() > p.iou_threshold:
                    pairs = _assign(-iou)
                    pairs = pairs[iou[pairs[:, 0], pairs[:, 1]] >= p.iou_threshold]
                    m_low = np.stack([pairs[:, 0], trk[pairs[:, 1]]], axis=1)
                    free_trk[m_low[:, 1]] = False
            low_boxes = low[m_low[:, 0]]
        else:
            low_boxes = np.zeros((0, 4))

        # OCR: the high boxes left against the last observations of the tracks left
        m_ocr = np.zeros((0, 2), np.int64)
        det_left = np.flatnonzero(free_det)
        trk_left = np.flatnonzero(free_trk & self.has_obs)  # without one the reference's IoU is 0
        if len(det_left) and len(trk_left):
            iou = iou_tlbr(dets[det_left], self.last_obs[trk_left])
            if iou.max() > p.iou_threshold:
                pairs = _assign(-iou)
                pairs = pairs[iou[pairs[:, 0], pairs[:, 1]] >= p.iou_threshold]
                m_ocr = np.stack([det_left[pairs[:, 0]], trk_left[pairs[:, 1]]], axis=1)
                free_det[m_ocr[:, 0]] = False
                free_trk[m_ocr[:, 1]] = False

        high_matches = np.concatenate([m1, m_ocr])
        trk_idx = np.concatenate([high_matches[:, 1], m_low[:, 1]])
        boxes = np.concatenate([dets[high_matches[:, 0]], low_boxes])
        if use_app and len(high_matches):
            self._blend_features(high_matches[:, 1], det_feat[high_matches[:, 0]])
        # the reference's freeze: a track observed last frame and missed now keeps its filter
        freeze = free_trk & self.has_obs & (self.time_since_update == 1)
        self.frozen_x[freeze] = self.x[freeze]
        self.frozen_P[freeze] = self.P[freeze]
        self._observe(trk_idx, boxes, prev_obs, frame)
        self._birth(dets[free_det], det_feat[free_det] if use_app else None)
        return self._report_and_prune()

    def tentative_tracks(self) -> list[tuple[int, np.ndarray]]:
        """(id, tlwh) of the tracks updated this frame that update() did not report (too few hits
        in a row yet): for drawing them faintly; results leave them out."""
        idx = np.flatnonzero((self.time_since_update < 1) & ~self._shown())
        return list(zip(self.ids[idx].tolist(), self._tlwh(idx)))

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every track by the camera's (2, 3) affine warp from the last frame to this one;
        call before update(). The filter, the state frozen for ORU, the stored observations and
        the direction all move, so ORU, OCM and OCR compare boxes in this frame's coordinates."""
        w = as_affine(warp)
        if not len(self.ids):
            return
        self.x, self.P = warp_states(self.x, self.P, w, XYSR_SIZES)
        self.frozen_x, self.frozen_P = warp_states(self.frozen_x, self.frozen_P, w, XYSR_SIZES)
        self.last_obs = _warp_tlbr(self.last_obs, w)
        self.ring_box = _warp_tlbr(self.ring_box, w)
        # a direction turns with A; its length (1 up to the reference's 1e-6) is kept
        v_xy = self.velocity[:, ::-1]
        moved = v_xy @ w[:, :2].T
        old, new = np.linalg.norm(v_xy, axis=1), np.linalg.norm(moved, axis=1)
        ok = new > 0
        moved[ok] *= (old[ok] / new[ok])[:, None]
        self.velocity = moved[:, ::-1].copy()

    # -- association -------------------------------------------------------------------------

    def _previous_observations(self, frame: int) -> np.ndarray:
        """Each track's observation delta_t frames back (k_previous_obs): the earliest one within
        the last delta_t frames, else the last one (rows of a track without any: unused)."""
        in_window = self.ring_frame >= frame - self.params.delta_t
        earliest = np.argmin(np.where(in_window, self.ring_frame, np.iinfo(np.int64).max), axis=1)
        rows = np.arange(len(self.ids))
        return np.where(in_window.any(axis=1)[:, None], self.ring_box[rows, earliest], self.last_obs)

    def _first_association(self, dets: np.ndarray, scores: np.ndarray, pred: np.ndarray,
                           prev_obs: np.ndarray, det_feat: np.ndarray | None) -> np.ndarray:
        """associate(): matches (K, 2) of (det, track)."""
        p = self.params
        if len(dets) == 0 or len(pred) == 0:
            return np.zeros((0, 2), np.int64)
        iou = iou_tlbr(dets, pred)
        # OCM: direction from each track's earlier observation to each detection, (N, T)
        d = _centres(dets)[:, None, :] - _centres(prev_obs)[None, :, :]
        d = d / (np.sqrt((d ** 2).sum(-1, keepdims=True)) + 1e-6)
        cos = np.clip(self.velocity[None, :, 1] * d[..., 0] + self.velocity[None, :, 0] * d[..., 1], -1.0, 1.0)
        angle_term = (np.pi / 2.0 - np.abs(np.arccos(cos))) / np.pi
        angle_term = angle_term * self.has_obs[None, :] * p.inertia * scores[:, None]
        similarity = iou + angle_term
        if det_feat is not None and self.has_feature.any():
            cos_sim = det_feat @ self.feature.astype(np.float64).T
            use = (iou > 0) & self.has_feature[None, :]
            similarity = similarity + np.where(use, p.appearance_weight * cos_sim, 0.0)
        return _match(iou, similarity, p.iou_threshold)

    # -- track bookkeeping -------------------------------------------------------------------

    def _predict(self) -> np.ndarray:
        """Kalman prediction of every track; returns the predicted boxes (tlbr). A track whose
        box turns invalid (negative area) is dropped, as in the reference."""
        if not len(self.ids):
            return np.zeros((0, 4))
        x = self.x
        x[x[:, 6] + x[:, 2] <= 0, 6] = 0.0
        self.x, self.P = kf_predict(x, self.P)
        self.hit_streak[self.time_since_update > 0] = 0
        self.time_since_update += 1
        pred = x_to_tlbr(self.x)
        ok = ~np.isnan(pred).any(axis=1)
        if not ok.all():
            self._keep(ok)
            pred = pred[ok]
        return pred

    def _observe(self, idx: np.ndarray, boxes: np.ndarray, prev_obs: np.ndarray, frame: int) -> None:
        """The reference's KalmanBoxTracker.update(bbox) for tracks idx and boxes (tlbr): OCM's
        direction, the observation records, ORU for a track re-found after a gap, the filter."""
        if not len(idx):
            return
        seen = self.has_obs[idx]
        d = _centres(boxes[seen]) - _centres(prev_obs[idx[seen]])
        norm = np.sqrt((d ** 2).sum(axis=1, keepdims=True)) + 1e-6
        self.velocity[idx[seen]] = (d / norm)[:, ::-1]
        z = tlbr_to_z(boxes)
        gap = self.time_since_update[idx]
        refound = np.flatnonzero(seen & (gap > 1))
        if len(refound):
            self._reupdate(idx[refound], z[refound], gap[refound])
        self.x[idx], self.P[idx] = kf_update(self.x[idx], self.P[idx], z)
        self.has_obs[idx] = True
        self.last_obs[idx] = boxes
        slot = frame % self.params.delta_t
        self.ring_box[idx, slot] = boxes
        self.ring_frame[idx, slot] = frame
        self.time_since_update[idx] = 0
        self.hit_streak[idx] += 1

    def _reupdate(self, idx: np.ndarray, z_new: np.ndarray, gap: np.ndarray) -> None:
        """ORU: from the filter frozen on the gap's first frame, correct with the virtual
        observations and predict between them up to this frame (the reference's unfreeze; the
        caller then corrects with the real observation, as the reference does after it).
        The re-found tracks step together, longest gap first, so step k runs on a prefix."""
        order = np.argsort(-gap, kind="stable")
        idx, z_new, gap = idx[order], z_new[order], gap[order]
        x, P = self.frozen_x[idx], self.frozen_P[idx]
        virtual = _interpolated_z(tlbr_to_z(self.last_obs[idx]), z_new, gap)
        live = np.count_nonzero(gap[None, :] > np.arange(gap[0] + 1)[:, None], axis=1)
        for k in range(gap[0]):
            n = live[k]
            x[:n], P[:n] = kf_update(x[:n], P[:n], virtual[:n, k])
            n = live[k + 1]
            if n:
                x[:n], P[:n] = kf_predict(x[:n], P[:n])
        self.x[idx], self.P[idx] = x, P

    def _blend_features(self, idx: np.ndarray, new: np.ndarray) -> None:
        self.feature[idx] = blend(self.feature[idx], new, self.has_feature[idx], self.params.ema_alpha)
        self.has_feature[idx] = True

    def _birth(self, boxes: np.ndarray, feat: np.ndarray | None) -> None:
        n = len(boxes)
        if n == 0:
            return
        k = self.params.delta_t
        x = np.zeros((n, 7))
        x[:, :4] = tlbr_to_z(boxes)
        new = {
            "x": x, "P": np.broadcast_to(_P0, (n, 7, 7)),
            "ids": np.arange(self._next_id, self._next_id + n),
            "time_since_update": np.zeros(n, np.int64), "hit_streak": np.zeros(n, np.int64),
            "has_obs": np.zeros(n, bool), "last_obs": np.zeros((n, 4)), "velocity": np.zeros((n, 2)),
            "ring_box": np.zeros((n, k, 4)), "ring_frame": np.full((n, k), np.iinfo(np.int64).min // 2),
            "frozen_x": np.zeros((n, 7)), "frozen_P": np.zeros((n, 7, 7)),
            "has_feature": np.full(n, feat is not None),
        }
        self._next_id += n
        for name, value in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), value]))
        if self.feature is not None:
            f = feat.astype(np.float32) if feat is not None else np.zeros((n, self.feature.shape[1]), np.float32)
            self.feature = np.concatenate([self.feature, f])

    def _shown(self) -> np.ndarray:
        p = self.params
        return (self.hit_streak >= p.min_hits) | (self.frame_count <= p.min_hits)

    def _tlwh(self, idx: np.ndarray) -> np.ndarray:
        """The reference's output box: the last observation, the filter's box before the first."""
        box = self.last_obs[idx]
        new = ~self.has_obs[idx]
        if new.any():
            box[new] = x_to_tlbr(self.x[idx[new]])
        box[:, 2:] -= box[:, :2]
        return box

    def _report_and_prune(self) -> list[tuple[int, np.ndarray]]:
        # the reference walks its list backwards: reported tracks come newest first
        order = np.flatnonzero((self.time_since_update < 1) & self._shown())[::-1]
        out = list(zip(self.ids[order].tolist(), self._tlwh(order)))
        alive = self.time_since_update <= self.params.max_age
        if not alive.all():
            self._keep(alive)
        return out

    def _keep(self, mask: np.ndarray) -> None:
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[mask])
        if self.feature is not None:
            self.feature = self.feature[mask]
