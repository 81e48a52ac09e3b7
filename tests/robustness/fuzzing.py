"""Shared by the fuzz tests: per-reader tallies of generated cases and the report file.

FUZZ_REPORT=path.json makes each fuzz module merge its tallies (cases, accepted, refused,
crashes per reader) into that file when it finishes.
"""
from __future__ import annotations

import collections
import json
import os
from pathlib import Path

TALLY: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def write_report() -> None:
    out = os.environ.get("FUZZ_REPORT")
    if not out:
        return
    path = Path(out)
    merged: dict[str, dict[str, int]] = json.loads(path.read_text()) if path.is_file() else {}
    for reader, counts in TALLY.items():
        row = collections.Counter(merged.get(reader, {}))
        row.update(counts)
        merged[reader] = dict(row)
    path.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
    TALLY.clear()
