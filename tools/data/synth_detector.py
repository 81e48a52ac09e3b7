"""The synthetic detector: ground-truth boxes jittered, missed at random and when hidden, plus
false positives (some as shifted duplicates beside a real person)."""
from __future__ import annotations

import numpy as np

from tools.data.synth_config import SynthConfig
from tools.data.synth_scene import ASPECT, Camera


def detect(rng: np.random.Generator, cfg: SynthConfig, cam: Camera, frame: int,
           gt: np.ndarray) -> np.ndarray:
    """Detections from gt: jittered boxes, misses (random and when occluded), false positives."""
    m = len(gt)
    vis = gt[:, 8]
    lo, hi = cfg.min_visibility - 0.1, cfg.min_visibility + 0.1
    p_hidden = np.clip((hi - vis) / (hi - lo), 0.0, 1.0)
    p_miss = 1 - (1 - cfg.miss_rate) * (1 - p_hidden)
    hit = rng.random(m) >= p_miss
    noise = rng.normal(size=(m, 5))
    w, h = gt[:, 4], gt[:, 5]
    cx = gt[:, 2] + w / 2 + noise[:, 0] * cfg.jitter * w
    cy = gt[:, 3] + h / 2 + noise[:, 1] * cfg.jitter * h
    w2, h2 = w * np.exp(noise[:, 2] * cfg.jitter), h * np.exp(noise[:, 3] * cfg.jitter)
    tp = np.stack([cx - w2 / 2, cy - h2 / 2, w2, h2, 0.45 + 0.5 * vis + 0.1 * noise[:, 4]], axis=1)[hit]

    n = int(rng.poisson(cfg.fp_rate))
    foot = cam.y_far + rng.random(n) * (0.99 * cam.height - cam.y_far)
    fh = cam.f * 1.75 * rng.uniform(0.75, 1.25, n) / cam.depth_at(foot)
    fw = fh * ASPECT * rng.uniform(0.8, 1.25, n)
    fx = rng.random(n) * np.maximum(cam.width - fw, 1.0)
    fy = foot - fh
    near = (rng.random(n) < 0.35) & (m > 0)      # a shifted duplicate beside a real person
    j = rng.integers(0, max(m, 1), n)
    shift = rng.choice([-1.0, 1.0], n) * rng.uniform(0.55, 0.9, n)
    jy = rng.normal(0, 0.05, n)
    if m:
        ref = gt[j]
        fx = np.where(near, ref[:, 2] + shift * ref[:, 4], fx)
        fy = np.where(near, ref[:, 3] + jy * ref[:, 5], fy)
        fw = np.where(near, ref[:, 4], fw)
        fh = np.where(near, ref[:, 5], fh)
    fp = np.stack([fx, fy, fw, fh, rng.beta(2, 5, n) * 1.1], axis=1)

    rows = np.concatenate([tp, fp])
    x0 = np.clip(rows[:, 0], 0, cam.width)
    y0 = np.clip(rows[:, 1], 0, cam.height)
    x1 = np.clip(rows[:, 0] + rows[:, 2], 0, cam.width)
    y1 = np.clip(rows[:, 1] + rows[:, 3], 0, cam.height)
    boxes = np.round(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 2)
    conf = np.round(np.clip(rows[:, 4], 0.01, 1.0), 4)
    ok = (boxes[:, 2] >= 2) & (boxes[:, 3] >= 4)
    order = rng.permutation(len(rows))
    ok, boxes, conf = ok[order], boxes[order], conf[order]
    out = np.full((int(ok.sum()), 10), -1.0)
    out[:, 0] = frame
    out[:, 2:6] = boxes[ok]
    out[:, 6] = conf[ok]
    return out
