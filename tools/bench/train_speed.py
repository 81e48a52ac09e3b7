"""Training steps per second with and without the flatness term, measured side by side.

    python -m tools.bench.train_speed [--preset cpu] [--probes 1 2] [--flat-batch 16 64]
                                      [--tracklet-classes 166] [--threads N] [--repeat 15]

A step is what `track train` does per batch: the objective's forward (VHP terms, plus the
probe penalty for FMVAE), backward and an Adam update, on a random batch of 64x64 crops (speed
does not depend on the pixels). The variants run round-robin in one process, so a slower moment
of a shared machine hits all of them alike; the table gives medians and each variant's cost
relative to the VHP-VAE step measured in the same rounds. The targets: one probe costs at
most 1.6x a VHP-VAE step, and the tracklet term (`--tracklet-weight`, a cosine-softmax head on
the posterior means over --tracklet-classes identities) at most 1.2x the step without it.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from appearance.training.config import PRESETS
from appearance.training.initialisation import initialise_weights
from appearance.training.objective import Objective
from appearance.model.vae import VAE, VAEConfig


def make_step(preset: str, eta: float, probes: int, flat_batch: int, batch: int, classes: int = 0):
    """A closure doing one optimiser step of a fresh model; the model is built once. classes > 0
    adds the tracklet term over that many identities (every other batch item labelled)."""
    torch.manual_seed(0)
    model = initialise_weights(VAE(VAEConfig.preset(preset)))
    objective = Objective(model, "fmvae" if eta > 0 else "vhp-vae", kappa2=PRESETS[preset]["kappa2"],
                          eta=eta, flat_batch=flat_batch, probes=probes, tracklet_weight=1.0 if classes else 0.0,
                          n_classes=classes)
    optimizer = torch.optim.Adam(objective.parameters(), lr=PRESETS[preset]["lr"])
    x = torch.randn(batch, 3, model.cfg.image_size, model.cfg.image_size)
    labels = torch.where(torch.arange(batch) % 2 == 0, torch.arange(batch) % max(classes, 1), -1) if classes else None
    lam = PRESETS[preset]["lambda0"]

    def step() -> None:
        out = objective(x, labels, lam)
        optimizer.zero_grad(set_to_none=True)
        out["loss"].backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu", choices=("cpu", "paper"))
    ap.add_argument("--batch", type=int, default=64, help="crops per step (default: %(default)s)")
    ap.add_argument("--probes", type=int, nargs="+", default=[1, 2], help="probe counts to time")
    ap.add_argument("--flat-batch", type=int, nargs="+", default=[16, 64],
                    help="batch items the penalty is evaluated on (default: %(default)s)")
    ap.add_argument("--eta", type=float, default=300.0)
    ap.add_argument("--tracklet-classes", type=int, default=166,
                    help="identities of the tracklet-term variants (default: %(default)s, the MOT15 pair's; "
                         "0 leaves them out)")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--repeat", type=int, default=15, help="timed rounds (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = {"VHP-VAE": make_step(args.preset, 0.0, 1, 1, args.batch)}
    for fb in args.flat_batch:
        for k in args.probes:
            variants[f"FMVAE, {k} probe(s), penalty on {fb}/{args.batch}"] = make_step(
                args.preset, args.eta, k, min(fb, args.batch), args.batch)
    if args.tracklet_classes:
        k, fb = args.probes[0], min(args.flat_batch[0], args.batch)
        variants["VHP-VAE + tracklet term"] = make_step(args.preset, 0.0, 1, 1, args.batch, args.tracklet_classes)
        plain = f"FMVAE, {k} probe(s), penalty on {fb}/{args.batch}"
        variants[plain + " + tracklet term"] = make_step(args.preset, args.eta, k, fb, args.batch,
                                                         args.tracklet_classes)
    for step in variants.values():   # warm-up: allocator, first-call dispatch
        step()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, step in variants.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["VHP-VAE"])
    print(f"preset {args.preset}, batch {args.batch}, {torch.get_num_threads()} torch thread(s), "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}; "
          f"median of {args.repeat} rounds")
    print("| variant | s/step | steps/s | cost vs VHP-VAE |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.3f} | {1 / med:.2f} | {med / base:.2f}x |")
    for name in [n for n in times if n.endswith(" + tracklet term")]:
        without = name.removesuffix(" + tracklet term")
        ratio = statistics.median(times[name]) / statistics.median(times[without])
        print(f"tracklet term on {without}: {ratio:.2f}x its step (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
