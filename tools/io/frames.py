"""Frame reading with OpenCV from img1/ files or a single video file.

A frame can be missing, unreadable, or past the end of a video that stops early. Strict reading
(the default) makes that an InputError naming the file. Tolerant reading yields (frame, None)
instead and records the damage in spans, so the tracker can go on with the frame's detections
and the run can say which frames had no image.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import cv2
import numpy as np

from tools.io.errors import InputError

if TYPE_CHECKING:
    from tools.io.sequence import Sequence

VIDEO_ENDS = "past the end of the video"


@dataclass
class DamagedFrames:
    """Frames first..last (inclusive) that had no image, and why."""

    first: int
    last: int
    path: str  # the image file of `first`, or the video
    reason: str  # "missing", "unreadable", "undecodable", VIDEO_ENDS

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def describe(self) -> str:
        frames = f"frame {self.first}" if self.first == self.last else f"frames {self.first}-{self.last}"
        return f"{frames} {self.reason}"

    def to_dict(self) -> dict:
        return asdict(self)


def iter_frames(seq: "Sequence", strict: bool = True, damaged: list[DamagedFrames] | None = None,
                warn: Callable[[str], object] | None = None) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (frame number from 1, BGR image) for frames 1..seqLength.

    strict: a missing or unreadable frame is an InputError. Otherwise it is yielded as
    (frame, None), appended to `damaged` (consecutive frames with the same reason share one
    span) and `warn` is called with one line when a span starts.
    """
    record = _Recorder(damaged if damaged is not None else [], warn)
    if seq.image_dir.is_dir():
        for f in range(1, seq.info.length + 1):
            path = seq.image_dir / f"{f:06d}{seq.info.im_ext}"
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                what = "missing" if not path.exists() else "unreadable"
                if strict:
                    raise InputError(path, f"frame {f} is {what}")
                record(f, str(path), what)
            yield f, image
        return
    video = seq.video_path
    if video is None:
        raise InputError(seq.root, f"no {seq.info.im_dir}/ folder and no video file: the sequence has no frames")
    from tools.io.video import open_capture

    cap = open_capture(video)
    try:
        for f in range(1, seq.info.length + 1):
            ok, image = cap.read()  # after a failure keep trying: a damaged stretch may end
            if not ok or image is None:
                if strict:
                    raise InputError(video, f"video ends or cannot be decoded at frame {f} of {seq.info.length}")
                record(f, str(video), "undecodable")
                image = None
            yield f, image
        record.finish(seq.info.length)
    finally:
        cap.release()


class _Recorder:
    def __init__(self, spans: list[DamagedFrames], warn: Callable[[str], object] | None):
        self.spans, self.warn = spans, warn

    def __call__(self, frame: int, path: str, reason: str) -> None:
        last = self.spans[-1] if self.spans else None
        if last is not None and last.last == frame - 1 and last.reason == reason:
            last.last = frame
            return
        self.spans.append(DamagedFrames(frame, frame, path, reason))
        if self.warn is not None:
            self.warn(f"track: warning: {path}: frame {frame} is {reason}; tracking on with its "
                      f"detections only (--strict stops instead)")

    def finish(self, length: int) -> None:
        """A video whose undecodable stretch runs to the last frame has simply ended early."""
        if self.spans and self.spans[-1].last == length and self.spans[-1].reason == "undecodable":
            self.spans[-1].reason = VIDEO_ENDS
