"""The EMA track feature: one unit vector a track, blended with each matched detection's (FairMOT,
BoT-SORT, StrongSORT). ByteTrack and OC-SORT always keep it; DeepSORT's gallery does in EMA mode."""
from __future__ import annotations

import numpy as np


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows to unit length; a zero row stays zero (its cosine distance to anything is 1)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def blend(old: np.ndarray, new: np.ndarray, has_old: np.ndarray, alpha: float) -> np.ndarray:
    """alpha * old + (1 - alpha) * new, renormalised; `new` as it is where a track had no feature.
    `new` rows are unit vectors (normalise them first)."""
    old = old.astype(np.float64)
    return normalise(np.where(has_old[:, None], alpha * old + (1.0 - alpha) * new, new))
