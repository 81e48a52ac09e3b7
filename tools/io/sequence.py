"""A MOTChallenge sequence on disk: seqinfo.ini, frames (img1/ or one video file), det and gt."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from tools.io.errors import InputError
from tools.io.motformat import MotRows, SeqInfo, check_in_image, read_mot_file, read_npy_detections, read_seqinfo

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm")


@dataclass
class Sequence:
    root: Path
    info: SeqInfo

    @classmethod
    def open(cls, root: str | Path) -> "Sequence":
        root = Path(root)
        if not root.is_dir():
            raise InputError(root, "not a sequence folder")
        return cls(root, read_seqinfo(root / "seqinfo.ini"))

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def det_path(self) -> Path:
        return self.root / "det" / "det.txt"

    @property
    def gt_path(self) -> Path:
        return self.root / "gt" / "gt.txt"

    @property
    def has_gt(self) -> bool:
        return self.gt_path.is_file()

    @property
    def image_dir(self) -> Path:
        return self.root / self.info.im_dir

    @property
    def video_path(self) -> Path | None:
        """The single video file holding the frames, when the sequence has no image folder."""
        if self.image_dir.is_dir():
            return None
        videos = sorted(p for p in self.root.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        return videos[0] if videos else None

    @property
    def has_frames(self) -> bool:
        return self.image_dir.is_dir() or self.video_path is not None

    def detections(self, path: str | Path | None = None) -> MotRows:
        """Detections from det/det.txt, or from `path` (MOT text or DeepSORT .npy)."""
        path = Path(path) if path is not None else self.det_path
        rows = read_npy_detections(path) if path.suffix == ".npy" else read_mot_file(path, "det")
        check_in_image(rows, self.info.width, self.info.height, self.info.length)
        return rows

    def ground_truth(self) -> MotRows:
        rows = read_mot_file(self.gt_path, "gt")
        check_in_image(rows, self.info.width, self.info.height, self.info.length)
        return rows

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (frame number from 1, BGR image); a missing or unreadable frame is an InputError."""
        from tools.io.frames import iter_frames  # OpenCV only when frames are wanted

        yield from iter_frames(self)


def frame_slices(rows: MotRows | np.ndarray, length: int) -> list[np.ndarray]:
    """Row indices of each frame 1..length (index 0 unused), in file order within a frame."""
    data = rows.data if isinstance(rows, MotRows) else np.asarray(rows)
    frames = data[:, 0].astype(np.int64)
    order = np.argsort(frames, kind="stable")
    bounds = np.searchsorted(frames[order], np.arange(1, length + 2))
    return [np.empty(0, np.int64)] + [order[bounds[f - 1]:bounds[f]] for f in range(1, length + 1)]


def find_sequence(name: str, data_root: str | Path = "data") -> Sequence:
    """Find a sequence folder called `name` (holding seqinfo.ini) up to four levels under data_root."""
    root = Path(data_root)
    direct = Path(name)
    if (direct / "seqinfo.ini").is_file():
        return Sequence.open(direct)
    if not root.is_dir():
        raise InputError(root, f"data root does not exist (looking for sequence {name!r})")
    for depth in range(0, 4):
        pattern = "/".join(["*"] * depth + [name, "seqinfo.ini"])
        hits = sorted(root.glob(pattern))
        if hits:
            return Sequence.open(hits[0].parent)
    known = sorted({p.name for p in sequence_folders(root)})
    hint = f"; known: {', '.join(known[:12])}" + (" ..." if len(known) > 12 else "") if known else ""
    raise InputError(root, f"no sequence named {name!r} under this data root{hint}")


def sequence_folders(data_root: str | Path, split: str | None = None) -> list[Path]:
    """Folders holding seqinfo.ini up to four levels under data_root (optionally only under a folder
    named `split`), skipping hidden folders: where an interrupted import or unpack keeps its
    temporary copy, and editor backups."""
    root = Path(data_root)
    found = []
    for d in range(1, 5):
        for ini in sorted(root.glob("/".join(["*"] * d) + "/seqinfo.ini")):
            parts = ini.parent.relative_to(root).parts
            if any(p.startswith(".") for p in parts):
                continue
            if split is None or split in parts[:-1]:
                found.append(ini.parent)
    return list(dict.fromkeys(found))


def list_sequences(data_root: str | Path, split: str | None = None) -> list[Sequence]:
    """All sequences under data_root (optionally only under a folder named `split`, e.g. train)."""
    return [Sequence.open(p) for p in sequence_folders(data_root, split)]
