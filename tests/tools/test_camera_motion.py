"""Camera-motion estimation from frames: a known shift of a textured frame is recovered."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tools.track.camera_motion import CameraMotion


def _textured(shape=(240, 320)) -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, size=(shape[0] // 8, shape[1] // 8), dtype=np.uint8)
    img = cv2.resize(noise, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(cv2.GaussianBlur(img, (5, 5), 0), cv2.COLOR_GRAY2BGR)


@pytest.mark.parametrize("method", ["flow", "ecc"])
def test_a_shifted_frame_gives_its_translation(method):
    first = _textured()
    shift = np.float32([[1, 0, 8], [0, 1, -6]])
    second = cv2.warpAffine(first, shift, (first.shape[1], first.shape[0]), borderMode=cv2.BORDER_REFLECT)
    cam = CameraMotion(method)
    np.testing.assert_allclose(cam.estimate(first), np.eye(2, 3))  # nothing to compare with yet
    warp = cam.estimate(second)
    np.testing.assert_allclose(warp[:, :2], np.eye(2), atol=0.02)
    np.testing.assert_allclose(warp[:, 2], [8, -6], atol=1.0)


def test_a_blank_frame_gives_the_identity():
    cam = CameraMotion("flow")
    blank = np.zeros((120, 160, 3), np.uint8)
    cam.estimate(blank)
    np.testing.assert_allclose(cam.estimate(blank), np.eye(2, 3))


def test_unknown_method():
    with pytest.raises(ValueError, match="flow or ecc"):
        CameraMotion("orb")
