"""Exporting a checkpoint's encoder to ONNX, so trackers can embed crops without torch.

The exported graph takes what appearance.crops.patches.crop_batch gives: uint8 RGB crops (N, H, W, 3),
any N. It converts them to float, applies the checkpoint's normalisation and returns the
descriptor, the posterior mean (VAE family) or the unit feature (supervised), float32 (N, D).
Metadata in the file (kind, metric, crop size, normalisation, source) says what it holds.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from appearance.descriptors.learned import LearnedDescriptor
from appearance.model.kinds import VAE_KINDS
from appearance.model.normalise import standardise
from tools.io.atomic import atomic_write_bytes
from tools.io.errors import InputError

FORMAT = "vhp-fmvae-tracker/onnx-1"
OPSET = 18  # onnxruntime 1.14 and later run it
INPUT, OUTPUT = "crops", "embedding"


class CropEncoder(nn.Module):
    """uint8 RGB crops (N, H, W, 3) -> the descriptor, normalisation included."""

    def __init__(self, descriptor: LearnedDescriptor) -> None:
        super().__init__()
        self.model = descriptor.model
        self.register_buffer("mean", descriptor._mean.clone())
        self.register_buffer("std", descriptor._std.clone())

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        # the same steps as LearnedDescriptor.to_tensor, traced into the graph
        return self.model.embed(standardise(crops.permute(0, 3, 1, 2), self.mean, self.std))


@dataclass
class ExportResult:
    path: Path
    kind: str
    dim: int
    size: int
    max_abs_diff: float | None  # onnxruntime vs torch on random crops; None without onnxruntime


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = OPSET,
                check_crops: int = 16) -> ExportResult:
    """Write the encoder of `checkpoint` to `out` (atomically) and compare it with torch."""
    try:
        import onnx
    except ImportError:
        raise InputError(None, "export needs the onnx packages: pip install 'vhp-fmvae-tracker[onnx]'") from None
    descriptor = LearnedDescriptor(checkpoint)
    module = CropEncoder(descriptor).eval()
    size = descriptor.size
    example = torch.randint(0, 256, (2, size, size, 3), dtype=torch.uint8)
    model_proto = _export(module, example, opset)
    meta = {
        "format": FORMAT,
        "kind": descriptor.kind,
        "metric": descriptor.metric,
        "crop_size": str(size),
        "crop_fit": descriptor.fit,
        "input": f"{INPUT}: uint8 RGB (batch, {size}, {size}, 3), crops cut and resized with INTER_AREA"
                 + (", aspect kept, padded with grey to the square" if descriptor.fit == "pad" else ""),
        "output": f"{OUTPUT}: float32 (batch, {descriptor.dim}), "
                  + ("the posterior mean" if descriptor.kind in VAE_KINDS else "unit-length features"),
        "norm_mean": ",".join(f"{v:.9g}" for v in descriptor._mean.flatten().tolist()),
        "norm_std": ",".join(f"{v:.9g}" for v in descriptor._std.flatten().tolist()),
        "normalisation": "inside the graph: (crop / 255 - norm_mean) / norm_std per RGB channel",
        "source_checkpoint": Path(checkpoint).name,
    }
    onnx.helper.set_model_props(model_proto, meta)
    model_proto.doc_string = f"{descriptor.kind} encoder exported by `track export` ({FORMAT})"
    onnx.checker.check_model(model_proto)
    out = Path(out)
    atomic_write_bytes(out, model_proto.SerializeToString())
    diff = compare(descriptor, out, check_crops) if check_crops else None
    return ExportResult(out, descriptor.kind, descriptor.dim, size, diff)


def _export(module: nn.Module, example: torch.Tensor, opset: int):
    """torch.export-based ONNX export with a dynamic batch axis; returns an onnx ModelProto."""
    try:
        import onnxscript  # noqa: F401  (the exporter's dependency)
    except ImportError:
        raise InputError(None, "export needs onnxscript: pip install 'vhp-fmvae-tracker[onnx]'") from None
    batch = torch.export.Dim("batch", min=1)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "torchvision is not installed" notes about ops we do not use
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(module, (example,), None, input_names=[INPUT], output_names=[OUTPUT],
                                        dynamic_shapes=({0: batch},), opset_version=opset, dynamo=True,
                                        verbose=False)
    finally:
        quiet.setLevel(level)
    return program.model_proto


def compare(descriptor: LearnedDescriptor, onnx_path: str | Path, n: int = 16, seed: int = 0) -> float | None:
    """Largest |onnxruntime - torch| over the features of `n` random crops (None: no onnxruntime)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from appearance.descriptors.onnx_runtime import OnnxDescriptor

    runtime = OnnxDescriptor(onnx_path)
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (n, descriptor.size, descriptor.size, 3), dtype=np.uint8)
    return float(np.abs(runtime.embed_crops(crops) - descriptor.embed_crops(crops)).max())
