"""A user's YOLOX or YOLOv8 person detector, run by onnxruntime (no torch).

The model's one output tells the layout apart (it is probed once with a blank image when the
model opens, which also proves the model runs):

- YOLOv8 (ultralytics `export format=onnx`): (1, 4 + nc, N), rows cx, cy, w, h in input pixels,
  then nc class scores (no objectness). Input RGB scaled to [0, 1], letterboxed centred with
  grey 114 padding, as ultralytics predicts.
- YOLOX (Megvii `tools/export_onnx.py`): (1, N, 5 + nc), columns cx, cy, w, h, objectness, then nc
  class scores; score = objectness x class score. Input BGR in 0..255 (no normalisation: YOLOX
  0.2 and later, not `--legacy`), letterboxed into the top-left corner with grey 114 padding.
  Both output forms are read: decoded (`--decode_in_inference`, boxes in input pixels) and raw
  (the export's default: per-cell offsets and log sizes on the stride 8/16/32 grids, decoded
  here as YOLOX's demo_postprocess does). Raw is recognised when N is the grid count of the
  input size and the probe's box centres stay near zero instead of spreading over the image.

A layout whose shapes are ambiguous (4 + nc == N) is read as YOLOv8; the spec `yolox:FILE` or
`yolov8:FILE` (or layout=) forces one. Models with NMS inside (end-to-end exports, YOLOv10's
(1, 300, 6)) are not supported.

A box is a person when class 0 (COCO's person; a one-class model's only class) is its best class;
its score is that class's score (times objectness for YOLOX). Boxes under min_score go, then NMS
(IoU nms_iou) and the boxes are mapped back through the letterbox to frame pixels and clipped.
"""
from __future__ import annotations

import functools

from pathlib import Path

import cv2
import numpy as np

from tools.detect.detector import clip_boxes, nms
from tools.io.errors import InputError, first_line

INSTALL_HINT = "pip install 'vhp-fmvae-tracker[onnx]' (or: pip install onnxruntime)"
LAYOUTS = ("yolov8", "yolox")
DEFAULT_SIZE = (640, 640)  # (width, height) for a model whose input size is dynamic
STRIDES = (8, 16, 32)      # YOLOX's output grids
PAD_VALUE = 114


