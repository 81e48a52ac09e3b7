"""DeepSORT (Wojke et al. 2017): Kalman motion, Mahalanobis gating, appearance galleries and the
matching cascade, reproducing nwojke/deep_sort output for output.

Track state lives in arrays (means, covariances, counters) rather than one object per track, so
prediction, gating and the appearance cost are one batched computation per frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker import kalman_filter as kf
from tracker.camera_motion import XYAH_SIZES, as_affine, warp_states
from tracker.detections import Detections
from tracker.params import make_params
from tracker.iou import iou_tlwh
from tracker.linear_assignment import INFTY_COST, global_matching, matching_cascade, min_cost_matching
from tracker.nn_matching import Gallery

TENTATIVE, CONFIRMED, DELETED = 1, 2, 3
MATCHINGS = ("cascade", "global")  # DeepSortParams.matching


@dataclass
class DeepSortParams:
    """Defaults of the FMVAE paper's DeepSORT runs. For metric "euclidean" the threshold applies to
    the squared distance, as in the reference."""

    max_distance: float = 0.2
    metric: str = "cosine"
    nn_budget: int | None = 100
    max_iou_distance: float = 0.7
    max_age: int = 30
    n_init: int = 3
    gating_threshold: float = kf.CHI2_INV_95[4]
    # lambda of Wojke et al. (2017) eq. 5: the cascade's cost is lambda x squared Mahalanobis +
    # (1 - lambda) x appearance, a pair admissible only inside both gates. 0 (the paper's MOT16
    # setting and the reference code) is appearance alone.
    motion_weight: float = 0.0
    # StrongSORT's EMA track feature: with alpha set, a track keeps one feature, alpha x old +
    # (1 - alpha) x new at each match, in place of the gallery (nn_budget then has no effect).
    # None (the reference) keeps the gallery.
    ema_alpha: float | None = None
    # After the appearance cascade, match the confirmed tracks and detections it left by a second,
    # motion-only cascade (inside the Mahalanobis gate, appearance cost 0): appearance claims the
    # pairs it accepts first, and what it rejects is matched as motion-only DeepSORT would. False
    # (the reference): a rejected pair waits for the IoU stage, open only to tracks missed one frame.
    motion_fallback: bool = False
    # How the appearance stage assigns: "cascade" (the reference) matches tracks level by level,
    # the most recently seen first, so a neighbour seen last frame claims a returning person's box
    # before the person's own track, lost for two frames, is asked; "global" (StrongSORT's vanilla
    # matching) solves one assignment over every confirmed track, so the nearest feature wins.
    matching: str = "cascade"


class DeepSort:
    """DeepSORT tracker. Call update() once per frame with that frame's (filtered) detections.

    Detections without features (feature None) are tracked on motion alone: the appearance cost
    of that frame is 0 for every pair, so gating plus IoU decide, and no feature enters a gallery.
    A whole run without features is motion-only DeepSORT; a single frame without them (its image
    was unreadable) leaves the galleries as they were. A confirmed track with an empty gallery
    (all its matches came in such frames) likewise costs 0 until it gets a feature.
    """

    def __init__(self, params: DeepSortParams | None = None, **overrides) -> None:
        self.params = make_params(DeepSortParams, params, overrides)
        if self.params.matching not in MATCHINGS:
            raise ValueError(f"matching must be one of {MATCHINGS}, got {self.params.matching!r}")
        self.gallery = Gallery(self.params.metric, self.params.nn_budget, self.params.ema_alpha)
        self._next_id = 1
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 8, 8))
        self.ids = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.age = np.zeros(0, np.int64)
        self.time_since_update = np.zeros(0, np.int64)
        self.state = np.zeros(0, np.int64)
        self.pending: list[list[np.ndarray]] = []  # features not yet in the gallery, per track

    def __len__(self) -> int:
        return len(self.ids)

    def update(self, detections: Detections) -> list[tuple[int, np.ndarray]]:
        """Predict, associate and update; returns (id, tlwh) of confirmed tracks seen within a frame."""
        dets = detections
        self._predict()
        matches, unmatched_tracks, unmatched_dets = self._match(dets)
        if matches:
            t_idx = np.array([t for t, _ in matches])
            d_idx = np.array([d for _, d in matches])
            self._correct(t_idx, d_idx, dets)
        self._mark_missed(np.asarray(unmatched_tracks, np.int64))
        if len(unmatched_dets):
            self._birth(dets.subset(np.asarray(unmatched_dets, np.int64)))
        self._keep(self.state != DELETED)
        self._fit_gallery()
        return self.tracks_to_report()

    def tracks_to_report(self) -> list[tuple[int, np.ndarray]]:
        show = np.flatnonzero((self.state == CONFIRMED) & (self.time_since_update <= 1))
        return list(zip(self.ids[show].tolist(), self.tlwh(show)))

    def tentative_tracks(self) -> list[tuple[int, np.ndarray]]:
        """(id, tlwh) of the tentative tracks matched or born in the last frame (fewer than n_init
        hits): for drawing them faintly; update() and the results leave them out."""
        show = np.flatnonzero((self.state == TENTATIVE) & (self.time_since_update == 0))
        return list(zip(self.ids[show].tolist(), self.tlwh(show)))

    def apply_camera_motion(self, warp: np.ndarray) -> None:
        """Move every track by the camera's (2, 3) affine warp from the last frame to this one;
        call before update()."""
        warp = as_affine(warp)
        if len(self.ids):
            self.mean, self.cov = warp_states(self.mean, self.cov, warp, XYAH_SIZES)

    def tlwh(self, idx: np.ndarray) -> np.ndarray:
        m = self.mean[idx, :4].copy()
        m[:, 2] *= m[:, 3]
        m[:, :2] -= m[:, 2:] / 2
        return m

    # -- association -------------------------------------------------------------------------

    def _match(self, dets: Detections):
        p = self.params
        n_det = len(dets)
        all_dets = np.arange(n_det)
        confirmed = np.flatnonzero(self.state == CONFIRMED)
        unconfirmed = np.flatnonzero(self.state != CONFIRMED)
        if len(confirmed) and n_det:
            cost = np.zeros((len(self.ids), n_det))
            if dets.feature is not None:
                cost[confirmed] = self.gallery.distance(dets.feature, self.ids[confirmed])
            gate = kf.gating_distance(self.mean[confirmed], self.cov[confirmed], dets.xyah())
            threshold = p.max_distance
            if p.motion_weight > 0:
                lam = p.motion_weight
                inside = (gate <= p.gating_threshold) & (cost[confirmed] <= p.max_distance)
                cost[confirmed] = np.where(inside, lam * gate + (1 - lam) * cost[confirmed], INFTY_COST)
                # every admissible pair costs at most this; the rest are INFTY_COST
                threshold = lam * p.gating_threshold + (1 - lam) * p.max_distance
            else:
                cost[confirmed] = np.where(gate > p.gating_threshold, INFTY_COST, cost[confirmed])
            assign = global_matching if p.matching == "global" else matching_cascade
            matches_a, unmatched_a, unmatched_dets = assign(
                cost, threshold, p.max_age, self.time_since_update, confirmed, all_dets)
            if p.motion_fallback and dets.feature is not None and len(unmatched_a) and len(unmatched_dets):
                cost[confirmed] = np.where(gate > p.gating_threshold, INFTY_COST, 0.0)
                found, unmatched_a, unmatched_dets = matching_cascade(
                    cost, p.max_distance, p.max_age, self.time_since_update, unmatched_a, unmatched_dets)
                matches_a = matches_a + found
        else:
            matches_a, unmatched_a, unmatched_dets = [], confirmed, all_dets
        # IoU stage: unconfirmed tracks plus confirmed ones missed for just this frame
        recent = self.time_since_update[unmatched_a] == 1
        candidates = np.concatenate([unconfirmed, unmatched_a[recent]]).astype(np.int64)
        unmatched_a = unmatched_a[~recent]
        matches_b, unmatched_b, unmatched_dets = min_cost_matching(
            self._iou_cost(candidates, dets, unmatched_dets), p.max_iou_distance,
            np.arange(len(candidates)), np.asarray(unmatched_dets, np.int64))
        matches = matches_a + [(int(candidates[r]), d) for r, d in matches_b]
        unmatched_tracks = np.concatenate([unmatched_a, candidates[np.asarray(unmatched_b, np.int64)]])
        return matches, unmatched_tracks, unmatched_dets

    def _iou_cost(self, candidates: np.ndarray, dets: Detections, det_idx) -> np.ndarray:
        """(candidates x all detections) 1 - IoU, infeasible for tracks missed longer than a frame."""
        cost = np.full((len(candidates), len(dets)), INFTY_COST)
        if len(candidates) and len(det_idx):
            cost[:] = 1.0 - iou_tlwh(self.tlwh(candidates), dets.tlwh)
            cost[self.time_since_update[candidates] > 1] = INFTY_COST
        return cost

    # -- track bookkeeping -------------------------------------------------------------------

    def _predict(self) -> None:
        if len(self.ids):
            self.mean, self.cov = kf.predict(self.mean, self.cov)
            self.age += 1
            self.time_since_update += 1

    def _correct(self, t_idx: np.ndarray, d_idx: np.ndarray, dets: Detections) -> None:
        self.mean[t_idx], self.cov[t_idx] = kf.update(self.mean[t_idx], self.cov[t_idx], dets.xyah()[d_idx])
        if dets.feature is not None:
            for t, d in zip(t_idx.tolist(), d_idx.tolist()):
                self.pending[t].append(dets.feature[d])
        self.hits[t_idx] += 1
        self.time_since_update[t_idx] = 0
        promote = t_idx[(self.state[t_idx] == TENTATIVE) & (self.hits[t_idx] >= self.params.n_init)]
        self.state[promote] = CONFIRMED

    def _mark_missed(self, t_idx: np.ndarray) -> None:
        if len(t_idx) == 0:
            return
        dead = (self.state[t_idx] == TENTATIVE) | (self.time_since_update[t_idx] > self.params.max_age)
        self.state[t_idx[dead]] = DELETED

    def _birth(self, dets: Detections) -> None:
        n = len(dets)
        mean, cov = kf.initiate(dets.xyah())
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.age = np.concatenate([self.age, np.ones(n, np.int64)])
        self.time_since_update = np.concatenate([self.time_since_update, np.zeros(n, np.int64)])
        self.state = np.concatenate([self.state, np.full(n, TENTATIVE, np.int64)])
        self.pending += [[] for _ in range(n)] if dets.feature is None else [[f] for f in dets.feature]

    def _keep(self, mask: np.ndarray) -> None:
        if mask.all():
            return
        for name in ("mean", "cov", "ids", "hits", "age", "time_since_update", "state"):
            setattr(self, name, getattr(self, name)[mask])
        self.pending = [f for f, k in zip(self.pending, mask.tolist()) if k]

    def _fit_gallery(self) -> None:
        """Move confirmed tracks' new features into the gallery; drop galleries of lost tracks."""
        confirmed = np.flatnonzero(self.state == CONFIRMED)
        for t in confirmed.tolist():
            if self.pending[t]:
                self.gallery.add(int(self.ids[t]), np.stack(self.pending[t]))
                self.pending[t] = []
        self.gallery.retain(self.ids[confirmed].tolist())
