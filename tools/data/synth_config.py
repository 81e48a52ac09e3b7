"""The settings of a synthetic sequence: size, length, crowd, occluders, detector noise."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SynthConfig:
    """Everything that shapes a synthetic sequence; the defaults make a 640x360, 10 s clip."""

    width: int = 640
    height: int = 360
    frames: int = 150
    people: int = 8             # people in the scene at a time; others enter as they leave
    frame_rate: float = 15.0
    seed: int = 0
    occluders: int = 2          # static pillars / trees / hedges standing in the walkway
    fp_rate: float = 0.4        # mean false positive detections per frame (Poisson)
    miss_rate: float = 0.05     # chance that a clearly visible person is not detected
    jitter: float = 0.04        # detection box noise, standard deviation as a fraction of size
    min_visibility: float = 0.3  # detections fade out around this visibility
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        checks = [
            (self.width >= 64, "width must be at least 64"),
            (self.height >= 64, "height must be at least 64"),
            (self.frames >= 1, "frames must be at least 1"),
            (self.people >= 1, "people must be at least 1"),
            (self.frame_rate > 0, "frame_rate must be positive"),
            (self.seed >= 0, "seed must not be negative"),
            (self.occluders >= 0, "occluders must not be negative"),
            (self.fp_rate >= 0, "fp_rate must not be negative"),
            (0 <= self.miss_rate <= 1, "miss_rate must lie in [0, 1]"),
            (0 <= self.jitter <= 0.5, "jitter must lie in [0, 0.5]"),
            (0 <= self.min_visibility <= 1, "min_visibility must lie in [0, 1]"),
            (1 <= self.jpeg_quality <= 100, "jpeg_quality must lie in [1, 100]"),
        ]
        finite = all(math.isfinite(v) for v in (self.frame_rate, self.fp_rate, self.miss_rate, self.jitter,
                                                 self.min_visibility))
        checks.append((finite, "frame_rate, fp_rate, miss_rate, jitter and min_visibility must be finite"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
