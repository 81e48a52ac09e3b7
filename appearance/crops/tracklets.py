"""Pseudo-identities without labels: strict IoU tracklets cut from a sequence's own detections.

A detector's boxes of one person in consecutive frames overlap strongly; two people's boxes only
do so when they are close, which is when a link is ambiguous. Linking frame to frame on a high
IoU, dropping every link that a second box could also claim, and keeping only long tracklets
gives identity labels that are nearly pure (SimpleReID, Karthik et al. 2020, trains re-id on
tracker output the same way). Each tracklet is a class for metric learning; two tracklets of
one person are simply two classes, which costs little.

NumPy and SciPy only; ground truth is never read here (`purity` scores the result afterwards).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tracker.iou import iou_tlwh


@dataclass(frozen=True)
class TrackletParams:
    """Thresholds of the strict linker; the defaults keep purity near 0.97-0.99 on MOT15."""

    link_iou: float = 0.5       # a link needs at least this IoU between consecutive boxes
    ambiguity_iou: float = 0.3  # ... and no second box overlapping either end this much
    min_length: int = 8         # tracklets with fewer crops are dropped (label -1)
    max_gap: int = 1            # frames a link may span (1: consecutive frames only); a
                                # tracklet stays open this long after its last box

    def to_dict(self) -> dict:
        return asdict(self)


def tracklet_ids(frame: np.ndarray, tlwh: np.ndarray, params: TrackletParams = TrackletParams(),
                 ) -> np.ndarray:
    """A tracklet label per detection (0, 1, ... in order of first frame), -1 where dropped.

    `frame` (N,) and `tlwh` (N, 4) are one sequence's detections in any order.
    """
    from scipy.optimize import linear_sum_assignment

    frame = np.asarray(frame).astype(np.int64)
    tlwh = np.asarray(tlwh, dtype=np.float64).reshape(-1, 4)
    if len(frame) != len(tlwh):
        raise ValueError(f"{len(frame)} frames for {len(tlwh)} boxes")
    label = np.full(len(frame), -1, np.int64)
    if not len(frame):
        return label
    order = np.argsort(frame, kind="stable")
    frames, starts = np.unique(frame[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    last = np.zeros(0, np.int64)   # the newest detection of every tracklet still open to a link
    before = np.zeros(0, np.int64)  # ... and the one before it (-1: a tracklet of one box)
    n_labels = 0
    for f, lo, hi in zip(frames, starts, ends):
        cur = order[lo:hi]
        open_ = f - frame[last] <= params.max_gap
        last, before = last[open_], before[open_]
        linked = np.zeros(len(cur), bool)
        gaps = f - frame[last]
        # the most recent ends first, as DeepSORT's cascade does: a box seen a frame ago claims
        # its continuation before an older end (a person after a missed detection) may
        for gap in np.unique(gaps):
            ends_at = np.flatnonzero(gaps == gap)
            free = np.flatnonzero(~linked)
            if not len(free):
                break
            iou = iou_tlwh(_expected(tlwh, frame, last[ends_at], before[ends_at], f), tlwh[cur[free]])
            r, c = linear_sum_assignment(iou, maximize=True)
            close = iou >= params.ambiguity_iou
            own = close[r, c]  # the matched pair itself, when it is that close
            rivals = (close.sum(axis=1)[r] - own) + (close.sum(axis=0)[c] - own)
            ok = (iou[r, c] >= params.link_iou) & (rivals == 0)
            took, boxes = ends_at[r[ok]], free[c[ok]]   # the linked ends and the boxes they took
            label[cur[boxes]] = label[last[took]]
            linked[boxes] = True
            before[took], last[took] = last[took], cur[boxes]
        fresh = cur[~linked]
        label[fresh] = np.arange(n_labels, n_labels + len(fresh))
        n_labels += len(fresh)
        last = np.concatenate([last, fresh])
        before = np.concatenate([before, np.full(len(fresh), -1, np.int64)])
    return _drop_short(label, params.min_length)


def _expected(tlwh: np.ndarray, frame: np.ndarray, last: np.ndarray, before: np.ndarray, f: int) -> np.ndarray:
    """Where each open tracklet's box should be at frame f. From the frame after its last box,
    that box itself (the link rule on consecutive frames); across a gap, moved on at the velocity
    of its last two boxes, since a person whose detection was missed kept walking (and at a
    crossing, the place a missed person was is where the other one is now)."""
    box = tlwh[last].copy()
    gap = f - frame[last]
    move = (gap > 1) & (before >= 0)
    if move.any():
        a, b = before[move], last[move]
        box[move] += (tlwh[b] - tlwh[a]) * ((gap[move]) / (frame[b] - frame[a]))[:, None]
    return box


def _drop_short(label: np.ndarray, min_length: int) -> np.ndarray:
    """Set labels of tracklets shorter than min_length to -1 and renumber the rest densely."""
    out = np.full(len(label), -1, np.int64)
    if not len(label):
        return out
    ids, first, inverse, counts = np.unique(label, return_index=True, return_inverse=True,
                                            return_counts=True)
    keep = counts >= min_length
    # dense ids in order of first appearance among the kept tracklets
    rank = np.full(len(ids), -1, np.int64)
    kept = np.flatnonzero(keep)
    rank[kept[np.argsort(first[kept], kind="stable")]] = np.arange(len(kept))
    return rank[inverse.reshape(-1)]


@dataclass(frozen=True)
class TrackletSummary:
    """What a labelling produced: how many tracklets, how long, and (given gt) how pure."""

    detections: int
    labelled: int
    tracklets: int
    mean_length: float
    purity: float | None         # of labelled crops on a gt person: share on their tracklet's majority id
    unmatched: float | None      # share of labelled crops that cover no gt person (false positives)

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        text = (f"{self.tracklets} tracklets over {self.labelled} of {self.detections} detections "
                f"(mean length {self.mean_length:.1f})")
        if self.purity is None:
            return text
        return text + (f", purity {self.purity:.3f} against gt, "
                       f"{100 * self.unmatched:.1f}% on no gt person")


def summarise(label: np.ndarray, gt_id: np.ndarray | None = None) -> TrackletSummary:
    """Count and length of the tracklets; purity only where `gt_id` (evaluation only) is given.

    Purity counts, among labelled crops that cover a gt person, those whose gt id is their
    tracklet's most common one; crops on no gt person (gt_id -1) are counted apart.
    """
    label = np.asarray(label)
    kept = label >= 0
    n = int(kept.sum())
    _, counts = np.unique(label[kept], return_counts=True)
    purity = unmatched = None
    if gt_id is not None and n:
        gt = np.asarray(gt_id)[kept]
        lab = label[kept]
        on_person = gt >= 0
        right = 0
        for t in np.unique(lab[on_person]):
            g = gt[on_person & (lab == t)]
            right += int(np.unique(g, return_counts=True)[1].max())
        purity = right / max(int(on_person.sum()), 1)
        unmatched = 1.0 - on_person.mean()
    return TrackletSummary(detections=len(label), labelled=n, tracklets=len(counts),
                           mean_length=float(counts.mean()) if len(counts) else 0.0,
                           purity=purity, unmatched=unmatched)
