"""The Descriptor protocol and the registry that maps names (`none`, `hist`, `fmvae:PATH`) to them.

A descriptor turns one frame's boxes into one feature row per box; a user's own descriptor is one
class with `embed`, `dim` and `metric`, registered under a name with `register`.
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Descriptor(Protocol):
    dim: int
    metric: str  # "cosine" or "euclidean": the distance the tracker should use

    def embed(self, frame_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        """(N, dim) float32 features for the N boxes (x, y, w, h) of one BGR uint8 frame."""
        ...


_REGISTRY: dict[str, Callable[[str | None], Descriptor | None]] = {}


def register(name: str, factory: Callable[[str | None], Descriptor | None]) -> None:
    """Make `track run --appearance name[:ARG]` build a descriptor with factory(ARG)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def create(spec: str) -> Descriptor | None:
    """Build a descriptor from `name` or `name:ARG`; `none` gives None (motion-only DeepSORT)."""
    _load_builtins()
    name, _, arg = spec.partition(":")
    if name not in _REGISTRY:
        raise KeyError(f"unknown appearance descriptor {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name](arg or None)


def _load_builtins() -> None:
    if "none" in _REGISTRY:
        return
    from appearance.histogram import HistogramDescriptor

    register("none", lambda arg: None)
    register("hist", lambda arg: HistogramDescriptor())
    try:
        from appearance.learned import factory
    except ImportError:  # torch not installed: the learned descriptors are unavailable
        return
    for kind in ("fmvae", "vhp-vae", "supervised"):
        register(kind, factory(kind))
