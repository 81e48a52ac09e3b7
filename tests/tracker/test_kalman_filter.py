"""The batched xyah filter against DeepSORT's textbook equations written out with 8x8 matrices:
x' = F x, P' = F P F^T + Q; K = P H^T S^-1, x'' = x + K (z - H x), P'' = P - K S K^T."""
import numpy as np
import pytest

from tracker import kalman_filter as kf

F = np.eye(8)
F[:4, 4:] = np.eye(4)
H = np.eye(4, 8)


def _tracks(coupled: bool, n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.uniform(50, 500, n), rng.uniform(50, 400, n), rng.uniform(0.3, 0.6, n),
                         rng.uniform(40, 200, n)])
    mean, cov = kf.initiate(z)
    mean[:, 4:] = rng.normal(size=(n, 4))
    if coupled:  # as after a camera rotation: x and y (and their speeds) mixed
        a = rng.normal(size=(n, 8, 8)) * 0.3
        cov = cov + a @ a.transpose(0, 2, 1)
    return mean, cov, z + rng.normal(size=(n, 4))


@pytest.mark.parametrize("coupled", [False, True])
def test_predict_is_f_p_ft_plus_q(coupled):
    mean, cov, _ = _tracks(coupled)
    got_mean, got_cov = kf.predict(mean, cov)
    h = mean[:, 3]
    wp, wv = kf.STD_WEIGHT_POSITION, kf.STD_WEIGHT_VELOCITY
    for i in range(len(mean)):
        q = np.diag(np.square([wp * h[i], wp * h[i], 1e-2, wp * h[i], wv * h[i], wv * h[i], 1e-5, wv * h[i]]))
        np.testing.assert_allclose(got_mean[i], F @ mean[i], rtol=1e-13)
        np.testing.assert_allclose(got_cov[i], F @ cov[i] @ F.T + q, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("coupled", [False, True])
def test_update_is_the_kalman_correction(coupled):
    mean, cov, z = _tracks(coupled)
    mean, cov = kf.predict(mean, cov)
    got_mean, got_cov = kf.update(mean, cov, z)
    S_all = kf.project(mean, cov)[1]
    assert (np.abs(S_all - S_all * np.eye(4)).max() > 0) == coupled
    for i in range(len(mean)):
        S = S_all[i]
        K = cov[i] @ H.T @ np.linalg.inv(S)
        np.testing.assert_allclose(got_mean[i], mean[i] + K @ (z[i] - H @ mean[i]), rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(got_cov[i], cov[i] - K @ S @ K.T, rtol=1e-10, atol=1e-9)
