"""Re-identification scores of a descriptor on crops with identities: mAP and CMC (rank-k).

Tracking asks a descriptor to recognise a person after a gap (an occlusion, a missed detection),
among the other people present then. The protocol mirrors that:

- queries: for each identity of each sequence, up to `queries_per_id` crops spread evenly over
  its track;
- gallery of a query: every crop of the same sequence at least `min_gap` frames away from it
  (other identities included). So neighbouring, near-identical frames cannot give an easy match,
  and same-frame crops (which the tracker never needs to match) are excluded;
- a query scores when its identity appears in its gallery; others are skipped and counted.

Ties in distance rank non-matches first (pessimistic): a constant descriptor scores at chance,
not by the luck of an index order. Identities are per sequence; sequences never share a gallery.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracker.nn_matching import pairwise_distance

RANKS = (1, 5, 10)


def ranking_scores(dist: np.ndarray, match: np.ndarray, valid: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Average precision and rank of the first true match (0-based) for each query row.

    dist, match (bool) and valid (bool; entries outside the query's gallery are False) are
    (Q, G). Rows without a valid match get AP NaN and rank -1.
    """
    dist = np.asarray(dist, np.float64)
    match = np.asarray(match, bool)
    if valid is not None:
        valid = np.asarray(valid, bool)
        dist = np.where(valid, dist, np.inf)
        match = match & valid
    # primary key distance, secondary match (False first): ties go against the query
    order = np.lexsort((match, dist), axis=-1)
    m = np.take_along_axis(match, order, axis=1)
    n_match = m.sum(axis=1)
    hits = np.cumsum(m, axis=1)
    precision = hits / np.arange(1, m.shape[1] + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(n_match > 0, (precision * m).sum(axis=1) / n_match, np.nan)
    first = np.where(n_match > 0, np.argmax(m, axis=1), -1)
    return ap, first


@dataclass
class ReidResult:
    mAP: float
    cmc: dict[int, float]           # rank k -> fraction of queries with a true match in the top k
    queries: int
    skipped: int                    # queries without their identity in their gallery
    identities: int
    mean_gallery: float
    per_query_ap: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def rank1(self) -> float:
        return self.cmc[1]


def select_queries(ids: np.ndarray, frames: np.ndarray, groups: np.ndarray, per_id: int) -> np.ndarray:
    """Up to per_id indices per (group, identity), evenly spread over the identity's frames."""
    out = []
    for g in np.unique(groups):
        in_g = np.flatnonzero(groups == g)
        for pid in np.unique(ids[in_g]):
            if pid < 0:
                continue
            idx = in_g[ids[in_g] == pid]
            idx = idx[np.argsort(frames[idx], kind="stable")]
            pick = np.unique(np.linspace(0, len(idx) - 1, min(per_id, len(idx))).round().astype(np.int64))
            out.append(idx[pick])
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def evaluate_reid(features: np.ndarray, ids: np.ndarray, frames: np.ndarray,
                  groups: np.ndarray | None = None, metric: str = "cosine", min_gap: int = 30,
                  queries_per_id: int = 20, ranks: tuple[int, ...] = RANKS) -> ReidResult:
    """mAP and CMC of `features` under the protocol in the module docstring.

    ids: identity per crop (-1 unknown: never a query, still a gallery distractor); frames: frame
    number per crop; groups: sequence per crop (identities are compared within a group only).
    """
    features = np.asarray(features)
    ids = np.asarray(ids, np.int64)
    frames = np.asarray(frames, np.int64)
    groups = np.zeros(len(ids), np.int64) if groups is None else np.unique(groups, return_inverse=True)[1]
    if min_gap < 1:
        raise ValueError("min_gap must be at least 1 (same-frame crops are never a gallery)")
    queries = select_queries(ids, frames, groups, queries_per_id)
    aps, firsts, sizes = [], [], []
    for g in np.unique(groups[queries]) if len(queries) else []:
        q = queries[groups[queries] == g]
        gal = np.flatnonzero(groups == g)
        dist = pairwise_distance(features[q], features[gal], metric)
        valid = np.abs(frames[q][:, None] - frames[gal][None, :]) >= min_gap
        match = ids[q][:, None] == ids[gal][None, :]
        ap, first = ranking_scores(dist, match, valid)
        aps.append(ap)
        firsts.append(first)
        sizes.append(valid.sum(axis=1))
    ap = np.concatenate(aps) if aps else np.zeros(0)
    first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
    size = np.concatenate(sizes) if sizes else np.zeros(0)
    scored = first >= 0
    n = int(scored.sum())
    cmc = {k: float((first[scored] < k).mean()) if n else float("nan") for k in ranks}
    return ReidResult(float(ap[scored].mean()) if n else float("nan"), cmc, n, int((~scored).sum()),
                      len({(int(g), int(i)) for g, i in zip(groups[queries], ids[queries])}),
                      float(size[scored].mean()) if n else float("nan"), ap[scored])


def embed_crops(descriptor, crops_rgb: np.ndarray, batch: int = 256) -> np.ndarray:
    """Features of (N, S, S, 3) uint8 RGB crops with any Descriptor.

    Learned descriptors take crops directly (`embed_crops`). Any other descriptor gets the crops
    through its frame interface: a mosaic image of `batch` crops and one box per tile, so one
    `embed` call per batch, each box cut back out exactly (integer tiles). Such a descriptor
    thus sees the 64x64 crop, not the box at the frame's own resolution.
    """
    crops_rgb = np.asarray(crops_rgb)
    n = len(crops_rgb)
    if hasattr(descriptor, "embed_crops"):
        return np.asarray(descriptor.embed_crops(crops_rgb), np.float32)
    out = np.zeros((n, descriptor.dim), np.float32)
    if n == 0:
        return out
    s = crops_rgb.shape[1]
    cols = 16
    for start in range(0, n, batch):
        chunk = crops_rgb[start:start + batch][..., ::-1]  # RGB -> BGR, the frame convention
        k = len(chunk)
        rows = -(-k // cols)
        mosaic = np.zeros((rows * s, cols * s, 3), np.uint8)
        r, c = np.divmod(np.arange(k), cols)
        for i in range(k):
            mosaic[r[i] * s:(r[i] + 1) * s, c[i] * s:(c[i] + 1) * s] = chunk[i]
        boxes = np.stack([c * s, r * s, np.full(k, s), np.full(k, s)], axis=1).astype(np.float64)
        out[start:start + k] = descriptor.embed(mosaic, boxes)
    return out
