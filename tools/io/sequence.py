"""A MOTChallenge sequence on disk: seqinfo.ini, frames (img1/ or one video file), det and gt."""
from __future__ import annotations

import difflib
import glob
import re
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
    """Find a sequence folder called `name` (holding seqinfo.ini) up to four levels under data_root;
    data_root may be that sequence folder itself. A miss names the closest known sequences."""
    root = Path(data_root)
    direct = Path(name)
    if (direct / "seqinfo.ini").is_file():
        return Sequence.open(direct)
    if not root.is_dir():
        raise InputError(root, f"data root does not exist (looking for sequence {name!r})"
                               f"{_getting_data(name, root)}")
    if (root / "seqinfo.ini").is_file():
        own = root.resolve().name
        if own == direct.name:
            return Sequence.open(root)
        raise InputError(root, f"the data root is itself the sequence folder {own!r}, not a folder of "
                               f"sequences; pass its parent as --data-root to find {name!r}")
    for depth in range(0, 4):
        pattern = "/".join(["*"] * depth + [glob.escape(name), "seqinfo.ini"])
        hits = sorted(root.glob(pattern))
        if hits:
            return Sequence.open(hits[0].parent)
    known = sorted({p.name for p in sequence_folders(root)})
    close = close_names(name, known)
    message = f"no sequence named {name!r} under this data root"
    if close:
        message += f" (did you mean {' or '.join(map(repr, close))}?)"
    if known:
        shown = close + [k for k in known if k not in close][: max(0, 12 - len(close))]
        message += f"; {len(known)} known: {', '.join(shown)}" + (" ..." if len(known) > len(shown) else "")
    if not close:
        message += _getting_data(name, root)
    raise InputError(root, message)


def close_names(name: str, known: list[str], n: int = 3) -> list[str]:
    """The known names closest to a mistyped one: the same letters in another case, else difflib's
    close matches ignoring case."""
    by_lower: dict[str, list[str]] = {}
    for k in known:
        by_lower.setdefault(k.lower(), []).append(k)
    same = by_lower.get(name.lower(), [])
    if same:
        return same[:n]
    near = difflib.get_close_matches(name.lower(), list(by_lower), n=n, cutoff=0.6)
    return [k for low in near for k in by_lower[low]][:n]


def _getting_data(name: str, root: Path) -> str:
    """Where MOTChallenge sequences come from: the fetch command for the dataset the name suggests."""
    match = re.match(r"(MOT1[5-7])-", name, re.IGNORECASE)
    dataset = match.group(1).upper() if match else "MOT16"
    where = "" if root == Path("data") else f" --data-root {root}"
    return f"; get MOTChallenge data with `track data fetch {dataset}{where}` (see data/README.md)"


def sequence_folders(data_root: str | Path, split: str | None = None) -> list[Path]:
    """Folders holding seqinfo.ini up to four levels under data_root (optionally only under a folder
    named `split`), or data_root itself when it is one, skipping hidden folders: where an interrupted import or unpack keeps its
    temporary copy, and editor backups."""
    root = Path(data_root)
    if split is None and (root / "seqinfo.ini").is_file():
        return [root.resolve() if root.name in ("", "..") else root]  # the data root is one sequence folder
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
