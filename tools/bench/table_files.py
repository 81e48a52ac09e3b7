"""Where a bench leaves its result: OUT/table.md (what it printed) and OUT/table.json (the
figures behind it), each written whole or not at all."""
from __future__ import annotations

import json
from pathlib import Path

from tools.io.atomic import atomic_write_text


def write_table(out: Path, markdown: str, figures) -> None:
    """Write both files into `out` (made if missing), print the table and where it went."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.md", markdown)
    atomic_write_text(out / "table.json", json.dumps(figures, indent=2, default=float) + "\n")
    print(markdown)
    print(f"written to {out / 'table.md'} and {out / 'table.json'}")
