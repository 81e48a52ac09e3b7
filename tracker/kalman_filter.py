"""DeepSORT's Kalman filter in (x, y, a, h) space, batched over tracks.

Process and measurement noise scale with the box height, as in nwojke/deep_sort; every function
takes stacks (T, 8) of means and (T, 8, 8) of covariances so a frame needs no per-track loop.
"""
from __future__ import annotations

import numpy as np

# Chi-square 0.95 quantiles, indexed by degrees of freedom (scipy.stats.chi2.ppf(0.95, dof)).
CHI2_INV_95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067,
               8: 15.507, 9: 16.919}

_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160


def initiate(xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from measurements (N, 4): zero velocity, uncertainty scaled by height."""
    n = len(xyah)
    mean = np.zeros((n, 8))
    mean[:, :4] = xyah
    h = xyah[:, 3]
    wp, wv = STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY
    std = np.stack([2 * wp * h, 2 * wp * h, np.full(n, 1e-2), 2 * wp * h,
                    10 * wv * h, 10 * wv * h, np.full(n, 1e-5), 10 * wv * h], axis=1)
    cov = np.zeros((n, 8, 8))
    idx = np.arange(8)
    cov[:, idx, idx] = std ** 2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = mean[:, 3]
    n = len(mean)
    wp, wv = STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY
    std = np.stack([wp * h, wp * h, np.full(n, 1e-2), wp * h,
                    wv * h, wv * h, np.full(n, 1e-5), wv * h], axis=1)
    new_cov = _F @ cov @ _F.T
    idx = np.arange(8)
    new_cov[:, idx, idx] += std ** 2
    return mean @ _F.T, new_cov


def project(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the measurement (x, y, a, h) implied by each track's state."""
    h = mean[:, 3]
    std = np.stack([STD_WEIGHT_POSITION * h, STD_WEIGHT_POSITION * h, np.full(len(h), 1e-1),
                    STD_WEIGHT_POSITION * h], axis=1)
    S = cov[:, :4, :4].copy()
    idx = np.arange(4)
    S[:, idx, idx] += std ** 2
    return mean[:, :4].copy(), S


def update(mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measurement update of T tracks with their T matched measurements."""
    proj_mean, S = project(mean, cov)
    PHT = cov[:, :, :4]
    # K = P H^T S^-1, solved rather than inverted (S is symmetric positive definite)
    K = np.linalg.solve(S, PHT.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = xyah - proj_mean
    new_mean = mean + (K @ innovation[:, :, None])[:, :, 0]
    new_cov = cov - K @ S @ K.transpose(0, 2, 1)
    return new_mean, new_cov


def gating_distance(mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of every measurement (M, 4) to every track: (T, M)."""
    proj_mean, S = project(mean, cov)
    L = np.linalg.cholesky(S)
    d = xyah[None, :, :] - proj_mean[:, None, :]
    z = np.linalg.solve(L, d.transpose(0, 2, 1))
    return np.einsum("tij,tij->tj", z, z)
