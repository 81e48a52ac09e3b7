"""Checkpoint files: what a trained descriptor carries, saved atomically, loaded without pickle.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so it loads with
`torch.load(weights_only=True)`: a file that smuggles a pickled object which would run code is
refused instead of executed.
"""
from __future__ import annotations

import pickle
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from appearance.model.kinds import KINDS
from tools.io.atomic import atomic_open
from tools.io.errors import InputError

FORMAT = "vhp-fmvae-tracker/1"

# Keys every checkpoint has: kind (one of KINDS), model_config (dict for VAEConfig.from_dict;
# appearance.model.network.network_from_checkpoint rebuilds the network),
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


# Reasons torch's weights-only unpickler gives for stopping that are refusals of code (a global to
# import, a function to call, an object to build), not damage.
_REFUSAL = re.compile(r"((?:Unsupported global|Trying to load unsupported GLOBAL|"
                      r"Trying to call|Can only create|Can only build).*?)(?:\. Please|\.?\s*$)", re.M)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on odd pickle protocols of a damaged file
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refusal = _REFUSAL.search(str(exc))
        if refusal:  # the weights-only unpickler met a global or an operation that plain pickle would run
            raise InputError(path, "refused: the file holds pickled objects that could run code, not a "
                                   f"plain checkpoint ({refusal.group(1)[:160]})") from None
        raise InputError(path, f"not a readable checkpoint {_damage(path)}") from None
    except Exception:  # noqa: BLE001 - a damaged file makes torch's parser fail in many ways
        raise InputError(path, f"not a readable checkpoint {_damage(path)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} checkpoint")
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise InputError(path, f"checkpoint lacks {', '.join(missing)}")
    if payload["kind"] not in KINDS:
        raise InputError(path, f"unknown model kind {payload['kind']!r}")
    return payload


def _damage(path: Path) -> str:
    """What is wrong with a file torch could not load, in words, as the rest of "not a readable
    checkpoint ...": torch's own messages are about its internals (a bare key such as `105`, a
    miniz error, advice on weights_only)."""
    import zipfile

    size = path.stat().st_size
    if size == 0:
        return "(empty file)"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != b"PK\x03\x04":  # torch.save writes a zip archive
        return (f"(truncated or not a torch file): its {size} byte{'s' if size != 1 else ''} do not start "
                "like the zip archive torch.save writes")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except Exception:  # noqa: BLE001 - zipfile fails on damage in many ways (zlib, struct, encryption flags)
        return f"(truncated): the zip archive torch.save writes ends early or is damaged ({size} bytes)"
    if bad is not None:
        return f"(corrupt): {bad} inside it fails its checksum"
    if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "(not a torch file): a zip archive without the data.pkl torch.save writes"
    return "(corrupt): torch cannot read the data inside its zip archive"
