"""Turn a video plus MOT annotation files into a MOTChallenge sequence folder.

The result is ROOT/NAME/{seqinfo.ini, img1/%06d.jpg, det/det.txt, gt/gt.txt}, the layout every other
command reads. Everything is written into a hidden sibling folder first and renamed into place at
the end, so an interrupted or failed import never leaves a half-written sequence under NAME.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from tools.io.atomic import make_temp_folder, replace_folder
from tools.io.errors import InputError
from tools.io.folders import check_output_folder
from tools.io.motformat import (DET_ROW, MotRows, SeqInfo, check_in_image, read_mot_file, read_npy_detections,
                                write_mot, write_seqinfo)
from tools.io.sequence import Sequence
from tools.io.video import open_capture

DEFAULT_JPEG_QUALITY = 95


def check_name(name: str) -> str:
    """A sequence name must be one plain folder name: it becomes ROOT/NAME and is looked up by --seq."""
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name:
        raise InputError(None, f"sequence name {name!r} must be a plain folder name "
                               "(no slashes, not starting with '.')")
    return name


def read_detections(path: str | Path) -> MotRows:
    """Detections as MOT text or DeepSORT .npy, validated row by row (errors name file:line)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return read_npy_detections(path)
    return read_mot_file(path, "det")


def _video_fps(cap, video: Path, frame_rate: float | None) -> float:
    """The frame rate from --frame-rate, else from the container; some containers state none."""
    import cv2

    if frame_rate is not None:
        if not (math.isfinite(frame_rate) and frame_rate > 0):
            raise InputError(None, f"--frame-rate must be a positive number, got {frame_rate:g}")
        return float(frame_rate)
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(video, "the video does not state its frame rate; pass --frame-rate")
    return float(fps)


def _precheck_size(cap, *rows: MotRows | None) -> None:
    """Check boxes against the size the container states, so a wrong det file fails before the decode
    (the full check, with the decoded size and frame count, follows it)."""
    import cv2

    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width > 0 and height > 0:
        for r in rows:
            if r is not None:
                check_in_image(r, width, height)


def _decode(cap, video: Path, img_dir: Path, quality: int, progress: bool | None) -> tuple[int, int, int]:
    """Write every decodable frame as img_dir/%06d.jpg; return (frames, width, height)."""
    import cv2
    from tqdm import tqdm

    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    count, size = 0, None
    with tqdm(total=total if total > 0 else None, unit="frame", desc=f"decoding {video.name}",
              disable=None if progress is None else not progress, leave=False) as bar:
        while True:
            ok, image = cap.read()
            if not ok or image is None:
                break
            count += 1
            shape = (image.shape[1], image.shape[0])
            if size is None:
                size = shape
            elif shape != size:
                raise InputError(video, f"frame {count} is {shape[0]}x{shape[1]}, "
                                        f"the first frame was {size[0]}x{size[1]}")
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            path = img_dir / f"{count:06d}.jpg"
            if not cv2.imwrite(str(path), image, params):
                raise InputError(path, "cannot write frame (disk full or not writable?)")
            bar.update(1)
    if count == 0 or size is None:
        raise InputError(video, "no frame could be decoded")
    return count, size[0], size[1]


def import_video(video: str | Path, det: str | Path, out_root: str | Path, *, gt: str | Path | None = None,
                 name: str | None = None, frame_rate: float | None = None,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY, force: bool = False,
                 progress: bool | None = None) -> Sequence:
    """Decode `video` into OUT_ROOT/NAME with det/gt validated against the decoded frames.

    progress: True/False forces the tqdm bar on/off; None shows it only on a terminal.
    Returns the new sequence, opened from its final place.
    """
    video, det, out_root = Path(video), Path(det), Path(out_root)
    gt = Path(gt) if gt is not None else None
    name = check_name(name if name is not None else video.stem)
    if not 0 <= int(jpeg_quality) <= 100:
        raise InputError(None, f"--jpeg-quality must be within 0..100, got {jpeg_quality}")
    target = out_root / name
    if (target.exists() or target.is_symlink()) and not force:
        raise InputError(target, "already exists; pass --force to replace it")
    check_output_folder(out_root, "--out")

    # Parse the annotations before the slow decode so format errors come at once.
    det_rows = read_detections(det)
    gt_rows = read_mot_file(gt, "gt") if gt is not None else None

    cap = open_capture(video)
    try:
        fps = _video_fps(cap, video, frame_rate)
        out_root.mkdir(parents=True, exist_ok=True)
        _precheck_size(cap, det_rows, gt_rows)
        tmp = make_temp_folder(out_root, f".{name}.import-")
        try:
            (tmp / "img1").mkdir()
            length, width, height = _decode(cap, video, tmp / "img1", jpeg_quality, progress)
            cap.release()
            check_in_image(det_rows, width, height, length)
            (tmp / "det").mkdir()
            if det.suffix.lower() == ".npy":
                shutil.copyfile(det, tmp / "det" / "det.npy")
                # det.txt beside the .npy, so motion-only runs (which read det.txt) work on the sequence
                write_mot(tmp / "det" / "det.txt", det_rows.data, DET_ROW)
            else:
                shutil.copyfile(det, tmp / "det" / "det.txt")
            if gt_rows is not None:
                check_in_image(gt_rows, width, height, length)
                (tmp / "gt").mkdir()
                shutil.copyfile(gt, tmp / "gt" / "gt.txt")
            write_seqinfo(tmp / "seqinfo.ini", SeqInfo(name, fps, length, width, height))
            replace_folder(tmp, target, force=force)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        cap.release()
    return Sequence.open(target)


def summarize_detections(rows: MotRows) -> str:
    """One line on what was imported, for the CLI's report."""
    if not len(rows):
        return "0 rows"
    frames = np.unique(rows.data[:, 0]).size
    return f"{len(rows)} rows on {frames} frames"
