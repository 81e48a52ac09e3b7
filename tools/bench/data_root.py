"""Where the benches read real sequences by default: a MOT15 copy in the folder beside the
checkout (`<checkout>/../shared/data/MOT15`). Every bench takes `--data` or `--data-root` to
point elsewhere, and skips cleanly when the folder is absent."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MOT15_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "MOT15"   # holds train/
MOT15_TRAIN = MOT15_ROOT / "train"                                  # holds one folder a sequence
