"""Embedding throughput of the learned descriptor presets, against what this machine's convolutions reach.

    python -m tools.bench.throughput [--presets cpu paper] [--batch 64 256] [--threads N]
                                     [--min-seconds 2]

For each VAE preset (random weights: speed does not depend on them) and batch size it times
`LearnedDescriptor.embed_crops` on uint8 RGB crops, the path tracking takes (normalisation and
encoder, posterior mean). It counts the encoder's FLOPs with forward hooks (2 * Cin/groups * Cout
* kh * kw * Hout * Wout per Conv2d, 2 * in * out per Linear; ReLU, pooling and normalisation are
not counted) and turns crops/s into achieved GFLOP/s. In the same run it measures a reference:
single 3x3 convolutions of VGG16's own layer shapes (batch 64; the best is the reference) and a
large matmul, so the ratio says how much of the machine's convolution speed the whole descriptor
gets, whatever the machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch
from torch import nn


def count_flops(module: nn.Module, run: Callable[[], object], batch: int) -> dict[str, float]:
    """FLOPs per sample of the Conv2d / ConvTranspose2d / Linear layers `run()` calls in `module`.

    Multiply-adds count two FLOPs; biases, activations and pooling are left out (each well under
    1% of a VGG's convolutions).
    """
    totals = {"conv": 0.0, "linear": 0.0}

    def conv_hook(m: nn.Conv2d, inputs, output) -> None:
        k = m.kernel_size[0] * m.kernel_size[1]
        totals["conv"] += 2.0 * (m.in_channels // m.groups) * k * output[0].numel()

    def deconv_hook(m: nn.ConvTranspose2d, inputs, output) -> None:
        # every input pixel is scattered into kh*kw*Cout/groups outputs
        k = m.kernel_size[0] * m.kernel_size[1]
        totals["conv"] += 2.0 * (m.out_channels // m.groups) * k * inputs[0][0].numel()

    def linear_hook(m: nn.Linear, inputs, output) -> None:
        totals["linear"] += 2.0 * m.in_features * output.numel() / batch

    handles = []
    for m in module.modules():
        if isinstance(m, nn.ConvTranspose2d):
            handles.append(m.register_forward_hook(deconv_hook))
        elif isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        with torch.inference_mode():
            run()
    finally:
        for h in handles:
            h.remove()
    totals["total"] = totals["conv"] + totals["linear"]
    return totals


def time_call(fn: Callable[[], object], min_seconds: float, min_repeats: int = 3) -> float:
    """Median seconds per call after one warm-up call, repeated for at least min_seconds."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# (channels, side) of VGG16's 3x3 convolutions on a 64x64 crop, one per resolution stage
REFERENCE_CONVS = ((64, 64), (128, 32), (256, 16), (512, 8), (512, 4))


def time_paired(fn: Callable[[], object], ref: Callable[[], object], min_seconds: float,
                min_pairs: int = 5) -> tuple[float, float, float]:
    """(median seconds of fn, median seconds of ref, median of the per-pair time ratios ref/fn).

    fn and a block of ref calls lasting about as long alternate, so both sides of each ratio
    see the same machine load: on a shared machine throughput drifts by 2x within a minute, and
    separately timed figures would carry that drift into the ratio.
    """
    fn()
    ref()
    t0 = time.perf_counter()
    fn()
    t_fn = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref()
    reps = max(1, round(t_fn / max(time.perf_counter() - t0, 1e-9)))
    fn_times, ref_times = [], []
    start = time.perf_counter()
    while len(fn_times) < min_pairs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        for _ in range(reps):
            ref()
        fn_times.append(t1 - t0)
        ref_times.append((time.perf_counter() - t1) / reps)
    ratios = [r / f for f, r in zip(fn_times, ref_times)]
    return statistics.median(fn_times), statistics.median(ref_times), statistics.median(ratios)


def make_reference_conv(c: int, side: int, batch: int = 64) -> tuple[Callable[[], object], float]:
    """A call running one c->c 3x3 convolution on (batch, c, side, side), and its FLOPs."""
    conv = nn.Conv2d(c, c, 3, padding=1)
    x = torch.randn(batch, c, side, side)

    def call() -> None:
        with torch.inference_mode():
            conv(x)

    return call, 2.0 * c * 9 * c * side * side * batch


def reference_gflops(min_seconds: float, batch: int = 64) -> dict[str, float]:
    """GFLOP/s of single large convolutions (VGG16's own layer shapes, batch 64) and of a matmul.

    The best convolution is the machine's reference: what one well-shaped layer reaches with
    this torch build (oneDNN) on these threads.
    """
    torch.manual_seed(0)
    out = {}
    with torch.inference_mode():
        for c, side in REFERENCE_CONVS:
            call, flops = make_reference_conv(c, side, batch)
            out[f"Conv2d {c}->{c} 3x3 on {batch}x{c}x{side}x{side}"] = flops / time_call(call, min_seconds) / 1e9
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        out["matmul 2048^3 float32"] = 2.0 * 2048 ** 3 / time_call(lambda: a @ b, min_seconds) / 1e9
    return out


def bench_preset(name: str, batches: list[int], min_seconds: float, workdir: Path,
                 reference: tuple[Callable[[], object], float]) -> list[dict]:
    """crops/s and GFLOP/s of embed_crops for one preset at each batch size, each timed
    alternately with the reference convolution (whose GFLOP/s is returned alongside)."""
    from appearance.model.checkpoint import save_checkpoint
    from appearance.descriptors.learned import LearnedDescriptor
    from appearance.model.vae import VAE, VAEConfig

    torch.manual_seed(0)
    cfg = VAEConfig.preset(name)
    model = VAE(cfg)
    path = workdir / f"{name}.pt"
    save_checkpoint(path, {"kind": "fmvae", "model_config": cfg.to_dict(), "model": model.state_dict(),
                           "norm": {"mean": [0.5] * 3, "std": [0.25] * 3}, "step": 0})
    desc = LearnedDescriptor(path)
    one = torch.zeros(1, cfg.channels, cfg.image_size, cfg.image_size)
    flops = count_flops(desc.model.encoder, lambda: desc.model.embed(one), 1)
    params = sum(p.numel() for p in desc.model.encoder.parameters())
    rng = np.random.default_rng(0)
    rows = []
    for b in batches:
        desc.batch_size = b
        crops = rng.integers(0, 256, (b, cfg.image_size, cfg.image_size, cfg.channels), dtype=np.uint8)
        sec, ref_sec, time_ratio = time_paired(lambda: desc.embed_crops(crops), reference[0], min_seconds)
        rate = b / sec
        # achieved / reference GFLOP/s of each pair = (flops / t_fn) / (ref_flops / t_ref)
        ratio = time_ratio * b * flops["total"] / reference[1]
        rows.append({"preset": name, "width": cfg.width, "batch": b, "crops_s": rate,
                     "mflop_crop": flops["total"] / 1e6, "params_m": params / 1e6,
                     "gflops": rate * flops["total"] / 1e9, "ref_gflops": reference[1] / ref_sec / 1e9,
                     "ratio": ratio})
    return rows


def machine_line() -> str:
    return (f"{platform.platform()}; {platform.processor() or platform.machine()}; "
            f"{os.cpu_count()} logical cores; Python {platform.python_version()}; torch {torch.__version__}; "
            f"torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}); "
            f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}")


def _cpu_model() -> str:
    from tools.io.machine import cpu_model

    return cpu_model(platform.processor() or "unknown CPU")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["cpu", "paper"], choices=("cpu", "paper"))
    p.add_argument("--batch", nargs="+", type=int, default=[64, 256])
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, one per core)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="timing per measurement (default: %(default)s)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {_cpu_model()}")
    print(f"         {machine_line()}")
    ref = reference_gflops(args.min_seconds)
    for what, gf in ref.items():
        print(f"  {what:<36} {gf:8,.1f} GFLOP/s")
    best = max(range(len(REFERENCE_CONVS)), key=lambda i: list(ref.values())[i])
    c, side = REFERENCE_CONVS[best]
    print(f"reference: the fastest, Conv2d {c}->{c} on {side}x{side}, timed again in alternation with each "
          f"row; ratio = median over the alternating pairs")
    reference = make_reference_conv(c, side)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets:
            rows += bench_preset(name, args.batch, args.min_seconds, Path(tmp), reference)
    head = (f"{'preset':<7} {'width':>5} {'params':>7} {'MFLOP/crop':>10} {'batch':>5} {'crops/s':>9} "
            f"{'GFLOP/s':>8} {'ref GFLOP/s':>11} {'ratio':>6}")
    print()
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['preset']:<7} {r['width']:>5g} {r['params_m']:>6.2f}M {r['mflop_crop']:>10,.1f} "
              f"{r['batch']:>5} {r['crops_s']:>9,.0f} {r['gflops']:>8,.1f} {r['ref_gflops']:>11,.1f} "
              f"{100 * r['ratio']:>5.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
