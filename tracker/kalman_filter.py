"""DeepSORT's Kalman filter in (x, y, a, h) space, batched over tracks.

Process and measurement noise scale with the box height, as in nwojke/deep_sort; every function
takes stacks (T, 8) of means and (T, 8, 8) of covariances so a frame needs no per-track loop.
"""
from __future__ import annotations

import numpy as np

# Chi-square 0.95 quantiles, indexed by degrees of freedom (scipy.stats.chi2.ppf(0.95, dof)).
CHI2_INV_95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067,
               8: 15.507, 9: 16.919}

_DIAG8 = np.arange(8)
_OFF_DIAGONAL_4 = ~np.eye(4, dtype=bool).ravel()
STD_WEIGHT_POSITION = 1.0 / 20
STD_WEIGHT_VELOCITY = 1.0 / 160
_WP, _WV = STD_WEIGHT_POSITION, STD_WEIGHT_VELOCITY
# noise standard deviations per state (measurement) entry: weight x box height + constant
_INITIAL_STD = (np.array([2 * _WP, 2 * _WP, 0, 2 * _WP, 10 * _WV, 10 * _WV, 0, 10 * _WV]),
                np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0]))
_PROCESS_STD = (np.array([_WP, _WP, 0, _WP, _WV, _WV, 0, _WV]), np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0]))
_MEASUREMENT_STD = (np.array([_WP, _WP, 0, _WP]), np.array([0, 0, 1e-1, 0]))


def _noise_std(h: np.ndarray, weight: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """(T, k) standard deviations: the reference's weight x height, or a constant for the aspect
    ratio (weight 0), in one broadcast rather than a stack of columns."""
    return h[:, None] * weight + constant


def initiate(xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from measurements (N, 4): zero velocity, uncertainty scaled by height."""
    n = len(xyah)
    mean = np.zeros((n, 8))
    mean[:, :4] = xyah
    std = _noise_std(xyah[:, 3], *_INITIAL_STD)
    cov = np.zeros((n, 8, 8))
    cov[:, _DIAG8, _DIAG8] = std ** 2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = _noise_std(mean[:, 3], *_PROCESS_STD)
    # F = [[I, I], [0, I]]: F P F^T and F x by block sums, the same sums as the 8x8 products
    rows = cov.copy()
    rows[:, :4] += cov[:, 4:]
    new_cov = rows.copy()
    new_cov[:, :, :4] += rows[:, :, 4:]
    new_cov[:, _DIAG8, _DIAG8] += std ** 2
    new_mean = mean.copy()
    new_mean[:, :4] += mean[:, 4:]
    return new_mean, new_cov


def project(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the measurement (x, y, a, h) implied by each track's state."""
    std = _noise_std(mean[:, 3], *_MEASUREMENT_STD)
    S = cov[:, :4, :4].copy()
    S[:, _DIAG8[:4], _DIAG8[:4]] += std ** 2
    return mean[:, :4].copy(), S


def diagonal_innovation(S: np.ndarray) -> np.ndarray | None:
    """The diagonals (T, 1, 4) of a stack of innovation covariances when every one is diagonal,
    else None. Each coordinate is filtered apart, so S stays diagonal until a camera warp mixes
    x and y; while it does, S^-1 is the reciprocal of its diagonal, bit for bit what LAPACK gives."""
    if np.count_nonzero(S.reshape(-1, 16)[:, _OFF_DIAGONAL_4]):
        return None
    return np.diagonal(S, axis1=1, axis2=2)[:, None, :]


def update(mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measurement update of T tracks with their T matched measurements."""
    proj_mean, S = project(mean, cov)
    PHT = cov[:, :, :4]
    # K = P H^T S^-1, solved rather than inverted (S is symmetric positive definite)
    s = diagonal_innovation(S)
    if s is None:
        K = np.linalg.solve(S, PHT.transpose(0, 2, 1)).transpose(0, 2, 1)
        KS = K @ S
    else:
        K = PHT * (1.0 / s)
        KS = K * s
    innovation = xyah - proj_mean
    new_mean = mean + (K @ innovation[:, :, None])[:, :, 0]
    new_cov = cov - KS @ K.transpose(0, 2, 1)
    return new_mean, new_cov


def gating_distance(mean: np.ndarray, cov: np.ndarray, xyah: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of every measurement (M, 4) to every track: (T, M)."""
    proj_mean, S = project(mean, cov)
    L = np.linalg.cholesky(S)
    d = xyah[None, :, :] - proj_mean[:, None, :]
    z = np.linalg.solve(L, d.transpose(0, 2, 1))
    return np.einsum("tij,tij->tj", z, z)
