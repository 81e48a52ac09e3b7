"""Detection pre-filtering before DeepSORT: confidence, height and non-maximum suppression."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracker.detections import Detections


@dataclass
class DetectionFilter:
    """The FMVAE paper's DeepSORT runs: min confidence 0.3, NMS max overlap 0.7."""

    min_confidence: float = 0.3
    min_height: float = 0.0
    nms_max_overlap: float = 0.7

    def __call__(self, dets: Detections) -> Detections:
        keep = (dets.tlwh[:, 3] >= self.min_height) & (dets.confidence >= self.min_confidence)
        dets = dets.subset(np.flatnonzero(keep))
        if len(dets):
            # always run: even with max overlap 1 the reference reorders detections by score
            dets = dets.subset(non_max_suppression(dets.tlwh, self.nms_max_overlap, dets.confidence))
        return dets


def non_max_suppression(tlwh: np.ndarray, max_overlap: float, scores: np.ndarray | None = None) -> np.ndarray:
    """Greedy NMS as in DeepSORT: highest score first, overlap = intersection / other box's area.

    Uses the +1 pixel box convention of the reference, and returns the kept indices in the order
    they were picked (by descending score), which reorders the detections.
    """
    if len(tlwh) == 0:
        return np.zeros(0, np.int64)
    x1, y1 = tlwh[:, 0], tlwh[:, 1]
    x2, y2 = x1 + tlwh[:, 2], y1 + tlwh[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    idxs = np.argsort(scores) if scores is not None else np.argsort(y2)
    pick = []
    while len(idxs) > 0:
        last = len(idxs) - 1
        i = idxs[last]
        pick.append(i)
        rest = idxs[:last]
        w = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = (w * h) / area[rest]
        idxs = rest[overlap <= max_overlap]
    return np.asarray(pick, np.int64)
