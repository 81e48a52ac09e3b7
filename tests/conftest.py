"""Shared fixtures: tiny hand-made MOTChallenge sequences (the synthetic maker covers realism)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

SEQINFO = "[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={length}\nimWidth=320\nimHeight=240\nimExt=.jpg\n"


def write_sequence(root: Path, name: str = "TINY-01", length: int = 6, images: bool = True,
                   det_rows: list[str] | None = None, gt_rows: list[str] | None = None) -> Path:
    seq = root / name
    (seq / "det").mkdir(parents=True)
    (seq / "gt").mkdir()
    (seq / "seqinfo.ini").write_text(SEQINFO.format(name=name, length=length))
    if det_rows is None:
        det_rows = [f"{f},-1,{20 + 5 * f},40,30,60,0.9,-1,-1,-1" for f in range(1, length + 1)]
        det_rows += [f"{f},-1,200,50,30,60,0.8,-1,-1,-1" for f in range(1, length + 1) if f != 3]
    if gt_rows is None:
        gt_rows = [f"{f},1,{20 + 5 * f},40,30,60,1,1,1" for f in range(1, length + 1)]
        gt_rows += [f"{f},2,200,50,30,60,1,1,1" for f in range(1, length + 1)]
    (seq / "det" / "det.txt").write_text("\n".join(det_rows) + "\n")
    (seq / "gt" / "gt.txt").write_text("\n".join(gt_rows) + "\n")
    if images:
        (seq / "img1").mkdir()
        rng = np.random.default_rng(0)
        for f in range(1, length + 1):
            img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            cv2.imwrite(str(seq / "img1" / f"{f:06d}.jpg"), img)
    return seq


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    write_sequence(tmp_path / "data" / "train")
    return tmp_path / "data"
