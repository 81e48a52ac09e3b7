"""Camera-motion estimation between consecutive frames, for compensating a moving camera.

A constant-velocity filter in image coordinates mistakes the camera's pan for every target's
motion; BoT-SORT (Aharon et al. 2022) estimates the frame-to-frame affine warp of the
background and moves every track's prediction with it before associating. Two estimators, both
on a frame downscaled to speed them up, as BoT-SORT's GMC:

- "flow": corners (goodFeaturesToTrack) followed by pyramidal Lucas-Kanade optical flow, and a
  RANSAC partial affine (rotation, uniform scale, translation) fit: BoT-SORT's default;
- "ecc": OpenCV's ECC image alignment (Euclidean motion): slower, no features needed.

A frame where the estimate fails (too few points, ECC not converging) gives the identity.
"""
from __future__ import annotations

import cv2
import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class CameraMotion:
    """estimate(frame) -> the (2, 3) affine from the previous frame's pixels to this frame's."""

    def __init__(self, method: str = "flow", downscale: int = 2) -> None:
        if method not in ("flow", "ecc"):
            raise ValueError(f"unknown camera-motion method {method!r}; choose flow or ecc")
        self.method = method
        self.downscale = max(1, int(downscale))
        self._previous: np.ndarray | None = None
        self._points: np.ndarray | None = None

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        if self.downscale > 1:
            h, w = gray.shape
            gray = cv2.resize(gray, (w // self.downscale, h // self.downscale))
        previous, self._previous = self._previous, gray
        if previous is None or previous.shape != gray.shape:
            self._points = self._corners(gray) if self.method == "flow" else None
            return IDENTITY.copy()
        warp = self._flow(previous, gray) if self.method == "flow" else self._ecc(previous, gray)
        warp[:, 2] *= self.downscale  # translation back to full-resolution pixels
        return warp

    @staticmethod
    def _corners(gray: np.ndarray) -> np.ndarray | None:
        return cv2.goodFeaturesToTrack(gray, maxCorners=1000, qualityLevel=0.01, minDistance=1,
                                       blockSize=3, useHarrisDetector=False, k=0.04)

    def _flow(self, previous: np.ndarray, gray: np.ndarray) -> np.ndarray:
        points, self._points = self._points, self._corners(gray)
        if points is None or len(points) < 4:
            return IDENTITY.copy()
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, gray, points, None)
        ok = status.reshape(-1) == 1
        if ok.sum() < 4:
            return IDENTITY.copy()
        warp, _ = cv2.estimateAffinePartial2D(points[ok], moved[ok], method=cv2.RANSAC)
        return IDENTITY.copy() if warp is None else warp.astype(np.float64)

    @staticmethod
    def _ecc(previous: np.ndarray, gray: np.ndarray) -> np.ndarray:
        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
        try:
            _, warp = cv2.findTransformECC(previous, gray, warp, cv2.MOTION_EUCLIDEAN, criteria, None, 1)
        except cv2.error:  # did not converge: no motion rather than a wild one
            return IDENTITY.copy()
        return warp.astype(np.float64)
