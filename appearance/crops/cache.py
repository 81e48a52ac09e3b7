"""The crop dataset: boxes cut out of sequence frames, cached on disk for descriptor training.

Decoding video and cutting thousands of boxes takes longer than an epoch of a small model, so
the crops are cut once and kept in a folder:

- ``crops.npy``: (N, size, size, 3) uint8, RGB, memory-mapped on load so a large set never has to
  fit in memory;
- ``meta.npz``: per crop ``seq`` (name), ``frame``, ``tlwh`` (the box as given, before clipping),
  ``confidence`` (detector score; 1 for ground truth) and ``gt_id``;
- ``info.json``: source, parameters and a fingerprint of every input file, so a later call with
  the same inputs reuses the cache and any change to them rebuilds it.

``gt_id`` is the ground-truth identity. For ground-truth crops it is what the crop shows; for
detection crops it is the identity of the ground-truth box the detection overlaps (IoU >= 0.5,
Hungarian per frame), or -1. Detection ids exist for evaluation only (re-identification
benchmarks, calibration checks): unsupervised training must not read them.

The module needs NumPy, SciPy and OpenCV only, so the tracking side never pulls in torch. Crops
are prepared by ``appearance.crops.patches.crop_batch``, the function the learned descriptors call at
tracking time, so training and tracking see identical inputs.
"""
from __future__ import annotations

import datetime
import json
import math
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from appearance.crops.patches import FITS
from tools.io.atomic import atomic_write_text, replace_folder
from tools.io.errors import InputError
from tools.io.folders import check_output_folder
from tools.io.ground_truth import match_gt_ids, scored_mask
from tools.io.motformat import MotRows
from tools.io.sequence import Sequence

Source = Literal["det", "gt"]

CACHE_VERSION = 1
CACHE_FILES = ("crops.npy", "meta.npz", "info.json")
META_FIELDS = ("seq", "frame", "tlwh", "confidence", "gt_id")


