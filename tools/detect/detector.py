"""The Detector protocol, non-maximum suppression, and opening a detector from its command-line
name (`hog`, or the path of an ONNX model)."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from tools.io.errors import InputError

DETECTOR_HELP = ("hog (OpenCV's HOG people detector) or FILE.onnx (a YOLOX or YOLOv8 person detector; "
                 "yolox:FILE or yolov8:FILE forces the output layout)")


@runtime_checkable
class Detector(Protocol):
    """Finds people in one BGR frame.

    detect(image_bgr) returns (tlwh, scores): (N, 4) float64 boxes x, y, w, h in the frame's own
    pixels, inside the frame, and (N,) float64 scores in (0, 1], higher meaning surer.
    `name` is a short tag for folder names and messages ("hog", the ONNX file's stem).
    """

    name: str

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def describe(self) -> str: ...


def nms(tlwh: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, highest score first: a box whose IoU with a kept,
    higher-scored box is above the threshold goes (cv2.dnn.NMSBoxes' rule, in NumPy: OpenCV 4 and
    5 differ on the score threshold it takes)."""
    boxes = np.asarray(tlwh, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def clip_boxes(tlwh: np.ndarray, width: int, height: int, min_size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes cut to the frame, and the mask of those still at least min_size wide and high."""
    x1 = np.clip(tlwh[:, 0], 0, width)
    y1 = np.clip(tlwh[:, 1], 0, height)
    x2 = np.clip(tlwh[:, 0] + tlwh[:, 2], 0, width)
    y2 = np.clip(tlwh[:, 1] + tlwh[:, 3], 0, height)
    out = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float64)
    return out, (out[:, 2] >= min_size) & (out[:, 3] >= min_size)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """--detector-size: "640" (square) or "WxH" -> (width, height); None passes through."""
    if text is None:
        return None
    parts = str(text).lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 32 or max(values) > 8192:
        raise InputError(None, f"--detector-size must be N or WxH in pixels (32..8192), got {text!r}")
    return (values[0], values[-1])


def open_detector(spec: str, *, size: tuple[int, int] | None = None, min_score: float | None = None,
                  threads: int = 0) -> Detector:
    """The detector `spec` names: "hog", or an ONNX file (`onnx:FILE` or a path ending .onnx;
    `yolox:FILE` / `yolov8:FILE` force the output layout instead of reading it from the shape).

    size: an ONNX model's input (width, height), needed when its input shape is dynamic.
    min_score: the detector's score threshold (None: its default). A bad spec or model is an
    InputError naming it.
    """
    from tools.detect.hog import HogDetector
    from tools.detect.onnx_detector import OnnxDetector

    spec = str(spec).strip()
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise InputError(None, "the detector's least score (--min-score, --detector-min-score) must lie "
                               f"in [0, 1], got {min_score:g}")
    kw = {} if min_score is None else {"min_score": float(min_score)}
    if spec.lower() == "hog":
        if size is not None:
            raise InputError(None, "--detector-size applies to ONNX detectors only")
        return HogDetector(**kw)
    prefix, sep, rest = spec.partition(":")
    if sep and prefix.lower() in ("onnx", "yolox", "yolov8"):
        layout = None if prefix.lower() == "onnx" else prefix.lower()
        return OnnxDetector(rest, size=size, threads=threads, layout=layout, **kw)
    if Path(spec).suffix.lower() == ".onnx":
        return OnnxDetector(spec, size=size, threads=threads, **kw)
    raise InputError(None, f"unknown detector {spec!r}: choose {DETECTOR_HELP}")
