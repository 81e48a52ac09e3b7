"""Where the benches read real sequences by default: a MOT15 copy in the folder beside the
checkout (`<checkout>/../shared/data/MOT15`). Every bench takes `--data` or `--data-root` to
point elsewhere, and skips cleanly when the folder is absent."""
from __future__ import annotations

import argparse
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MOT15_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "MOT15"   # holds train/
MOT15_TRAIN = MOT15_ROOT / "train"                                  # holds one folder a sequence


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """The --data-root flag of the benches that read a folder of sequences with gt."""
    parser.add_argument("--data-root", type=Path, default=MOT15_TRAIN,
                        help=f"folder of MOTChallenge sequences with gt (default: {MOT15_TRAIN})")


def absent(root: Path) -> bool:
    """True, after saying so, when the bench has no data and should skip (exit 0)."""
    if Path(root).is_dir():
        return False
    print(f"skipped: no sequences at {root}")
    return True