def stats_from_sums(total, squares, count: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation in [0, 1] units from exact pixel sums.

    `total` and `squares` are the per-channel integer sums of uint8 values and of their squares
    over `count` pixels; count * sum(x^2) - sum(x)^2 is taken in Python integers (exact, no
    cancellation), so the statistics do not depend on how the sums were chunked.
    """
    mean = [int(t) / count / 255.0 for t in total]
    std = [math.sqrt(max(count * int(q) - int(t) ** 2, 0) / count ** 2) / 255.0 for t, q in zip(total, squares)]
    return mean, std


@dataclass(frozen=True)
class CropSet:
    """A crop cache opened for reading; ``crops`` is a read-only memory map (or a view of one)."""

    folder: Path
    crops: np.ndarray       # (N, size, size, 3) uint8 RGB
    seq: np.ndarray         # (N,) str
    frame: np.ndarray       # (N,) int32, from 1
    tlwh: np.ndarray        # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    gt_id: np.ndarray       # (N,) int64, -1 where unknown
    info: dict = field(repr=False)
    reused: bool = False    # True when extract_crops found this cache already built

    def __len__(self) -> int:
        return len(self.crops)

    @property
    def size(self) -> int:
        return int(self.crops.shape[1])

    @property
    def source(self) -> str:
        return str(self.info.get("source", "?"))

    @property
    def fit(self) -> str:
        """How boxes became squares (appearance.crops.patches.FITS)."""
        return str((self.info.get("parameters") or {}).get("fit", "stretch"))

    @classmethod
    def load(cls, folder: str | Path) -> "CropSet":
        """Open a cache written by `extract_crops`; a missing or damaged one is an InputError."""
        folder = Path(folder)
        if not folder.is_dir():
            raise InputError(folder, "no crop cache here (make one with `track crops`)")
        for name in CACHE_FILES:
            if not (folder / name).is_file():
                raise InputError(folder / name, "missing: the crop cache is incomplete; "
                                                "rebuild it with `track crops --force`")
        info_path = folder / "info.json"
        try:
            info = json.loads(info_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _corrupt(info_path, f"not readable JSON ({exc})") from None
        if not isinstance(info, dict) or info.get("version") != CACHE_VERSION:
            raise _corrupt(info_path, f"not a version {CACHE_VERSION} crop cache description")
        crops_path = folder / "crops.npy"
        try:
            crops = np.load(crops_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise _corrupt(crops_path, f"not a readable NumPy array ({exc})") from None
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
            raise _corrupt(crops_path, f"expected (N, S, S, 3) uint8, got {crops.shape} {crops.dtype}")
        meta_path = folder / "meta.npz"
        try:
            with np.load(meta_path, allow_pickle=False) as npz:
                meta = {name: npz[name] for name in META_FIELDS}
        except KeyError as exc:
            raise _corrupt(meta_path, f"lacks the array {exc}") from None
        except (OSError, ValueError, EOFError) as exc:
            raise _corrupt(meta_path, f"not a readable NumPy archive ({exc})") from None
        n = len(crops)
        bad = [name for name, arr in meta.items() if len(arr) != n]
        if bad or meta["tlwh"].shape != (n, 4) or info.get("count") != n:
            raise _corrupt(meta_path, f"its arrays do not match the {n} crops in crops.npy")
        return cls(folder, crops, meta["seq"], meta["frame"], meta["tlwh"], meta["confidence"],
                   meta["gt_id"], info)

    def counts(self) -> dict[str, int]:
        """Crops per sequence, in cache order."""
        names, first, count = np.unique(self.seq, return_index=True, return_counts=True)
        order = np.argsort(first)
        return {str(names[i]): int(count[i]) for i in order}

    def channel_stats(self, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (R, G, B) mean and standard deviation of pixel values scaled to [0, 1].

        Exact integer sums over chunks of the memory map: the whole set is never loaded, and
        the statistics a checkpoint carries do not depend on the chunk size.
        """
        n = len(self)
        if n == 0:
            raise ValueError("channel_stats of an empty crop set")
        total = np.zeros(3, dtype=np.int64)
        squares = np.zeros(3, dtype=np.int64)
        for start in range(0, n, chunk):
            block = np.asarray(self.crops[start:start + chunk])
            total += block.sum(axis=(0, 1, 2), dtype=np.int64)
            wide = block.astype(np.uint16)
            squares += np.multiply(wide, wide).sum(axis=(0, 1, 2), dtype=np.int64)
        mean, std = stats_from_sums(total, squares, n * self.size * self.size)
        return np.array(mean), np.array(std)

    def subset(self, mask: np.ndarray) -> "CropSet":
        """The crops selected by a boolean mask or by indices; a contiguous selection (one
        sequence, say) stays a view of the memory map, any other is copied into memory."""
        mask = np.asarray(mask)
        if mask.dtype == bool:
            if mask.shape != (len(self),):
                raise ValueError(f"mask has shape {mask.shape}, expected ({len(self)},)")
            index = np.flatnonzero(mask)
        else:
            index = mask.astype(np.int64).reshape(-1)
            index = np.where(index < 0, index + len(self), index)
            if len(index) and (index.min() < 0 or index.max() >= len(self)):
                raise IndexError(f"crop index out of range for {len(self)} crops")
        if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
            take: slice | np.ndarray = slice(int(index[0]), int(index[0]) + len(index))
        elif len(index) == 0:
            take = slice(0, 0)
        else:
            take = index
        return replace(self, crops=self.crops[take], seq=self.seq[take], frame=self.frame[take],
                       tlwh=self.tlwh[take], confidence=self.confidence[take],
                       gt_id=self.gt_id[take])


def _corrupt(path: Path, why: str) -> InputError:
    return InputError(path, f"{why}: the crop cache is damaged; rebuild it with `track crops --force`")


@dataclass
class _Plan:
    """The boxes to cut from one sequence, sorted by frame."""

    seq: Sequence
    frame: np.ndarray
    tlwh: np.ndarray
    confidence: np.ndarray
    gt_id: np.ndarray


def extract_crops(seqs: list[Sequence], out: str | Path, source: Source = "det",
                  min_confidence: float = 0.5, size: int = 64, min_height: float = 0,
                  min_visibility: float = 0.0, every: int = 1, progress: bool = True,
                  force: bool = False, fit: str = "stretch") -> CropSet:
    """Cut the boxes of `seqs` into a crop cache at `out` and open it.

    source "det": detections with confidence >= min_confidence (gt_id from IoU matching, for
    evaluation only). source "gt": ground truth with a non-zero consider flag, class pedestrian
    (or no class column, as in MOT15) and visibility >= min_visibility, carrying identities.
    Both: boxes at least min_height tall, frames 1, 1 + every, 1 + 2 every, ... `fit` says how a
    box becomes a square (appearance.crops.patches.FITS).

    An existing cache built from the same parameters and unchanged input files is returned as
    it is (unless force). The new cache is written into a temporary folder that is renamed into
    place at the end, so an error (a missing frame, say) or an interruption leaves no partial
    cache behind and an older cache intact.
    """
    if source not in ("det", "gt"):
        raise ValueError(f"source must be 'det' or 'gt', got {source!r}")
    if size < 1 or every < 1:
        raise ValueError(f"size and every must be at least 1, got {size} and {every}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if not seqs:
        raise ValueError("no sequences given")
    out = Path(out)
    parameters = {
        "source": source,
        "min_confidence": float(min_confidence) if source == "det" else None,
        "size": int(size),
        "min_height": float(min_height),
        "min_visibility": float(min_visibility) if source == "gt" else None,
        "every": int(every),
        **({"fit": fit} if fit != "stretch" else {}),   # caches made before the choice stretched
    }
    fingerprints = [_fingerprint(seq, source) for seq in seqs]

    if not force:
        cached = _reusable(out, parameters, fingerprints)
        if cached is not None:
            print(f"reusing the crop cache {out} ({len(cached)} crops, made "
                  f"{cached.info.get('created', '?')}); force=True / --force rebuilds it")
            return replace(cached, reused=True)

    for seq in seqs:
        if not seq.has_frames:
            raise InputError(seq.root, f"sequence {seq.name} has no frames (no {seq.info.im_dir}/ "
                                       f"folder and no video file): crops need frames")
    plans = [_plan(seq, source, min_confidence, min_height, min_visibility, every) for seq in seqs]
    total = sum(len(p.frame) for p in plans)
    if total == 0:
        what = f"confidence >= {min_confidence:g}" if source == "det" else "the gt filters"
        raise InputError(None, f"no {source} boxes pass {what}, min height {min_height:g} in "
                               f"{', '.join(s.name for s in seqs)}: nothing to cut")
    info = {
        "source": source,
        "parameters": parameters,
        "sequences": fingerprints,
        "count": total,
        "per_sequence": {p.seq.name: len(p.frame) for p in plans},
        "size": int(size),
    }
    return publish_cache(out, lambda tmp: _write_cache(tmp, plans, size, progress, fit), info)


def publish_cache(out: Path, write: Callable[[Path], None], info: dict) -> CropSet:
    """Write a crop cache the safe way and open it: refuse to replace anything but a crop cache,
    let `write` fill a temporary folder next to `out` (crops.npy, meta.npz), add info.json
    (with the cache version and the time), then swap the folder into place. On any error or
    interruption the temporary folder is removed and an older cache at `out` stays intact."""
    check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write(tmp)
        stamped = {"version": CACHE_VERSION, **info,
                   "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        atomic_write_text(tmp / "info.json", json.dumps(stamped, indent=1) + "\n")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CropSet.load(out)


def _file_stamp(path: Path) -> dict | None:
    """Size and modification time: enough to notice an edited or replaced input file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _fingerprint(seq: Sequence, source: str) -> dict:
    video = seq.video_path
    return {
        "name": seq.name,
        "root": str(seq.root.resolve()),
        "seqinfo": _file_stamp(seq.root / "seqinfo.ini"),
        "det": _file_stamp(seq.det_path) if source == "det" else None,
        "gt": _file_stamp(seq.gt_path),
        # A video's stamp, or the image folder's (it changes when frames are added or removed).
        "frames": _file_stamp(video) if video is not None else _file_stamp(seq.image_dir),
    }


def _reusable(out: Path, parameters: dict, fingerprints: list[dict]) -> CropSet | None:
    """The cache at `out` when it was built from these parameters and unchanged inputs."""
    try:
        info = json.loads((out / "info.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if (not isinstance(info, dict) or info.get("version") != CACHE_VERSION
            or info.get("parameters") != parameters
            or info.get("sequences") != json.loads(json.dumps(fingerprints))):
        return None
    try:
        return CropSet.load(out)
    except InputError as exc:
        print(f"rebuilding the crop cache {out}: {exc}")
        return None


def check_replaceable(out: Path) -> None:
    """Refuse to replace anything but a crop cache (or an empty folder) at `out`."""
    check_output_folder(out)
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in CACHE_FILES)
        if others:
            raise InputError(out, f"exists and is not a crop cache (it holds {others[0]}"
                                  f"{' ...' if len(others) > 1 else ''}); choose another output folder")


def _plan(seq: Sequence, source: str, min_confidence: float, min_height: float,
          min_visibility: float, every: int) -> _Plan:
    """Select the rows to cut, before any frame is decoded (so bad input fails fast)."""
    if source == "det":
        rows = seq.detections()
        keep = rows.data[:, 6] >= min_confidence
    else:
        if not seq.has_gt:
            raise InputError(seq.gt_path, f"file not found: sequence {seq.name} has no ground "
                                          f"truth for gt crops")
        rows = seq.ground_truth()
        keep = scored_mask(rows, min_visibility)
    d = rows.data
    keep &= d[:, 5] >= min_height
    keep &= (d[:, 0].astype(np.int64) - 1) % every == 0
    d = d[keep]
    d = d[np.argsort(d[:, 0], kind="stable")]  # by frame, file order within a frame
    frame = d[:, 0].astype(np.int32)
    tlwh = d[:, 2:6].astype(np.float32)
    if source == "det":
        confidence = d[:, 6].astype(np.float32)
        gt_id = (match_gt_ids(frame, d[:, 2:6], seq.ground_truth()) if seq.has_gt
                 else np.full(len(d), -1, dtype=np.int64))
    else:
        confidence = np.ones(len(d), dtype=np.float32)
        gt_id = d[:, 1].astype(np.int64)
    return _Plan(seq, frame, tlwh, confidence, gt_id)


def _write_cache(folder: Path, plans: list[_Plan], size: int, progress: bool, fit: str = "stretch") -> None:
    """Decode every frame once and write crops.npy and meta.npz into `folder`."""
    from tqdm import tqdm

    from appearance.crops.patches import crop_batch

    total = sum(len(p.frame) for p in plans)
    crops = np.lib.format.open_memmap(folder / "crops.npy", mode="w+", dtype=np.uint8,
                                      shape=(total, size, size, 3))
    try:
        offset = 0
        frames_total = sum(p.seq.info.length for p in plans)
        # disable=None: a bar on a terminal only, never escape codes in a log file
        with tqdm(total=frames_total, unit="frame", desc="crops", disable=None if progress else True,
                  leave=False) as bar:
            for plan in plans:
                info = plan.seq.info
                bar.set_description(f"crops {plan.seq.name}")
                bounds = np.searchsorted(plan.frame, np.arange(1, info.length + 2))
                for f, image in plan.seq.frames():
                    if f == 1 and image.shape[:2] != (info.height, info.width):
                        raise InputError(plan.seq.video_path or plan.seq.image_dir,
                                         f"frame 1 is {image.shape[1]}x{image.shape[0]} but "
                                         f"seqinfo.ini says {info.width}x{info.height}")
                    lo, hi = bounds[f - 1], bounds[f]
                    if hi > lo:
                        crops[offset + lo:offset + hi] = crop_batch(image, plan.tlwh[lo:hi], size, fit)
                    bar.update(1)
                offset += len(plan.frame)
        crops.flush()
    finally:
        del crops
    np.savez(folder / "meta.npz",
             seq=np.repeat(np.array([p.seq.name for p in plans], dtype=str), [len(p.frame) for p in plans]),
             frame=np.concatenate([p.frame for p in plans]),
             tlwh=np.concatenate([p.tlwh for p in plans]),
             confidence=np.concatenate([p.confidence for p in plans]),
             gt_id=np.concatenate([p.gt_id for p in plans]))
