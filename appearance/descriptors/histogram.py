"""A colour-histogram descriptor: no training, the first baseline a learned descriptor must beat."""
from __future__ import annotations

import cv2
import numpy as np

from appearance.crops.patches import iter_crops


class HistogramDescriptor:
    """HSV histograms of the upper and lower half of each box (clothing colours), L2-normalised."""

    metric = "cosine"

    def __init__(self, bins: tuple[int, int, int] = (8, 4, 4)) -> None:
        self.bins = list(bins)
        self.dim = 2 * int(np.prod(bins))

    def embed(self, frame_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        out = np.zeros((len(boxes_tlwh), self.dim), np.float32)
        for i, crop in enumerate(iter_crops(frame_bgr, boxes_tlwh)):
            hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
            half = max(1, hsv.shape[0] // 2)
            parts = [hsv[:half], hsv[half:] if hsv.shape[0] > 1 else hsv]
            hist = [cv2.calcHist([p], [0, 1, 2], None, self.bins, [0, 180, 0, 256, 0, 256]).ravel()
                    for p in parts]
            vec = np.concatenate(hist)
            out[i] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return out
