"""Checkpoint files: what a trained descriptor carries, saved atomically, loaded without pickle.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(weights_only=True)`: a file that smuggles a pickled object which would run code is
refused instead of executed.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from tools.atomic import atomic_open
from tools.errors import InputError

FORMAT = "vhp-fmvae-tracker/1"
KINDS = ("fmvae", "vhp-vae", "supervised")

# Keys every checkpoint has: kind (one of KINDS), model_config (dict for VAEConfig.from_dict),
# model (state dict), norm {"mean": [r, g, b], "std": [r, g, b]} in [0, 1] units of RGB crops,
# step (optimiser steps done). Training adds optimizer, lagrangian, rng and train_config.
REQUIRED = ("format", "kind", "model_config", "model", "norm", "step")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write atomically: a crash mid-save leaves the previous checkpoint intact."""
    payload = {"format": FORMAT, **payload}
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, "refused: the file holds pickled objects that could run code, not a plain "
                               f"checkpoint ({first[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"not a readable checkpoint (truncated or corrupt?): {msg[:200]}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} checkpoint")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise InputError(path, f"checkpoint lacks {', '.join(missing)}")
    if payload["kind"] not in KINDS:
        raise InputError(path, f"unknown model kind {payload['kind']!r}")
    return payload
