"""Camera-motion compensation of Kalman states: the state follows the image warp, for every tracker."""
from __future__ import annotations

import numpy as np
import pytest

from tracker import ByteTrack, DeepSort, Detections, OcSort, Sort
from tracker.camera_motion import XYAH_SIZES, XYSR_SIZES, warp_states


def _warp(angle: float = 0.0, scale: float = 1.0, t=(0.0, 0.0)) -> np.ndarray:
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, t[0]], [s, c, t[1]]])


def test_identity_leaves_states_unchanged():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 8))
    a = rng.normal(size=(3, 8, 8))
    cov = a @ a.transpose(0, 2, 1)
    m, c = warp_states(mean, cov, _warp(), XYAH_SIZES)
    np.testing.assert_allclose(m, mean)
    np.testing.assert_allclose(c, cov)


def test_rotation_scale_and_translation_move_centre_velocity_and_size():
    mean = np.array([[10.0, 0.0, 0.5, 40.0, 2.0, 0.0, 0.0, 1.0]])
    cov = np.eye(8)[None]
    m, c = warp_states(mean, cov, _warp(np.pi / 2, 2.0, (5.0, 7.0)), XYAH_SIZES)
    np.testing.assert_allclose(m[0], [5.0, 27.0, 0.5, 80.0, 0.0, 4.0, 0.0, 2.0], atol=1e-9)
    assert c[0, 0, 0] == pytest.approx(4.0) and c[0, 3, 3] == pytest.approx(4.0) and c[0, 2, 2] == pytest.approx(1.0)
    x = np.array([[10.0, 0.0, 100.0, 0.5, 2.0, 0.0, 3.0]])
    m, _ = warp_states(x, np.eye(7)[None], _warp(0.0, 2.0), XYSR_SIZES)
    np.testing.assert_allclose(m[0], [20.0, 0.0, 400.0, 0.5, 4.0, 0.0, 12.0])


def _run(tracker, shift_camera: bool):
    """A static person filmed by a camera panning 30 px a frame: in the image the box jumps
    further than IoU allows, so without compensation the track breaks at every frame."""
    ids = []
    for f in range(12):
        x = 100.0 + 30.0 * f
        if shift_camera and f:
            tracker.apply_camera_motion(_warp(t=(30.0, 0.0)))
        out = tracker.update(Detections([[x, 50.0, 20.0, 40.0]], [1.0]))
        ids += [tid for tid, _ in out]
    return ids


@pytest.mark.parametrize("make", [lambda: Sort(max_age=1, min_hits=1), lambda: DeepSort(n_init=1)])
def test_compensated_tracks_keep_one_id_under_a_camera_pan(make):
    compensated = _run(make(), shift_camera=True)
    assert len(set(compensated)) == 1 and len(compensated) >= 10
    plain = _run(make(), shift_camera=False)
    assert max([plain.count(i) for i in set(plain)], default=0) <= 2


@pytest.mark.parametrize("make", [Sort, DeepSort, ByteTrack, OcSort])
def test_every_tracker_takes_an_affine_and_refuses_anything_else(make):
    t = make()
    t.apply_camera_motion(np.vstack([_warp(t=(3.0, 0.0)), [0.0, 0.0, 1.0]]))   # (3, 3) affine: fine
    with pytest.raises(ValueError, match="projective"):
        t.apply_camera_motion(np.array([[1.0, 0, 0], [0, 1.0, 0], [1e-3, 0, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        t.apply_camera_motion(np.eye(2))


def test_bytetrack_moves_its_states_as_the_shared_state_warp_does():
    t = ByteTrack()
    t.update(Detections([[100.0, 50.0, 20.0, 40.0], [300.0, 80.0, 30.0, 60.0]], [0.9, 0.9]))
    w = _warp(0.1, 1.2, (5.0, -3.0))
    expect_mean, expect_cov = warp_states(t.mean.copy(), t.cov.copy(), w, XYAH_SIZES)
    t.apply_camera_motion(w)
    t._apply_warp()
    np.testing.assert_allclose(t.mean, expect_mean)
    np.testing.assert_allclose(t.cov, expect_cov)
