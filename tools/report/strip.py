"""A strip of frames with drawn tracks at a moment where runs disagree about a person's identity.

One image per moment: a row per run, a column per frame (just before the switch, the switch,
shortly after), all cut to the same region around the person so the boxes are large enough to
read. Each tile is drawn with tools/io/drawing.py as `track run --save-video` draws a frame (box,
ID, trail), at the tile's scale so lines stay sharp, plus the person's ground-truth box dashed
black and white (no track looks like it); the tile where a run switches is framed red, the
reference run's tile at that frame green. Wording keeps the two numberings apart: "person 3" is
a ground-truth person, "ID 7" a track of one run.

A moment whose last frame shows a track other than the one following the person on the
person's box reads as if that run switched too, so such moments are not shown (`ends_clear`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tools.eval.switches import Moment
from tools.io.drawing import TrackPainter, dashed_rectangle
from tracker.iou import iou_tlwh

TRAIL = 20          # frames of trail drawn behind each box
LABEL_WIDTH = 190   # px of the run-name column
HEADER = 26         # px of the frame-number row
SWITCH_RED = (40, 40, 230)
KEPT_GREEN = (60, 190, 60)
ON_THE_BOX = 0.3    # IoU with the person's gt box from which a track counts as lying on it


@dataclass(frozen=True)
class StripRun:
    """One row: a run's label and its result rows (frame, id, x, y, w, h)."""

    name: str
    label: str
    rows: np.ndarray


def moment_frames(moment: Moment, length: int, step: int, most: int = 5) -> list[int]:
    """Frames shown for a moment: before and at the last frame the old ID was seen, each run's
    switch frame, and `step` frames after the last switch, within 1..length (at most `most`;
    the earliest context frame goes first)."""
    switches = sorted({s.frame for s in moment.switched.values()})
    f0 = moment.first_frame
    frames = sorted({f0 - step, f0, *switches, switches[-1] + step})
    frames = [x for x in frames if 1 <= x <= length]
    while len(frames) > most:
        frames.pop(0)
    return frames


def _tracks_at(rows: np.ndarray, frame: int) -> list[tuple[int, np.ndarray]]:
    sel = rows[rows[:, 0] == frame]
    return [(int(r[1]), r[2:6]) for r in sel]


def following_ids(moment: Moment) -> dict[str, int]:
    """Per run, the track ID that follows the person once the moment is over."""
    return {**moment.kept_ids, **{n: s.new_id for n, s in moment.switched.items()}}


def ends_clear(moment: Moment, runs: list[StripRun], gt_rows: np.ndarray, frame: int) -> bool:
    """No run shows, in `frame`, a track other than the one following the person on the
    person's ground-truth box (IoU >= ON_THE_BOX)."""
    gt_rows = np.asarray(gt_rows, np.float64)
    person = gt_rows[(gt_rows[:, 0] == frame) & (gt_rows[:, 1] == moment.gt_id)]
    if not len(person):
        return True
    follows = following_ids(moment)
    for run in runs:
        rows = run.rows[(run.rows[:, 0] == frame) & (run.rows[:, 1] != follows.get(run.name, -1))]
        if len(rows) and (iou_tlwh(person[:1, 2:6], rows[:, 2:6]) >= ON_THE_BOX).any():
            return False
    return True


def _to_tile(tracks: list[tuple[int, np.ndarray]], x0: int, y0: int, sx: float,
             sy: float) -> list[tuple[int, np.ndarray]]:
    """Boxes in frame pixels -> boxes in the resized tile's pixels."""
    return [(i, np.array([(x - x0) * sx, (y - y0) * sy, w * sx, h * sy])) for i, (x, y, w, h) in tracks]


