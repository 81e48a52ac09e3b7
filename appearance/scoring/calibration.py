"""A matching threshold for a descriptor, proposed from unlabelled detections.

DeepSORT accepts an appearance match when the distance is at most `max_distance`. The right value
depends on the descriptor (and, for squared Euclidean distance, on its latent scale), and the data
to set it usually has no identities. Two label-free sources of pairs stand in for labels:

- positives: two detections of one high-confidence tracklet, a few frames apart. The tracklets
  come from IoU-only SORT with strict settings (IoU 0.5, 3 hits before a box is reported, no
  coasting), cut wherever a detection overlaps another one, since that is where IoU tracking can
  hand a track to the wrong person;
- negatives: two detections of the same frame that overlap little: two people seen at the same
  time are different people. Only detections inside tracklets are used, so both kinds of pair
  come from the same population of boxes that show people.

The proposed threshold minimises the balanced error FRR(t) + FAR(t), with FAR(t) the fraction of
negatives at distance <= t (falsely accepted) and FRR(t) the fraction of positives above t
(falsely rejected); on a flat minimum it takes the middle. Balanced rather than pooled error,
because the ratio of positive to negative pairs is an artefact of crowd size and the gap window,
not a prior of the tracker. A negative-percentile rule (threshold = the q-th percentile of the
negatives, FAR = q) is also reported: it ignores the positives and, for a weak descriptor whose
distributions overlap, rejects most true matches, so it is offered as the conservative
alternative, not the default.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from tracker import Detections, Sort, SortParams
from tracker.iou import iou_tlwh
from tracker.nn_matching import Gallery, check_metric, paired_distance
from tracker.preprocessing import non_max_suppression

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


@dataclass(frozen=True)
class PairSettings:
    """How pairs are drawn; defaults aim for pure positives over quantity."""

    iou_threshold: float = 0.5    # SORT association: stricter than its default 0.3
    min_hits: int = 3             # SORT: detections before a tracklet is trusted
    min_gap: int = 1              # positives: frames between the two detections
    max_gap: int = 10
    occlusion_iou: float = 0.3    # a detection overlapping another this much is dropped/cuts
    negative_max_iou: float = 0.3 # same-frame pairs overlapping more may be one person twice
    ema_alpha: float | None = None  # set: pair a box with the EMA feature of the other box's
                                    # tracklet so far, as DeepSORT --ema-alpha matches tracks


def filter_detections(frames: np.ndarray, tlwh: np.ndarray, confidence: np.ndarray,
                      min_confidence: float, nms_max_overlap: float) -> np.ndarray:
    """Indices the tracker would keep (DeepSORT's confidence cut and NMS), in frame order."""
    keep = []
    order = np.argsort(frames, kind="stable")
    bounds = np.flatnonzero(np.diff(frames[order])) + 1
    for group in np.split(order, bounds):
        group = group[confidence[group] >= min_confidence]
        if len(group):
            keep.append(np.sort(group[non_max_suppression(tlwh[group], nms_max_overlap, confidence[group])]))
    return np.concatenate(keep) if keep else np.zeros(0, np.int64)


def _frame_groups(frames: np.ndarray) -> list[np.ndarray]:
    """Indices of each distinct frame, frames ascending."""
    order = np.argsort(frames, kind="stable")
    if not len(order):
        return []
    return np.split(order, np.flatnonzero(np.diff(frames[order])) + 1)


def build_tracklets(frames: np.ndarray, tlwh: np.ndarray, settings: PairSettings = PairSettings()
                    ) -> np.ndarray:
    """Tracklet id of each detection (-1: in none), from IoU-only SORT with strict settings.

    SORT reports filtered boxes, not detection indices; each reported box is tied back to the
    detection it was corrected with by a one-to-one IoU match (it sits on that detection up to
    the Kalman update, so the tie is unambiguous at IoU >= 0.5). Frames without detections are
    still stepped, so a gap ends a tracklet as it would end a SORT track.
    """
    track = np.full(len(frames), -1, np.int64)
    if not len(frames):
        return track
    sort = Sort(SortParams(max_age=1, min_hits=settings.min_hits, iou_threshold=settings.iou_threshold))
    groups = {int(frames[g[0]]): g for g in _frame_groups(frames)}
    first, last = min(groups), max(groups)
    for f in range(first, last + 1):
        idx = groups.get(f, np.zeros(0, np.int64))
        reported = sort.update(Detections(tlwh[idx], np.ones(len(idx))))
        if not reported or not len(idx):
            continue
        ids = np.array([tid for tid, _ in reported])
        boxes = np.array([box for _, box in reported])
        iou = iou_tlwh(boxes, tlwh[idx])
        r, c = linear_sum_assignment(iou, maximize=True)
        good = iou[r, c] >= 0.5
        track[idx[c[good]]] = ids[r[good]]
    # SORT reports every track during its first min_hits frames (its warm-up rule): drop the
    # tracks that never reached min_hits detections, as they would be dropped later on.
    valid = track >= 0
    ids, counts = np.unique(track[valid], return_counts=True)
    short = ids[counts < settings.min_hits]
    track[np.isin(track, short)] = -1
    return track


def crowded(frames: np.ndarray, tlwh: np.ndarray, max_iou: float) -> np.ndarray:
    """True for detections overlapping another detection of their frame with IoU > max_iou."""
    out = np.zeros(len(frames), bool)
    for g in _frame_groups(frames):
        if len(g) > 1:
            iou = iou_tlwh(tlwh[g], tlwh[g])
            np.fill_diagonal(iou, 0.0)
            out[g] = iou.max(axis=1) > max_iou
    return out


def positive_pairs(frames: np.ndarray, track: np.ndarray, usable: np.ndarray,
                   min_gap: int, max_gap: int) -> np.ndarray:
    """(K, 2) index pairs of one tracklet, min_gap..max_gap frames apart, within a clean stretch.

    A tracklet is cut at every unusable (crowded) detection: pairs never reach across one.
    """
    pairs = []
    members = np.flatnonzero(track >= 0)
    for tid in np.unique(track[members]):
        idx = members[track[members] == tid]
        idx = idx[np.argsort(frames[idx], kind="stable")]
        # stretch number: grows at each crowded detection, which itself is dropped
        stretch = np.cumsum(~usable[idx])
        idx, stretch = idx[usable[idx]], stretch[usable[idx]]
        f = frames[idx]
        for i in range(len(idx)):
            gap = f[i + 1:] - f[i]
            j = np.flatnonzero((gap >= min_gap) & (gap <= max_gap) & (stretch[i + 1:] == stretch[i]))
            pairs.extend((idx[i], idx[i + 1 + k]) for k in j)
    return np.array(pairs, np.int64).reshape(-1, 2)


def negative_pairs(frames: np.ndarray, tlwh: np.ndarray, candidates: np.ndarray,
                   max_iou: float) -> np.ndarray:
    """(K, 2) index pairs of distinct candidate detections in one frame overlapping <= max_iou."""
    pairs = []
    cand = np.flatnonzero(candidates)
    for g in _frame_groups(frames[cand]):
        g = cand[g]
        if len(g) < 2:
            continue
        iou = iou_tlwh(tlwh[g], tlwh[g])
        a, b = np.triu_indices(len(g), k=1)
        ok = iou[a, b] <= max_iou
        pairs.extend(zip(g[a[ok]], g[b[ok]]))
    return np.array(pairs, np.int64).reshape(-1, 2)


def running_ema(frames: np.ndarray, group: np.ndarray, features: np.ndarray, alpha: float,
                metric: str) -> np.ndarray:
    """Each grouped detection's group feature up to and including it, in frame order, folded as
    the tracker's EMA gallery folds (tracker.nn_matching.Gallery): what a track has become by the
    time it meets a later box. Detections outside a group (-1) keep their own feature."""
    out = np.asarray(features, np.float32).copy()
    gallery = Gallery(metric, ema=alpha)
    for i in np.argsort(frames, kind="stable"):
        g = int(group[i])
        if g >= 0:
            gallery.add(g, out[i:i + 1])
            out[i] = gallery.samples[g][0]
    return out


def labelled_pairs(frames: np.ndarray, tlwh: np.ndarray, ids: np.ndarray, min_gap: int, max_gap: int,
                   negative_max_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives from identities (-1 unknown): the reference the proxy imitates.

    The same gap window and overlap cut as the label-free pairs, so the two are comparable.
    """
    known = ids >= 0
    pos = positive_pairs(frames, np.where(known, ids, -1), np.ones(len(ids), bool), min_gap, max_gap)
    neg = negative_pairs(frames, tlwh, known, negative_max_iou)
    if len(neg):
        neg = neg[ids[neg[:, 0]] != ids[neg[:, 1]]]
    return pos, neg


@dataclass
class Proposal:
    threshold: float
    far: float          # fraction of negatives accepted (distance <= threshold)
    frr: float          # fraction of positives rejected (distance > threshold)
    rule: str


def error_rates(pos: np.ndarray, neg: np.ndarray, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, FRR) at threshold(s) t: accepted means distance <= t, as DeepSORT gates."""
    t = np.asarray(t, np.float64)
    far = np.searchsorted(np.sort(neg), t, side="right") / max(len(neg), 1)
    frr = 1.0 - np.searchsorted(np.sort(pos), t, side="right") / max(len(pos), 1)
    return far, frr


def balanced_threshold(pos: np.ndarray, neg: np.ndarray) -> Proposal:
    """The threshold minimising FAR + FRR, at the middle of the minimising interval."""
    if not len(pos) or not len(neg):
        raise ValueError("need both positive and negative distances")
    cand = np.unique(np.concatenate([pos, neg]))
    # below every distance: FAR 0, FRR 1 (accept nothing) is a candidate too
    far, frr = error_rates(pos, neg, cand)
    err = far + frr
    best = int(np.argmin(err))
    if err[best] >= 1.0:  # no threshold beats accepting nothing: the descriptor carries no signal
        t = float(cand[0]) - 1e-9
    else:
        end = best
        while end + 1 < len(cand) and err[end + 1] == err[best]:
            end += 1
        t = float((cand[best] + cand[end + 1]) / 2) if end + 1 < len(cand) else float(cand[best])
    a, r = error_rates(pos, neg, t)
    return Proposal(t, float(a), float(r), "balanced")


def percentile_threshold(pos: np.ndarray, neg: np.ndarray, far_target: float) -> Proposal:
    """The far_target quantile of the negatives (conservative: bounds false accepts only)."""
    t = float(np.quantile(neg, far_target, method="lower"))
    a, r = error_rates(pos, neg, t)
    return Proposal(t, float(a), float(r), f"FAR target {100 * far_target:g}% (negatives)")


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive is closer than a negative), ties counted half: 0.5 is chance."""
    if not len(pos) or not len(neg):
        return float("nan")
    both = np.concatenate([pos, neg])
    ranks = _average_ranks(both)
    # Mann-Whitney U of the negatives (larger distances) over the positives
    u = ranks[len(pos):].sum() - len(neg) * (len(neg) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


@dataclass
class Distributions:
    """Distances of positive and negative pairs and what they imply for a threshold."""

    pos: np.ndarray
    neg: np.ndarray
    label: str
    proposal: Proposal | None = None
    alternatives: list[Proposal] = field(default_factory=list)

    @property
    def auc(self) -> float:
        return auc(self.pos, self.neg)

    def propose(self, far_targets: tuple[float, ...] = (0.01, 0.05)) -> "Distributions":
        if len(self.pos) and len(self.neg):
            self.proposal = balanced_threshold(self.pos, self.neg)
            self.alternatives = [percentile_threshold(self.pos, self.neg, q) for q in far_targets]
        return self

    def percentiles(self) -> dict[str, np.ndarray]:
        out = {}
        for name, d in (("positives", self.pos), ("negatives", self.neg)):
            out[name] = np.percentile(d, PERCENTILES) if len(d) else np.full(len(PERCENTILES), np.nan)
        return out


@dataclass
class Calibration:
    metric: str
    settings: PairSettings
    label_free: Distributions
    labelled: Distributions | None = None       # from gt identities, for reference only
    purity: dict[str, float] | None = None      # how often label-free pairs agree with gt
    counts: dict[str, int] = field(default_factory=dict)


def calibrate(frames: np.ndarray, tlwh: np.ndarray, features: np.ndarray, metric: str = "cosine",
              settings: PairSettings = PairSettings(), gt_ids: np.ndarray | None = None,
              sequence: np.ndarray | None = None) -> Calibration:
    """Distances of label-free pairs (and labelled ones where gt_ids is given) and a threshold.

    frames, tlwh and features describe detections already filtered as the tracker would;
    `sequence` (a label per detection) keeps several sequences apart.
    """
    check_metric(metric)
    frames = np.asarray(frames, np.int64)
    tlwh = np.asarray(tlwh, np.float64)
    seq = np.zeros(len(frames), np.int64) if sequence is None else np.unique(sequence, return_inverse=True)[1]
    pos_all, neg_all, lpos_all, lneg_all = [], [], [], []
    n_tracklets = 0
    group = np.full(len(frames), -1, np.int64)  # tracklet, numbered apart per sequence
    in_tracklet = np.zeros(len(frames), bool)
    for s in np.unique(seq):
        sel = np.flatnonzero(seq == s)
        f, b = frames[sel], tlwh[sel]
        track = build_tracklets(f, b, settings)
        group[sel] = np.where(track >= 0, track + len(frames) * s, -1)
        n_tracklets += len(np.unique(track[track >= 0]))
        in_tracklet[sel] = track >= 0
        usable = ~crowded(f, b, settings.occlusion_iou)
        pos_all.append(sel[positive_pairs(f, track, usable, settings.min_gap, settings.max_gap)])
        neg_all.append(sel[negative_pairs(f, b, track >= 0, settings.negative_max_iou)])
        if gt_ids is not None:
            lp, ln = labelled_pairs(f, b, np.asarray(gt_ids)[sel], settings.min_gap, settings.max_gap,
                                    settings.negative_max_iou)
            lpos_all.append(sel[lp])
            lneg_all.append(sel[ln])
    pos = np.concatenate(pos_all).reshape(-1, 2)
    neg = np.concatenate(neg_all).reshape(-1, 2)
    pos_d, neg_d = _pair_distances(pos, neg, frames, group, features, metric, settings.ema_alpha)
    result = Calibration(metric, settings, Distributions(pos_d, neg_d, "label-free").propose(),
                         counts={"detections": len(frames), "tracklets": n_tracklets,
                                 "in_tracklets": int(in_tracklet.sum()),
                                 "positive_pairs": len(pos), "negative_pairs": len(neg)})
    if gt_ids is not None:
        ids = np.asarray(gt_ids)
        lpos = np.concatenate(lpos_all).reshape(-1, 2)
        lneg = np.concatenate(lneg_all).reshape(-1, 2)
        gid = np.where(ids >= 0, ids + (int(ids.max()) + 1) * seq, -1)
        lpos_d, lneg_d = _pair_distances(lpos, lneg, frames, gid, features, metric, settings.ema_alpha)
        result.labelled = Distributions(lpos_d, lneg_d, "gt identities").propose()
        result.purity = _purity(ids, pos, neg)
    return result


def _pair_distances(pos: np.ndarray, neg: np.ndarray, frames: np.ndarray, group: np.ndarray,
                    features: np.ndarray, metric: str, ema_alpha: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Distances of positive pairs (earlier box first) and negative pairs. With ema_alpha the
    first box of a positive stands for its group's EMA feature so far, and a negative is measured
    both ways round (either person's track may meet the other's box)."""
    def dist(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
        return paired_distance(a[p[:, 0]], b[p[:, 1]], metric) if len(p) else np.zeros(0)

    if ema_alpha is None:
        return dist(features, features, pos), dist(features, features, neg)
    ema = running_ema(frames, group, features, ema_alpha, metric)
    return dist(ema, features, pos), np.concatenate([dist(ema, features, neg), dist(ema, features, neg[:, ::-1])])


def _purity(ids: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> dict[str, float]:
    """Share of label-free pairs that gt confirms, among pairs whose both boxes have a gt id."""
    out = {}
    for name, p, same in (("positives", pos, True), ("negatives", neg, False)):
        if not len(p):
            out[name] = float("nan")
            continue
        a, b = ids[p[:, 0]], ids[p[:, 1]]
        known = (a >= 0) & (b >= 0)
        out[name] = float(((a == b) == same)[known].mean()) if known.any() else float("nan")
        out[f"{name}_with_gt"] = float(known.mean())
    return out


def format_report(cal: Calibration) -> str:
    """Percentile tables, the proposal with its error rates, and the gt reference if present."""
    what = "cosine distance (1 - cos)" if cal.metric == "cosine" else "squared Euclidean distance"
    c = cal.counts
    lines = [f"metric: {what}",
             f"{c['detections']} detections, {c['tracklets']} tracklets holding {c['in_tracklets']}; "
             f"{c['positive_pairs']} positive pairs (same tracklet, {cal.settings.min_gap}-"
             f"{cal.settings.max_gap} frames apart), {c['negative_pairs']} negative pairs (same frame)",
             ""]
    lines += _distribution_lines(cal.label_free, "label-free (tracklets; no labels used)")
    if cal.labelled is not None:
        lines.append("")
        lines += _distribution_lines(cal.labelled, "REFERENCE, USES GT LABELS (detections matched to gt ids)")
        if cal.purity:
            p = cal.purity
            lines.append(f"  label-free pairs confirmed by gt: positives {100 * p['positives']:.1f}% "
                         f"(of the {100 * p.get('positives_with_gt', 0):.0f}% with gt ids), negatives "
                         f"{100 * p['negatives']:.1f}% (of {100 * p.get('negatives_with_gt', 0):.0f}%)")
        if cal.label_free.proposal is not None:
            t = cal.label_free.proposal.threshold
            far, frr = error_rates(cal.labelled.pos, cal.labelled.neg, t)
            lines.append(f"  the label-free proposal {t:.4g} on gt pairs: FAR {100 * far:.1f}%, "
                         f"FRR {100 * frr:.1f}%")
    if cal.label_free.proposal is not None:
        lines += ["", f"proposed --max-distance {cal.label_free.proposal.threshold:.4g} "
                      f"(--metric {cal.metric})"]
    return "\n".join(lines)


def _distribution_lines(d: Distributions, title: str) -> list[str]:
    lines = [title]
    if not len(d.pos) or not len(d.neg):
        return lines + [f"  not enough pairs ({len(d.pos)} positive, {len(d.neg)} negative) to propose a threshold"]
    head = "  percentile " + "".join(f"{p:>9}" for p in PERCENTILES)
    lines.append(head)
    for name, values in d.percentiles().items():
        lines.append(f"  {name:<10} " + "".join(f"{v:>9.4g}" for v in values))
    lines.append(f"  AUC (positive closer than negative) {d.auc:.3f}  (0.5 = chance)")
    for p in [d.proposal, *d.alternatives]:
        if p is not None:
            lines.append(f"  {p.rule:<28} threshold {p.threshold:<9.4g} est. false accept {100 * p.far:5.1f}%"
                         f"  false reject {100 * p.frr:5.1f}%")
    return lines


def plot(cal: Calibration, path, title: str = "") -> None:
    """Histograms of positive and negative distances with the proposed threshold."""
    from tools.io.plotting import figure, save_png

    panels = [d for d in (cal.label_free, cal.labelled) if d is not None]
    fig = figure(6 * len(panels), 4, layout="tight")
    for k, d in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        both = np.concatenate([d.pos, d.neg])
        if len(both):
            bins = np.linspace(both.min(), both.max(), 60) if both.max() > both.min() else 10
            ax.hist(d.pos, bins=bins, alpha=0.6, density=True, label=f"positives ({len(d.pos)})")
            ax.hist(d.neg, bins=bins, alpha=0.6, density=True, label=f"negatives ({len(d.neg)})")
        if cal.label_free.proposal is not None:
            ax.axvline(cal.label_free.proposal.threshold, color="k", ls="--",
                       label=f"proposal {cal.label_free.proposal.threshold:.3g}")
        ax.set_title(d.label + (" (uses labels)" if d is cal.labelled else ""))
        ax.set_xlabel("cosine distance" if cal.metric == "cosine" else "squared Euclidean distance")
        ax.legend()
    if title:
        fig.suptitle(title)
    save_png(fig, path)
