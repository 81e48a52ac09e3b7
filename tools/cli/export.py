"""`track export`: write a checkpoint's encoder as ONNX for trackers without torch."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.io.errors import InputError

FORMATS = ("onnx",)


def register(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint's encoder (ONNX) for tracking without torch",
                       description="Write the encoder of a fmvae / vhp-vae / supervised checkpoint as an ONNX "
                                   "model with a dynamic batch axis. Input: uint8 RGB crops (N, H, W, 3); "
                                   "the checkpoint's normalisation is inside the graph; output: the "
                                   "descriptor (N, D), the posterior mean for the VAE family. Track with "
                                   "`track run --appearance onnx:FILE`, which needs onnxruntime only.")
    p.add_argument("--checkpoint", required=True, type=Path, help="checkpoint written by `track train`")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="default: %(default)s")
    p.add_argument("--out", type=Path, help="output file (default: the checkpoint's name with .onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 18)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from appearance.descriptors.onnx_export import OPSET, export_onnx
    except ImportError as exc:
        raise InputError(None, f"export needs torch ({exc.name or exc}): pip install 'vhp-fmvae-tracker[learn,onnx]'") from None
    out = args.out or args.checkpoint.with_suffix(".onnx")
    if out.resolve() == args.checkpoint.resolve():
        raise InputError(out, "the output would overwrite the checkpoint; give --out")
    if out.is_dir():
        raise InputError(out, "is a folder; give a file name")
    opset = OPSET if args.opset is None else args.opset
    if opset < 18:
        raise InputError(None, f"--opset {opset}: the exporter writes opset 18 or later")
    result = export_onnx(args.checkpoint, out, opset=opset)
    print(f"{result.kind} encoder -> {result.path} (input uint8 (N, {result.size}, {result.size}, 3), "
          f"output float32 (N, {result.dim}), opset {opset})")
    if result.max_abs_diff is not None:
        print(f"check: max |onnxruntime - torch| = {result.max_abs_diff:.2e} on 16 random crops")
    print(f"track with: track run --appearance onnx:{result.path} ...")
    return 0