class OnnxDetector:
    """Finds people with a YOLOX / YOLOv8 ONNX model on onnxruntime's CPU provider."""

    def __init__(self, path: str | Path, size: tuple[int, int] | None = None, threads: int = 0, *,
                 min_score: float = 0.25, nms_iou: float = 0.45, layout: str | None = None) -> None:
        """size: the model input (width, height); a fixed input shape in the model wins and a
        different size is an InputError; dynamic inputs default to 640x640. threads: onnxruntime
        intra-op threads (0: its default). min_score: the least person score kept. layout:
        "yolov8" or "yolox" (None: from the output shape)."""
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError(path, f"ONNX detectors need onnxruntime: {INSTALL_HINT}") from None
        self.path = Path(path)
        self.name = self.path.stem or "onnx"
        if not self.path.is_file():
            raise InputError(self.path, "ONNX model not found")
        if layout is not None and layout not in LAYOUTS:
            raise InputError(self.path, f"unknown layout {layout!r}: choose {' or '.join(LAYOUTS)}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.log_severity_level = 3  # errors only: warnings would interleave with the progress bar
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise InputError(self.path, f"not a loadable ONNX model: {first_line(exc)}") from None
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.input_name, self.input_dtype, self.size = self._check_input(size)
        self.layout, self.decoded = self._probe(layout)

    # -- opening ----------------------------------------------------------------------------------

    def _check_input(self, size: tuple[int, int] | None) -> tuple[str, np.dtype, tuple[int, int]]:
        inputs = self.session.get_inputs()
        expected = "one float image input shaped (1, 3, H, W)"
        if len(inputs) != 1:
            raise InputError(self.path, f"the model has {len(inputs)} inputs; expected {expected}")
        inp = inputs[0]
        shape = list(inp.shape)
        dtypes = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
        if inp.type not in dtypes or len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
            raise InputError(self.path, f"input {inp.name!r} is {inp.type} {shape}; expected {expected}")
        if isinstance(shape[0], int) and shape[0] != 1:
            raise InputError(self.path, f"input {inp.name!r} has a fixed batch of {shape[0]}; expected 1 or dynamic")
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            if size is not None and tuple(size) != (w, h):
                raise InputError(self.path, f"the model's input is fixed at {w}x{h}; --detector-size "
                                            f"{size[0]}x{size[1]} does not fit it")
            return inp.name, dtypes[inp.type], (w, h)
        return inp.name, dtypes[inp.type], tuple(size) if size is not None else DEFAULT_SIZE

    def _run(self, blob: np.ndarray) -> np.ndarray:
        try:
            out = self.session.run(None, {self.input_name: blob.astype(self.input_dtype, copy=False)})[0]
        except Exception as exc:
            raise InputError(self.path, f"the model failed on a {self.size[0]}x{self.size[1]} input: "
                                        f"{first_line(exc)}") from None
        return np.asarray(out, np.float32)

    def _probe(self, forced: str | None) -> tuple[str, bool]:
        """The layout and, for YOLOX, whether the output is decoded: from a blank image's output."""
        w, h = self.size
        out = self._run(np.full((1, 3, h, w), PAD_VALUE, np.float32))
        self.out_shape = tuple(out.shape)
        if out.ndim == 2:
            out = out[None]
        if out.ndim != 3 or out.shape[0] != 1 or min(out.shape[1:]) < 5:
            raise InputError(self.path, f"the model's output is shaped {self.out_shape}; expected YOLOv8's "
                                        "(1, 4 + classes, boxes) or YOLOX's (1, boxes, 5 + classes)")
        layout = forced or ("yolov8" if out.shape[1] <= out.shape[2] else "yolox")
        if layout == "yolov8":
            return layout, True
        if out.shape[2] < 6:
            raise InputError(self.path, f"the model's output is shaped {self.out_shape}; YOLOX needs "
                                        "(1, boxes, 5 + classes) with at least one class")
        grid = _grid(w, h)
        if out.shape[1] != len(grid):
            return layout, True
        # decoded centres spread over the input; raw ones are per-cell offsets near 0..1
        return layout, bool(np.abs(out[0, :, :2]).max() > min(w, h) / 4)

    def describe(self) -> str:
        form = "" if self.layout == "yolov8" else (", decoded output" if self.decoded else ", raw output decoded here")
        return (f"{self.path.name} ({self.layout}{form}, input {self.size[0]}x{self.size[1]}, "
                f"min score {self.min_score:g}, NMS IoU {self.nms_iou:g})")

    # -- detecting --------------------------------------------------------------------------------

    def letterbox(self, image_bgr: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The (1, 3, H, W) float32 input for a frame, and (ratio, left, top): a frame pixel p
        lands at p * ratio + (left, top) in the input."""
        w, h = self.size
        fh, fw = image_bgr.shape[:2]
        r = min(w / fw, h / fh)
        if self.layout == "yolox":  # YOLOX preproc: int() sizes, top-left corner, BGR 0..255
            nw, nh = max(1, int(fw * r)), max(1, int(fh * r))
            left = top = 0
        else:  # ultralytics LetterBox: rounded sizes, centred
            nw, nh = max(1, round(fw * r)), max(1, round(fh * r))
            left, top = round((w - nw) / 2 - 0.1), round((h - nh) / 2 - 0.1)
        canvas = np.full((h, w, 3), PAD_VALUE, np.uint8)
        resized = image_bgr if (nw, nh) == (fw, fh) else cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        canvas[top:top + nh, left:left + nw] = resized
        if self.layout == "yolox":
            blob = canvas.transpose(2, 0, 1).astype(np.float32)
        else:
            blob = canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
        return np.ascontiguousarray(blob[None]), r, float(left), float(top)

    def decode(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes (cx, cy, w, h in input pixels) and scores from the model's output."""
        out = out[0] if out.ndim == 3 else out
        if self.layout == "yolov8":
            pred = out.T  # (N, 4 + nc)
            cls = pred[:, 4:]
            score = cls[:, 0]
        else:
            pred = out
            if not self.decoded:
                pred = pred.copy()
                grid = _grid(*self.size)
                pred[:, :2] = (pred[:, :2] + grid[:, :2]) * grid[:, 2:]
                pred[:, 2:4] = np.exp(pred[:, 2:4]) * grid[:, 2:]
            cls = pred[:, 5:]
            score = pred[:, 4] * cls[:, 0]
        person = (np.argmax(cls, axis=1) == 0) & (score >= self.min_score)
        return pred[person, :4].astype(np.float64), score[person].astype(np.float64)

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blob, r, left, top = self.letterbox(image_bgr)
        out = self._run(blob)
        if out.ndim == 2:
            out = out[None]
        if out.shape[1:] != self.out_shape[-2:]:
            raise InputError(self.path, f"the model's output changed shape: {out.shape}, was {self.out_shape}")
        cxcywh, scores = self.decode(out)
        if len(scores) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        tlwh = np.empty_like(cxcywh)
        tlwh[:, 0] = (cxcywh[:, 0] - cxcywh[:, 2] / 2 - left) / r
        tlwh[:, 1] = (cxcywh[:, 1] - cxcywh[:, 3] / 2 - top) / r
        tlwh[:, 2:4] = cxcywh[:, 2:4] / r
        ok = np.isfinite(tlwh).all(axis=1) & np.isfinite(scores)
        tlwh, scores = tlwh[ok], scores[ok]
        order = nms(tlwh, scores, self.nms_iou)
        tlwh, scores = tlwh[order], scores[order]
        fh, fw = image_bgr.shape[:2]
        tlwh, inside = clip_boxes(tlwh, fw, fh)
        return tlwh[inside], np.clip(scores[inside], 0.0, 1.0)


@functools.lru_cache(maxsize=8)
def _grid(width: int, height: int) -> np.ndarray:
    """YOLOX's anchor points, (N, 4) rows: cell x, cell y, stride, stride; stride 8 first, row-major.
    Made once per input size (cached, read-only): raw outputs are decoded with it every frame."""
    parts = []
    for s in STRIDES:
        gh, gw = height // s, width // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        parts.append(np.stack([xs.ravel(), ys.ravel(), np.full(gh * gw, s), np.full(gh * gw, s)], axis=1))
    grid = np.concatenate(parts).astype(np.float32)
    grid.setflags(write=False)
    return grid
