"""JSON records kept beside outputs (run.json, embed.json, demo-state.json, calibration reports).

They describe earlier work so a rerun can reuse it; one that is missing, unreadable, not JSON or
not a JSON object only means there is nothing to reuse.
"""
from __future__ import annotations

import json
from pathlib import Path


def read_record(path: str | Path) -> dict | None:
    """The JSON object in `path`, or None where there is none to read."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):  # ValueError: not UTF-8, not JSON
        return None
    return record if isinstance(record, dict) else None
