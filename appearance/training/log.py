"""DIR/log.csv: one row of logged values per training step, kept consistent across resumes."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from tools.io.atomic import atomic_write_text

LOG_COLUMNS = ("step", "loss", "F", "C", "C_hat", "lambda", "c2", "penalty", "relative",
               "latent_std", "tracklet", "lr", "seconds")   # tracklet: the VAE family's tracklet term
FLAT_STATS = ("c2", "penalty", "relative")    # logged only once the penalty is on (--flat-start)


class TrainLog:
    """DIR/log.csv, one row per step. On resume rows after the checkpoint's step are dropped
    (they belong to steps the resumed run does again)."""

    def __init__(self, path: Path, start: int, active: bool):
        self.path = path
        self.seconds_offset = 0.0
        self.fh = None
        if not active:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict[str, str]] = []
        if start > 0 and path.is_file():
            with path.open(newline="") as fh:
                kept = [r for r in csv.DictReader(fh) if r.get("step", "").isdigit() and int(r["step"]) <= start]
            if kept and kept[-1].get("seconds"):
                self.seconds_offset = float(kept[-1]["seconds"])
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(path, buf.getvalue())
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")

    def write(self, step: int, values: dict[str, float]) -> None:
        if self.fh is None:
            return
        row = {k: (f"{values[k]:.8g}" if k in values else "") for k in LOG_COLUMNS}
        row["step"] = str(step)
        self.writer.writerow(row)

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
