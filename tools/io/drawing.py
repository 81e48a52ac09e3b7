"""Drawing tracks on frames with OpenCV: a box, the ID and a short trail per track."""
from __future__ import annotations

from collections import defaultdict, deque

import cv2
import numpy as np


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour per ID (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


class TrackPainter:
    """Keeps each track's recent foot points so trails can be drawn frame after frame."""

    def __init__(self, trail: int = 30) -> None:
        self.trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=trail))

    def draw(self, frame: np.ndarray, tracks: list[tuple[int, np.ndarray]], label: str | None = None) -> np.ndarray:
        out = frame.copy()
        for track_id, (x, y, w, h) in tracks:
            colour = id_colour(track_id)
            self.trails[track_id].append((int(x + w / 2), int(y + h)))
            pts = np.array(self.trails[track_id], np.int32)
            if len(pts) > 1:
                cv2.polylines(out, [pts], False, colour, 2, cv2.LINE_AA)
            cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, 2)
            text = str(track_id)
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
            cv2.rectangle(out, (int(x), int(y) - th - 4), (int(x) + tw + 4, int(y)), colour, -1)
            cv2.putText(out, text, (int(x) + 2, int(y) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        if label:
            cv2.putText(out, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        return out
