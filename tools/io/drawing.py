"""Drawing tracks on frames with OpenCV: a box, the ID and a short trail per track.

Tentative tracks (not yet confirmed, so absent from the results) are drawn faintly: without
them the first frames of a video look empty although the tracker is already following people.
Labels sit on dark filled boxes so they read on light and dark backgrounds alike.
"""
from __future__ import annotations

from collections import defaultdict, deque

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
TENTATIVE_ALPHA = 0.45    # opacity of a tentative track's box
LABEL_BACKGROUND = (24, 24, 24)


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour per ID (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_label(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.6,
               colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """`text` with its baseline-left corner at `org`, on a dark filled box (in place)."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = org
    cv2.rectangle(img, (x - 4, y - th - 4), (x + tw + 4, y + base + 2), LABEL_BACKGROUND, -1)
    cv2.putText(img, text, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)


class TrackPainter:
    """Keeps each track's recent foot points so trails can be drawn frame after frame."""

    def __init__(self, trail: int = 30) -> None:
        self.trails: dict[int, deque] = defaultdict(lambda: deque(maxlen=trail))

    def draw(self, frame: np.ndarray, tracks: list[tuple[int, np.ndarray]], label: str | None = None,
             tentative: list[tuple[int, np.ndarray]] = ()) -> np.ndarray:
        """A copy of `frame` with `tracks` (id, tlwh) drawn in full and `tentative` ones faintly."""
        out = frame.copy()
        if len(tentative):
            faint = out.copy()
            for track_id, (x, y, w, h) in tentative:
                cv2.rectangle(faint, (int(x), int(y)), (int(x + w), int(y + h)), id_colour(track_id), 1,
                              cv2.LINE_AA)
            out = cv2.addWeighted(faint, TENTATIVE_ALPHA, out, 1 - TENTATIVE_ALPHA, 0)
        for track_id, (x, y, w, h) in tracks:
            colour = id_colour(track_id)
            self.trails[track_id].append((int(x + w / 2), int(y + h)))
            pts = np.array(self.trails[track_id], np.int32)
            if len(pts) > 1:
                cv2.polylines(out, [pts], False, colour, 2, cv2.LINE_AA)
            cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, 2)
            text = str(track_id)
            (tw, th), _ = cv2.getTextSize(text, FONT, 0.5, 1)
            cv2.rectangle(out, (int(x), int(y) - th - 4), (int(x) + tw + 4, int(y)), colour, -1)
            cv2.putText(out, text, (int(x) + 2, int(y) - 3), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        if label:
            draw_label(out, label, (10, 22))
        return out


def dashed_rectangle(img: np.ndarray, top_left: tuple[int, int], bottom_right: tuple[int, int],
                     colours: tuple[tuple[int, int, int], ...] = ((255, 255, 255), (0, 0, 0)),
                     dash: int = 6, thickness: int = 2) -> None:
    """A rectangle of dashes cycling through `colours` (in place): white-and-black dashes stay
    visible on any background and look like no track's solid coloured box."""
    (x0, y0), (x1, y1) = top_left, bottom_right
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    k = 0
    for (ax, ay), (bx, by) in zip(corners, corners[1:]):
        length = max(abs(bx - ax), abs(by - ay))
        for start in range(0, max(length, 1), dash):
            end = min(start + dash, length)
            p = (ax + (bx - ax) * start // max(length, 1), ay + (by - ay) * start // max(length, 1))
            q = (ax + (bx - ax) * end // max(length, 1), ay + (by - ay) * end // max(length, 1))
            cv2.line(img, p, q, colours[k % len(colours)], thickness, cv2.LINE_AA)
            k += 1
