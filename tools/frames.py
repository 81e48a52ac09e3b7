"""Frame reading with OpenCV from img1/ files or a single video file."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import cv2
import numpy as np

from tools.errors import InputError

if TYPE_CHECKING:
    from tools.sequence import Sequence


def iter_frames(seq: "Sequence") -> Iterator[tuple[int, np.ndarray]]:
    if seq.image_dir.is_dir():
        for f in range(1, seq.info.length + 1):
            path = seq.image_dir / f"{f:06d}{seq.info.im_ext}"
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                what = "missing" if not path.exists() else "unreadable"
                raise InputError(path, f"frame {f} is {what}")
            yield f, image
        return
    video = seq.video_path
    if video is None:
        raise InputError(seq.root, f"no {seq.info.im_dir}/ folder and no video file: the sequence has no frames")
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise InputError(video, "cannot open video")
    try:
        for f in range(1, seq.info.length + 1):
            ok, image = cap.read()
            if not ok or image is None:
                raise InputError(video, f"video ends or cannot be decoded at frame {f} of {seq.info.length}")
            yield f, image
    finally:
        cap.release()
