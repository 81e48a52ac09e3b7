"""Intersection over union between box sets, vectorised over all pairs."""
from __future__ import annotations

import numpy as np


def iou_tlbr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (N,4 x1,y1,x2,y2) with every box in `b` (M,4): (N, M)."""
    a = a[:, None, :]
    b = b[None, :, :]
    w = np.maximum(0.0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]))
    h = np.maximum(0.0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]))
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)


def iou_tlwh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU for boxes given as (x, y, w, h), with areas taken as w*h as DeepSORT does: (N, M)."""
    a_tl, a_br = a[:, None, :2], a[:, None, :2] + a[:, None, 2:]
    b_tl, b_br = b[None, :, :2], b[None, :, :2] + b[None, :, 2:]
    wh = np.maximum(0.0, np.minimum(a_br, b_br) - np.maximum(a_tl, b_tl))
    inter = wh[..., 0] * wh[..., 1]
    area_a = a[:, None, 2] * a[:, None, 3]
    area_b = b[None, :, 2] * b[None, :, 3]
    return inter / (area_a + area_b - inter)
