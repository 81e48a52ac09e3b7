"""An exported encoder run by onnxruntime: the learned descriptor where torch is not installed.

`track export --format onnx` writes the model this expects: one input of uint8 RGB crops
(N, H, W, 3) exactly as appearance.crops.patches.crop_batch cuts them, one float32 output (N, D). The
normalisation travels inside the graph, so nothing here depends on the checkpoint. Only NumPy,
OpenCV and onnxruntime are imported (and the tracker, for its metric names).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from appearance.crops.patches import FITS, crop_batch
from tools.io.errors import InputError, first_line
from tracker.nn_matching import METRICS

INSTALL_HINT = "pip install 'vhp-fmvae-tracker[onnx]' (or: pip install onnxruntime)"


class OnnxDescriptor:
    """Embeds each frame's crops in batches with an onnxruntime CPU session."""

    def __init__(self, path: str | Path, batch_size: int = 256, threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InputError(path, f"the onnx descriptor needs onnxruntime: {INSTALL_HINT}") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(self.path, "ONNX model not found")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)  # 0: onnxruntime's default (the physical cores)
        opts.log_severity_level = 3  # errors only: warnings would interleave with the progress bar
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise InputError(self.path, f"not a loadable ONNX model: {first_line(exc)}") from None
        self.size, self.input_name = self._check_input()
        self.dim = self._check_output()
        meta = self.session.get_modelmeta().custom_metadata_map
        self.kind = meta.get("kind", "onnx")
        self.metric = meta.get("metric", "cosine")
        if self.metric not in METRICS:
            raise InputError(self.path, f"metadata metric {self.metric!r} is not one of {', '.join(METRICS)}")
        self.fit = meta.get("crop_fit", "stretch")   # files exported before the choice stretched
        if self.fit not in FITS:
            raise InputError(self.path, f"metadata crop_fit {self.fit!r} is not one of {', '.join(FITS)}")
        self.batch_size = batch_size

    def _check_input(self) -> tuple[int, str]:
        inputs = self.session.get_inputs()
        expected = "one input of uint8 RGB crops shaped (batch, H, W, 3), as `track export` writes"
        if len(inputs) != 1:
            raise InputError(self.path, f"the model has {len(inputs)} inputs; expected {expected}")
        inp = inputs[0]
        shape = list(inp.shape)
        if inp.type != "tensor(uint8)" or len(shape) != 4 or shape[3] != 3:
            raise InputError(self.path, f"input {inp.name!r} is {inp.type} {shape}; expected {expected}")
        if not (isinstance(shape[1], int) and shape[1] == shape[2] and shape[1] > 0):
            raise InputError(self.path, f"input {inp.name!r} has crop size {shape[1]}x{shape[2]}; expected a "
                                        "fixed square size")
        if isinstance(shape[0], int):
            raise InputError(self.path, f"input {inp.name!r} has a fixed batch of {shape[0]}; export it with a "
                                        "dynamic batch axis")
        return shape[1], inp.name

    def _check_output(self) -> int:
        outputs = self.session.get_outputs()
        if not outputs:
            raise InputError(self.path, "the model has no output")
        out = outputs[0]
        shape = list(out.shape)
        if out.type != "tensor(float)" or len(shape) != 2 or not isinstance(shape[1], int) or shape[1] < 1:
            raise InputError(self.path, f"output {out.name!r} is {out.type} {shape}; expected float32 (batch, D)")
        return shape[1]

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """(N, dim) float32 features of uint8 RGB crops (N, size, size, 3)."""
        crops = np.ascontiguousarray(crops, dtype=np.uint8)
        if crops.ndim != 4 or crops.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"crops must be (N, {self.size}, {self.size}, 3), got {crops.shape}")
        out = np.empty((len(crops), self.dim), np.float32)
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start:start + self.batch_size]
            result = self.session.run(None, {self.input_name: chunk})[0]
            if result.shape != (len(chunk), self.dim):
                raise InputError(self.path, f"the model gave {result.shape} for {len(chunk)} crops; "
                                            f"expected ({len(chunk)}, {self.dim})")
            out[start:start + len(chunk)] = result
        return out

    def embed(self, frame_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        if len(boxes_tlwh) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_crops(crop_batch(frame_bgr, boxes_tlwh, self.size, self.fit))


def onnx_factory(arg: str | None, batch_size: int = 256, threads: int = 0) -> OnnxDescriptor:
    """Registry constructor for `--appearance onnx:FILE` (options: batch_size, threads)."""
    if not arg:
        raise InputError(None, "--appearance onnx needs a model file: onnx:PATH (see `track export`)")
    for name, value, low in (("batch_size", batch_size, 1), ("threads", threads, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(None, f"onnx option {name} must be an integer >= {low}, got {value!r}")
    return OnnxDescriptor(arg, batch_size, threads)
