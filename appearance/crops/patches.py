"""Cutting boxes out of a frame, clipped to the image, for descriptors and crop datasets."""
from __future__ import annotations

import numpy as np


def clip_boxes(boxes_tlwh: np.ndarray, width: int, height: int) -> np.ndarray:
    """Integer (x1, y1, x2, y2) boxes inside the image, at least one pixel wide and high."""
    b = np.asarray(boxes_tlwh, dtype=np.float64).reshape(-1, 4)
    x1 = np.clip(np.floor(b[:, 0]), 0, width - 1)
    y1 = np.clip(np.floor(b[:, 1]), 0, height - 1)
    x2 = np.clip(np.ceil(b[:, 0] + b[:, 2]), x1 + 1, width)
    y2 = np.clip(np.ceil(b[:, 1] + b[:, 3]), y1 + 1, height)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.int64)


def iter_crops(frame: np.ndarray, boxes_tlwh: np.ndarray):
    """Yield the image patch (a view, not a copy) of each box."""
    h, w = frame.shape[:2]
    for x1, y1, x2, y2 in clip_boxes(boxes_tlwh, w, h):
        yield frame[y1:y2, x1:x2]


# How a box becomes a square crop: "stretch" resizes it to the square (a 1:2.5 person is widened
# 2.5x); "pad" keeps its aspect, the longer side filling the square, and fills the rest with
# PAD_VALUE, a mid grey that the per-channel normalisation takes close to zero.
FITS = ("stretch", "pad")
PAD_VALUE = 128


def crop_batch(frame_bgr: np.ndarray, boxes_tlwh: np.ndarray, size: int = 64, fit: str = "stretch") -> np.ndarray:
    """(N, size, size, 3) uint8 RGB crops, the exact input of the learned descriptors.

    The crop dataset and the descriptor share this function, so a model sees at tracking time
    exactly the preparation it was trained on.
    """
    import cv2

    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    out = np.empty((len(boxes_tlwh), size, size, 3), np.uint8)
    for i, patch in enumerate(iter_crops(frame_bgr, boxes_tlwh)):
        if fit == "stretch":
            out[i] = cv2.cvtColor(cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            continue
        h, w = patch.shape[:2]
        scale = size / max(h, w)
        nw, nh = min(size, max(1, round(w * scale))), min(size, max(1, round(h * scale)))
        x0, y0 = (size - nw) // 2, (size - nh) // 2
        out[i] = PAD_VALUE
        out[i, y0:y0 + nh, x0:x0 + nw] = cv2.cvtColor(
            cv2.resize(patch, (nw, nh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    return out
