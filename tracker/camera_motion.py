"""Moving Kalman states with the camera: the state-space form of an image affine warp.

Given the (2, 3) warp [A | t] from the previous frame's pixels to the current one's (estimated
from the frames outside the tracker), a track's centre maps to A c + t, its centre velocity to
A v, and its size scales with A's scale; the covariance follows as M P M^T. Applied to the
posterior before predict, as BoT-SORT's camera-motion compensation does.
"""
from __future__ import annotations

import numpy as np


def as_affine(warp: np.ndarray) -> np.ndarray:
    """The (2, 3) affine of `warp`, given as (2, 3) or as (3, 3) with last row 0 0 1. A projective
    warp is refused: a Kalman state's linear transform cannot follow it."""
    w = np.asarray(warp, dtype=np.float64)
    if w.shape == (3, 3):
        if not np.allclose(w[2], [0.0, 0.0, 1.0]):
            raise ValueError("camera motion must be affine; this (3, 3) warp is projective")
        w = w[:2]
    if w.shape != (2, 3):
        raise ValueError(f"camera motion must be a (2, 3) affine, got shape {w.shape}")
    return w


def state_transform(warp: np.ndarray, dim: int, sizes: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """(M (dim, dim), offset (dim,)) for a state whose entries 0,1 are the centre and 4,5 its
    velocity; `sizes` maps a state index to the power of the warp's linear scale it scales by
    (1 for a height, 2 for an area); the other entries are unchanged."""
    warp = as_affine(warp)
    a = warp[:, :2]
    scale = float(np.sqrt(abs(np.linalg.det(a))))
    m = np.eye(dim)
    m[0:2, 0:2] = a
    m[4:6, 4:6] = a
    for index, power in sizes.items():
        m[index, index] = scale ** power
    offset = np.zeros(dim)
    offset[0:2] = warp[:, 2]
    return m, offset


def warp_states(mean: np.ndarray, cov: np.ndarray, warp: np.ndarray,
                sizes: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """Means (T, D) and covariances (T, D, D) moved by `warp` (see state_transform)."""
    m, offset = state_transform(warp, mean.shape[1], sizes)
    return mean @ m.T + offset, m @ cov @ m.T


# The size entries of the two state layouts in this package.
XYAH_SIZES = {3: 1.0, 7: 1.0}   # DeepSORT / ByteTrack: height and its velocity
XYSR_SIZES = {2: 2.0, 6: 2.0}   # SORT / OC-SORT: area and its velocity
