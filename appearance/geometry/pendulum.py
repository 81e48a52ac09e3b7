"""The pendulum image set of the FMVAE paper's first experiment, as a crop cache.

16x16 images of a pendulum whose joint angle is drawn uniformly from [0, 360) degrees, with
Gaussian pixel noise of standard deviation 0.05: a one-parameter family of images (a closed
curve in pixel space), so a 2-D latent space can be drawn and its geometry inspected.

Rendered with OpenCV at 8x the size (anti-aliased rod and bob), then reduced with INTER_AREA.
The pendulum is drawn at intensity 0.85 on a 0.15 background rather than 1 on 0: the cache
holds uint8, and noise on a black background would be clipped at 0 for half the pixels
(here clipping is a 3-sigma event). Grey images are stored as three equal RGB channels because
crop caches are RGB. The angles travel in meta.npz (`angle`, degrees, 0 = hanging down,
counter-clockwise) for colouring figures; training does not read them.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from appearance.crops.cache import CropSet, check_replaceable, publish_cache
from tools.io.errors import InputError

SIZE = 16
NOISE = 0.05
BACKGROUND, FOREGROUND = 0.15, 0.85
SUPERSAMPLE = 8


def render(angles_deg: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Noise-free float images (N, size, size) in [0, 1]: rod from the centre, bob at its end."""
    big = size * SUPERSAMPLE
    c = (big - 1) / 2.0
    rod = 0.36 * big
    shift = 4   # sub-pixel precision bits for cv2 drawing
    out = np.empty((len(angles_deg), size, size), np.float32)
    for i, a in enumerate(np.radians(np.asarray(angles_deg, dtype=np.float64))):
        canvas = np.zeros((big, big), np.uint8)
        end = (c + rod * np.sin(a), c + rod * np.cos(a))          # 0 degrees: straight down
        p0 = (int(round(c * 2 ** shift)), int(round(c * 2 ** shift)))
        p1 = (int(round(end[0] * 2 ** shift)), int(round(end[1] * 2 ** shift)))
        cv2.line(canvas, p0, p1, 255, thickness=max(1, big // 16), lineType=cv2.LINE_AA, shift=shift)
        cv2.circle(canvas, p1, int(round(0.11 * big * 2 ** shift)), 255, thickness=-1,
                   lineType=cv2.LINE_AA, shift=shift)
        small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = small.astype(np.float32) / 255.0
    return BACKGROUND + (FOREGROUND - BACKGROUND) * out


def make_images(n: int, seed: int = 0, noise: float = NOISE, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(N, size, size, 3) uint8 noisy images and their angles in degrees."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0.0, 360.0, n)
    clean = render(angles, size)
    noisy = clean + noise * rng.standard_normal(clean.shape).astype(np.float32)
    gray = np.clip(np.rint(noisy * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=3), angles


def write_pendulum(out: str | Path, n: int = 10000, seed: int = 0, noise: float = NOISE,
                   size: int = SIZE, force: bool = False) -> CropSet:
    """Write the set as a crop cache at `out` (reused when it exists with these parameters)."""
    if n < 2:
        raise InputError(None, f"--count must be at least 2, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise InputError(None, f"--noise must lie in [0, 1], got {noise:g}")
    if size < 8:
        raise InputError(None, f"--size must be at least 8, got {size}")
    out = Path(out)
    parameters = {"count": int(n), "seed": int(seed), "noise": float(noise), "size": int(size),
                  "background": BACKGROUND, "foreground": FOREGROUND}
    if out.is_dir() and not force:
        try:
            info = json.loads((out / "info.json").read_text())
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict) and info.get("source") == "pendulum" and info.get("parameters") == parameters:
            try:
                return CropSet.load(out)
            except InputError:
                pass
    check_replaceable(out)   # before the images are drawn: a wrong --out fails at once
    images, angles = make_images(n, seed, noise, size)

    def write(tmp: Path) -> None:
        np.save(tmp / "crops.npy", images)
        np.savez(tmp / "meta.npz", seq=np.array(["pendulum"] * n), frame=np.arange(1, n + 1, dtype=np.int32),
                 tlwh=np.tile(np.array([[0, 0, size, size]], np.float32), (n, 1)),
                 confidence=np.ones(n, np.float32), gt_id=np.full(n, -1, np.int64),
                 angle=angles.astype(np.float32))

    info = {"source": "pendulum", "parameters": parameters, "count": int(n),
            "per_sequence": {"pendulum": int(n)}, "size": int(size)}
    return publish_cache(out, write, info)


def angles_of(folder: str | Path) -> np.ndarray | None:
    """The `angle` array of a pendulum cache, or None for other caches."""
    try:
        with np.load(Path(folder) / "meta.npz", allow_pickle=False) as npz:
            return np.asarray(npz["angle"], dtype=np.float64) if "angle" in npz.files else None
    except (OSError, ValueError):
        return None
