"""ONNX export against torch: largest feature difference and embedding throughput on 64x64 crops.

    python -m tools.bench.onnx_speed [--checkpoint CKPT] [--preset cpu] [--batch 64 256]
                                     [--threads N] [--min-seconds 3]

Exports the checkpoint's encoder (without --checkpoint: a random He-initialised model of the
preset; speed does not depend on the weights) with `track export`'s code, then on the same
uint8 crops compares `OnnxDescriptor.embed_crops` (onnxruntime) with `LearnedDescriptor.embed_crops`
(torch): max |difference| over 1024 random crops, and crops/s per batch size. The two are timed in
alternation (tools.bench.throughput.time_paired) so that both see the same machine load, and both
run on the same number of threads.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from tools.bench.throughput import machine_line, time_paired


def random_checkpoint(path: Path, preset: str) -> Path:
    from appearance.model.checkpoint import save_checkpoint
    from appearance.training.initialisation import initialise_weights
    from appearance.model.vae import VAE, VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig.preset(preset)
    model = VAE(cfg)
    initialise_weights(model)  # features that vary between crops, unlike PyTorch's default init
    save_checkpoint(path, {"kind": "fmvae", "model_config": cfg.to_dict(), "model": model.state_dict(),
                           "norm": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, "step": 0})
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, help="default: a random model of --preset")
    p.add_argument("--preset", default="cpu", choices=("cpu", "paper"))
    p.add_argument("--batch", type=int, nargs="+", default=[64, 256])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--min-seconds", type=float, default=3.0)
    args = p.parse_args(argv)

    from appearance.descriptors.onnx_export import export_onnx
    from appearance.descriptors.learned import LearnedDescriptor
    from appearance.descriptors.onnx_runtime import OnnxDescriptor

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or random_checkpoint(Path(tmp) / "model.pt", args.preset)
        exported = export_onnx(ckpt, Path(tmp) / "model.onnx")
        ref = LearnedDescriptor(ckpt)
        runtime = OnnxDescriptor(exported.path, threads=args.threads)
        rng = np.random.default_rng(0)
        crops = rng.integers(0, 256, (1024, ref.size, ref.size, 3), dtype=np.uint8)
        a, b = runtime.embed_crops(crops), ref.embed_crops(crops)
        diff = float(np.abs(a - b).max())
        print(f"# {machine_line()}; onnxruntime threads {args.threads}")
        print(f"# {ckpt if args.checkpoint else 'random ' + args.preset + ' preset'}: {exported.kind}, "
              f"{ref.dim}-D, crops {ref.size}x{ref.size}")
        print(f"max |onnxruntime - torch| over {len(crops)} crops: {diff:.2e} "
              f"(features' mean |value| {float(np.abs(b).mean()):.3g})")
        print("| batch | torch crops/s | onnxruntime crops/s | onnx / torch |")
        print("|---|---|---|---|")
        for batch in args.batch:
            chunk = crops[:batch]
            ref.batch_size = runtime.batch_size = batch
            t_onnx, t_torch, ratio = time_paired(lambda: runtime.embed_crops(chunk),
                                                 lambda: ref.embed_crops(chunk), args.min_seconds)
            print(f"| {batch} | {batch / t_torch:,.0f} | {batch / t_onnx:,.0f} | {ratio:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
