"""One frame's detections: the tracker's single input type."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Detections:
    """Boxes as (top-left x, top-left y, width, height), scores, and optional appearance features."""

    tlwh: np.ndarray
    confidence: np.ndarray
    feature: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.tlwh = np.asarray(self.tlwh, dtype=np.float64).reshape(-1, 4)
        self.confidence = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
        if len(self.confidence) != len(self.tlwh):
            raise ValueError(f"{len(self.tlwh)} boxes but {len(self.confidence)} confidences")
        if self.feature is not None:
            # float32 as in the original DeepSORT, whose distances are computed in float32
            self.feature = np.asarray(self.feature, dtype=np.float32)
            if self.feature.ndim != 2 or len(self.feature) != len(self.tlwh):
                raise ValueError(f"features must be (N, D) with N={len(self.tlwh)}, got {self.feature.shape}")

    def __len__(self) -> int:
        return len(self.tlwh)

    @classmethod
    def empty(cls, dim: int | None = None) -> "Detections":
        feature = None if dim is None else np.zeros((0, dim), np.float32)
        return cls(np.zeros((0, 4)), np.zeros(0), feature)

    @classmethod
    def from_tlbr_score(cls, dets: np.ndarray) -> "Detections":
        """From the original SORT's input rows [x1, y1, x2, y2, score, ...]."""
        dets = np.asarray(dets, dtype=np.float64)
        if dets.size == 0:
            dets = dets.reshape(0, 5)
        if dets.ndim != 2 or dets.shape[1] < 5:
            raise ValueError(f"SORT input needs 5 columns x1,y1,x2,y2,score; got shape {dets.shape}")
        tlwh = dets[:, :4].copy()
        tlwh[:, 2:] -= tlwh[:, :2]
        return cls(tlwh, dets[:, 4])

    def subset(self, index) -> "Detections":
        feature = None if self.feature is None else self.feature[index]
        return Detections(self.tlwh[index], self.confidence[index], feature)

    def tlbr(self) -> np.ndarray:
        out = self.tlwh.copy()
        out[:, 2:] += out[:, :2]
        return out

    def xyah(self) -> np.ndarray:
        """Centre x, centre y, aspect ratio w/h, height: DeepSORT's measurement space."""
        out = self.tlwh.copy()
        out[:, :2] += out[:, 2:] / 2
        out[:, 2] /= out[:, 3]
        return out
