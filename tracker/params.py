"""Every tracker takes its parameters as a dataclass or as keyword overrides of its defaults."""
from __future__ import annotations

from typing import Any, TypeVar

P = TypeVar("P")


def make_params(cls: type[P], params: P | None, overrides: dict[str, Any]) -> P:
    """`params` as given, or `cls(**overrides)`; both at once is ambiguous, so a TypeError."""
    if params is not None and overrides:
        raise TypeError(f"give either a {cls.__name__} or keyword parameters, not both")
    return params if params is not None else cls(**overrides)
