"""Writing an annotated .mp4 that a browser plays: H.264 where OpenCV's build can, else mp4v.

Browsers play H.264 ('avc1') in .mp4 but not MPEG-4 Part 2 ('mp4v'), yet many OpenCV builds
(the pip wheels among them) have no H.264 encoder. Which one works is probed once per process
on a tiny temporary file; the mp4v fallback is said in one line, so a user who cannot play the
file in a browser knows why and how to convert it.
"""
from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path

import numpy as np

from tools.io.errors import InputError
from tools.io.video import quiet_stderr

H264, MPEG4 = "avc1", "mp4v"
CODEC_NAMES = {H264: "H.264", MPEG4: "MPEG-4 Part 2"}
_noted = False


def _writer(path: Path, codec: str, fps: float, size: tuple[int, int]):
    """A cv2.VideoWriter (maybe not opened) with OpenCV's own codec complaints silenced."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        with quiet_stderr():
            return cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    finally:
        cv2.utils.logging.setLogLevel(level)


def probe_codec(candidates: tuple[str, ...] = (H264, MPEG4)) -> str | None:
    """The first codec of `candidates` that writes a readable .mp4 here (None: none does)."""
    with tempfile.TemporaryDirectory() as tmp:
        for codec in candidates:
            path = Path(tmp) / f"probe-{codec}.mp4"
            writer = _writer(path, codec, 25.0, (64, 48))
            if not writer.isOpened():
                writer.release()
                continue
            for _ in range(2):
                writer.write(np.zeros((48, 64, 3), np.uint8))
            writer.release()
            if path.is_file() and path.stat().st_size > 0:
                return codec
    return None


@functools.lru_cache(maxsize=None)
def video_codec() -> str:
    """H264 when this OpenCV build writes it, else MPEG4; probed once per process."""
    return probe_codec() or MPEG4


def note_fallback(codec: str) -> None:
    """Say once per process that the video is not H.264 and what that means."""
    global _noted
    if codec == H264 or _noted:
        return
    _noted = True
    print(f"note: this OpenCV build cannot write H.264 ('{H264}'): videos are {CODEC_NAMES.get(codec, codec)} "
          f"('{codec}'), which browsers do not play (VLC does; or: ffmpeg -i IN.mp4 -c:v libx264 OUT.mp4)",
          file=sys.stderr)


class AnnotatedVideo:
    """An .mp4 written to a hidden temporary name and renamed into place by close(), so a killed
    run never leaves a truncated video under the final name."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.codec = video_codec()
        self.writer = _writer(self.tmp, self.codec, fps, size)
        if not self.writer.isOpened() and self.codec != MPEG4:   # e.g. H.264 refuses an odd size
            self.writer.release()
            self.codec = MPEG4
            self.writer = _writer(self.tmp, self.codec, fps, size)
        if not self.writer.isOpened():
            self.writer.release()
            raise InputError(self.path, f"OpenCV cannot write a {size[0]}x{size[1]} video here")
        note_fallback(self.codec)

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES.get(self.codec, self.codec)

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self) -> Path:
        """Finish the file and move it to its final name; returns that path."""
        self.writer.release()
        self.tmp.replace(self.path)
        return self.path