def _region(gt_boxes: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 of a window around the person's boxes, wide enough to show neighbours."""
    x0, y0 = gt_boxes[:, 0].min(), gt_boxes[:, 1].min()
    x1, y1 = (gt_boxes[:, 0] + gt_boxes[:, 2]).max(), (gt_boxes[:, 1] + gt_boxes[:, 3]).max()
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    h = max((y1 - y0) * 1.6, 60.0)
    w = max((x1 - x0) * 1.8, h * 1.1)
    w, h = min(w, width), min(h, height)
    left = int(np.clip(cx - w / 2, 0, width - w))
    top = int(np.clip(cy - h / 2, 0, height - h))
    return left, top, int(left + w), int(top + h)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.5,
          colour: tuple[int, int, int] = (235, 235, 235)) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def render_moment(moment: Moment, runs: list[StripRun], gt_rows: np.ndarray,
                  frames: dict[int, np.ndarray], shown: list[int], tile_height: int = 160) -> np.ndarray:
    """The strip image (BGR uint8) for one moment; `frames` maps frame number -> BGR image."""
    gt_rows = np.asarray(gt_rows, np.float64)
    person = gt_rows[(gt_rows[:, 1] == moment.gt_id) & np.isin(gt_rows[:, 0], shown)]
    if not len(person):
        person = gt_rows[gt_rows[:, 1] == moment.gt_id]
    height, width = next(iter(frames.values())).shape[:2]
    x0, y0, x1, y1 = _region(person[:, 2:6], width, height)
    scale = tile_height / max(y1 - y0, 1)
    tile_width = max(int(round((x1 - x0) * scale)), 1)
    sx, sy = tile_width / max(x1 - x0, 1), tile_height / max(y1 - y0, 1)
    rows_out = []
    header = np.full((HEADER, LABEL_WIDTH + len(shown) * (tile_width + 4), 3), 32, np.uint8)
    _text(header, f"person {moment.gt_id} (dashed)", (8, 18))
    switch_frames = {sw.frame for sw in moment.switched.values()}
    for j, f in enumerate(shown):
        tag = f"frame {f}" + ("  (switch)" if f in switch_frames else "")
        _text(header, tag, (LABEL_WIDTH + j * (tile_width + 4) + 6, 18))
    rows_out.append(header)
    for run in runs:
        switch = moment.switched.get(run.name)
        label = np.full((tile_height, LABEL_WIDTH, 3), 32, np.uint8)
        words = run.label.split()
        line, y = "", 24
        for w in words:                      # wrap the label into the column
            if cv2.getTextSize(line + " " + w, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)[0][0] > LABEL_WIDTH - 12 and line:
                _text(label, line, (8, y))
                line, y = w, y + 20
            else:
                line = (line + " " + w).strip()
        _text(label, line, (8, y))
        if switch is not None:
            _text(label, f"ID {switch.old_id} -> ID {switch.new_id}", (8, y + 26), 0.5, SWITCH_RED)
            _text(label, f"at frame {switch.frame}", (8, y + 46), 0.5, SWITCH_RED)
        elif run.name in moment.kept:
            _text(label, f"keeps ID {moment.kept_ids[run.name]}" if run.name in moment.kept_ids
                  else "keeps one ID", (8, y + 26), 0.5, KEPT_GREEN)
        tiles = [label]
        for f in shown:
            painter = TrackPainter(trail=TRAIL)
            blank = np.zeros((1, 1, 3), np.uint8)
            for past in range(max(1, f - TRAIL), f):   # build the trails without drawing frames
                painter.draw(blank, _to_tile(_tracks_at(run.rows, past), x0, y0, sx, sy))
            crop = cv2.resize(frames[f][y0:y1, x0:x1], (tile_width, tile_height), interpolation=cv2.INTER_AREA)
            g = gt_rows[(gt_rows[:, 0] == f) & (gt_rows[:, 1] == moment.gt_id)]
            for _, (x, y_, w, h) in _to_tile([(0, b) for b in g[:, 2:6]], x0, y0, sx, sy):
                # under the tracks, so their ID tags stay readable; 3 px outside their boxes
                dashed_rectangle(crop, (int(x) - 3, int(y_) - 3), (int(x + w) + 3, int(y_ + h) + 3))
            tile = painter.draw(crop, _to_tile(_tracks_at(run.rows, f), x0, y0, sx, sy))
            border = (32, 32, 32)
            if switch is not None and f == switch.frame:
                border = SWITCH_RED
            elif f in switch_frames and run.name in moment.kept:
                border = KEPT_GREEN
            tile = cv2.copyMakeBorder(tile, 0, 0, 2, 2, cv2.BORDER_CONSTANT, value=border)
            tile[:3], tile[-3:] = border, border
            tiles.append(tile)
        rows_out.append(np.concatenate(tiles, axis=1))
        rows_out.append(np.full((4, rows_out[-1].shape[1], 3), 32, np.uint8))
    return np.concatenate(rows_out[:-1], axis=0)


def collect_frames(seq, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames of a sequence, decoded in one pass (videos cannot seek reliably)."""
    out: dict[int, np.ndarray] = {}
    if not wanted:
        return out
    last = max(wanted)
    for f, image in seq.frames():
        if f in wanted:
            out[f] = image
        if f >= last:
            break
    return out
