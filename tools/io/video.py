"""A plain video file as a sequence: frames from the file, detections from a file given with it.

`track run --video FILE --detections FILE` needs no MOT folder: the frame size, rate and count
come from the video's container, and the sequence is named after the file. Everything else
(tracking, frame reading, drawing, result rows) is the path MOT sequences take.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tools.io.errors import InputError
from tools.io.motformat import SeqInfo
from tools.io.sequence import Sequence

DEFAULT_FPS = 25.0  # when the container gives no usable frame rate


@dataclass
class VideoSequence(Sequence):
    """`root` is the video file itself: no img1/ can lie under it and no det/ or gt/ either."""

    @property
    def name(self) -> str:
        return self.root.stem

    @property
    def video_path(self) -> Path | None:
        return self.root


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr while OpenCV opens a file: its fallback readers and writers print raw
    noise that would bury our one-line message. Only the open call is wrapped, never the coding."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_capture(path: str | Path):
    """An opened cv2.VideoCapture of `path`, or an InputError naming the video when it is missing or
    OpenCV cannot read it. The caller releases the capture."""
    import cv2

    path = Path(path)
    if not path.exists():
        raise InputError(path, "video not found")
    if not path.is_file():
        raise InputError(path, "not a file")
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        with quiet_stderr():
            cap = cv2.VideoCapture(str(path))
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not cap.isOpened():
        cap.release()
        raise InputError(path, "cannot open video (not a video file, damaged, or a codec OpenCV lacks)")
    return cap


def open_video(path: str | Path) -> VideoSequence:
    """Probe a video with OpenCV; an unreadable file is an InputError."""
    import cv2

    path = Path(path)
    cap = open_capture(path)
    try:
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if width <= 0 or height <= 0:
            raise InputError(path, "cannot read the frame size: not a video OpenCV can decode")
        if count <= 0:  # some containers do not store it: count by reading
            count = 0
            while cap.grab():
                count += 1
        if count <= 0:
            raise InputError(path, "the video has no frames")
    finally:
        cap.release()
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        fps = DEFAULT_FPS
    return VideoSequence(path, SeqInfo(path.stem, fps, count, width, height))
