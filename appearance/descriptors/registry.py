"""The Descriptor protocol and the registry that maps names (`none`, `hist`, `fmvae:PATH`) to them.

A descriptor turns one frame's boxes into one feature row per box; a user's own descriptor is one
class with `embed`, `dim` and `metric`, registered under a name with `register`.
"""
from __future__ import annotations

import inspect
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


def create(spec: str, options: dict | None = None) -> Descriptor | None:
    """Build a descriptor from `name` or `name:ARG`; `none` gives None (motion-only DeepSORT).

    `options` (a config file's [descriptor] table) go to the factory as keyword arguments; a
    factory that does not take one is an InputError, not a TypeError deep inside it.
    """
    _load_builtins()
    name, _, arg = spec.partition(":")
    if name not in _REGISTRY:
        raise KeyError(f"unknown appearance descriptor {name!r}; available: {', '.join(available())}")
    factory = _REGISTRY[name]
    if not options:
        return factory(arg or None)
    try:
        inspect.signature(factory).bind(arg or None, **options)
    except TypeError:
        params = [p.name for p in list(inspect.signature(factory).parameters.values())[1:]
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        from tools.io.errors import InputError

        unknown = sorted(set(options) - set(params)) or sorted(options)
        raise InputError(None, f"descriptor {name!r} takes no option {', '.join(unknown)} "
                               f"(its options: {', '.join(params) or 'none'})") from None
    return factory(arg or None, **options)


def _load_builtins() -> None:
    if "none" in _REGISTRY:
        return
    from appearance.descriptors.onnx_runtime import onnx_factory

    register("none", lambda arg: None)
    register("hist", _hist_factory)
    register("onnx", onnx_factory)  # onnxruntime only: works where torch is not installed
    try:
        from appearance.descriptors.learned import factory
    except ImportError:  # torch not installed: the learned descriptors are unavailable
        return
    from appearance.model.kinds import KINDS

    for kind in KINDS:
        register(kind, factory(kind))


def _hist_factory(arg: str | None, bins: list[int] | tuple[int, ...] = (8, 4, 4)) -> Descriptor:
    from appearance.descriptors.histogram import HistogramDescriptor
    from tools.io.errors import InputError

    if (not isinstance(bins, (list, tuple)) or len(bins) != 3
            or not all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 256 for b in bins)):
        raise InputError(None, f"hist option bins must be three integers in 1..256 (H, S, V), got {bins!r}")
    return HistogramDescriptor(tuple(bins))
