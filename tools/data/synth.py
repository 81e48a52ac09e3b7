"""Synthetic MOTChallenge sequences: pedestrians on a ground plane who cross, meet and hide.

Why this exists: the tracker, the descriptors and the evaluation need data with known identities
that is small, quick to make and free to share. The scenes are staged so that appearance matters:
people cross at similar depths, meet and turn back, overtake each other and walk behind pillars,
trees and hedges, where IoU and motion alone lose or swap identities but clothing colour and
pattern (plain, stripes, checks) tell people apart.

One simulation drives both `make_sequence` (rendered frames plus text files) and `synth_stream`
(rows only, for long benchmark streams), so a sequence's det.txt/gt.txt hold exactly the rows
the stream yields for the same settings.

The parts: synth_config.py (SynthConfig), synth_scene.py (camera, occluders, visibility),
synth_world.py (the crowd's events and motion), synth_detector.py (detector noise),
synth_render.py (drawing frames); this module writes sequences and streams rows.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from tools.io.motformat import SeqInfo, write_mot, write_seqinfo
from tools.data.synth_config import SynthConfig
from tools.data.synth_render import Painter
from tools.data.synth_world import World

__all__ = ["SynthConfig", "make_dataset", "make_sequence", "sequence_seed", "synth_stream"]


# Rows as the synthetic data's det.txt and gt.txt hold them (the detector's id column is -1; gt
# rows are consider-flag 1, class 1, then visibility).
SYNTH_DET_ROW = "%d,-1,%.2f,%.2f,%.2f,%.2f,%.4f,-1,-1,-1\n"
SYNTH_GT_ROW = "%d,%d,%.2f,%.2f,%.2f,%.2f,1,1,%.4f\n"


def make_sequence(out_root: Path, name: str, config: SynthConfig,
                  on_frame: Callable[[int], None] | None = None) -> Path:
    """Write out_root/name as a MOTChallenge sequence (img1/, det/det.txt, gt/gt.txt, seqinfo.ini).

    seqinfo.ini is written last, so an interrupted run leaves no folder that looks complete.
    `on_frame(frame)` is called after each frame is written (for progress bars).
    """
    import cv2

    root = Path(out_root) / name
    img_dir = root / "img1"
    img_dir.mkdir(parents=True, exist_ok=True)
    for stale in img_dir.glob("[0-9][0-9][0-9][0-9][0-9][0-9].jpg"):
        if int(stale.stem) > config.frames:
            stale.unlink()
    world = World(config)
    painter = Painter(world, config.seed)
    det_rows, gt_rows = [], []
    params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
    for fr in world.frames():
        image = painter.paint(fr)
        ok, data = cv2.imencode(".jpg", image, params)
        if not ok:
            raise OSError(f"cannot encode frame {fr.frame} as JPEG")
        (img_dir / f"{fr.frame:06d}.jpg").write_bytes(data.tobytes())
        det_rows.append(fr.det)
        gt_rows.append(fr.gt)
        if on_frame is not None:
            on_frame(fr.frame)
    write_mot(root / "det" / "det.txt", np.concatenate(det_rows), SYNTH_DET_ROW, [0, 2, 3, 4, 5, 6])
    write_mot(root / "gt" / "gt.txt", np.concatenate(gt_rows), SYNTH_GT_ROW, [0, 1, 2, 3, 4, 5, 8])
    write_seqinfo(root / "seqinfo.ini", SeqInfo(name, config.frame_rate, config.frames,
                                                config.width, config.height))
    return root


def sequence_seed(seed: int, index: int) -> int:
    """The seed of the index-th sequence of a dataset: independent streams, no overlaps between
    datasets made with neighbouring seeds."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def make_dataset(out_root: Path, n_sequences: int = 3, config: SynthConfig | None = None,
                 split: str | None = None, on_frame: Callable[[int], None] | None = None) -> list[Path]:
    """Write SYNTH-01, SYNTH-02, ... under out_root (or out_root/split), each with its own seed."""
    config = config or SynthConfig()
    root = Path(out_root) / split if split else Path(out_root)
    paths = []
    for i in range(1, n_sequences + 1):
        cfg = dataclasses.replace(config, seed=sequence_seed(config.seed, i))
        paths.append(make_sequence(root, f"SYNTH-{i:02d}", cfg, on_frame))
    return paths


def synth_stream(frames: int, people: int, seed: int, width: int = 640, height: int = 360,
                 config: SynthConfig | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (frame, det rows (N, 10), gt rows (M, 9)) without rendering, for long benchmarks.

    Memory stays bounded: people who leave are dropped and nothing is kept per frame. Other
    settings (occluders, fp_rate, ...) come from `config`. The rows equal those make_sequence
    writes for the same settings.
    """
    base = config or SynthConfig()
    cfg = dataclasses.replace(base, frames=frames, people=people, seed=seed, width=width, height=height)
    for fr in World(cfg).frames():
        yield fr.frame, fr.det, fr.gt
