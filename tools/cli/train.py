"""`track train`: train an appearance descriptor (fmvae, vhp-vae, tracklet or supervised) on crop caches.

Also runs under torchrun for data-parallel training:
    torchrun --standalone --nproc_per_node 2 -m tools.cli train --model fmvae --crops ... --out ...
"""
from __future__ import annotations

import argparse
from pathlib import Path

from appearance.model.kinds import KINDS

# The choices below repeat appearance.training.config's PRESETS, LOSS_SCALES and FLATNESS_KINDS
# and appearance.model.vae's ARCHITECTURES: those modules import torch, which `track --help`
# should not wait for. tests/appearance/test_shared_definitions.py keeps them equal.


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train an appearance descriptor on crop caches",
        description="Train VHP-FMVAE (VHP objective + eta x flatness penalty), VHP-VAE (eta = 0), the "
                    "tracklet cosine-softmax classifier (identities from the detections' own strict IoU "
                    "tracklets, no labels) or the supervised one (gt identities) on crops made by "
                    "`track crops`. Writes "
                    "OUT/checkpoint.pt (every --checkpoint-every steps and at the end), OUT/log.csv, "
                    "OUT/config.json and OUT/curves.png. Options left out take the preset's value.")
    what = p.add_argument_group("what to train")
    what.add_argument("--model", choices=KINDS,
                      help="objective (required unless --resume)")
    what.add_argument("--crops", nargs="+", type=Path, metavar="FOLDER",
                      help="crop cache folder(s) (required unless --resume); supervised uses the "
                           "crops with a ground-truth id, tracklet the detection crops on a tracklet")
    what.add_argument("--out", required=True, type=Path, metavar="DIR", help="run folder")
    what.add_argument("--preset", choices=("cpu", "paper"),
                      help="cpu: quarter-width VGG16, trains in minutes on 2 cores; paper: full VGG16, "
                           "Adam 3e-5 (default: cpu)")
    what.add_argument("--resume", action="store_true",
                      help="continue the run in --out from its checkpoint (--steps may raise the total)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--steps", type=int, help="total optimiser steps (cpu 3000, paper 100000)")
    opt.add_argument("--batch-size", type=int, help="crops per step and process (default 64)")
    opt.add_argument("--lr", type=float, help="Adam learning rate (cpu 3e-4, paper 3e-5)")
    opt.add_argument("--seed", type=int, help="seeds weights, batches and noise (default 0)")
    opt.add_argument("--no-flip", dest="flip", action="store_const", const=False,
                     help="no random horizontal flips")
    opt.add_argument("--encoder-weights", type=Path, metavar="FILE",
                     help="torchvision VGG16 state dict to start the encoder from (width 1.0 only)")
    vhp = p.add_argument_group("VHP objective and flatness term")
    vhp.add_argument("--kappa2", type=float,
                     help="reconstruction target: per-pixel MSE in normalised units (default 0.25)")
    vhp.add_argument("--lambda0", type=float, help="initial Lagrange multiplier (default 1000)")
    vhp.add_argument("--nu", type=float, help="gain of the lambda update, lambda *= exp(nu delta) (default 1; "
                                              "0.05 damps the oscillation of lambda and C, see README)")
    vhp.add_argument("--lambda-max", type=float, metavar="L",
                     help="upper clip of lambda (default 1e8); lower caps shorten its relaxation after the "
                          "early climb (with --loss-scale lambda, 1e5 already makes F negligible)")
    vhp.add_argument("--eta", type=float, help="fmvae: weight of the flatness penalty (default 300; "
                                               "the paper also used 3000)")
    vhp.add_argument("--probes", type=int, help="Rademacher probes per point for the penalty (default 1)")
    vhp.add_argument("--flat-batch", type=int, metavar="B",
                     help="batch items the penalty is evaluated on, an unbiased sub-sample (default 16)")
    vhp.add_argument("--a0", type=float, help="latent mixup reach past the segment ends (default 0.2)")
    vhp.add_argument("--loss-scale", choices=("none", "lambda"),
                     help="none: back-propagate the loss (default); lambda: loss / max(lambda, 1), so "
                          "Adam does not stall after lambda's early climb (wants a far smaller --eta)")
    vhp.add_argument("--flatness", choices=("absolute", "relative"),
                     help="absolute: the paper's ||G - c^2 I||^2 (default); relative: divided by c^4, "
                          "invariant to the latent scale, so spreading the latents cannot lower it")
    vhp.add_argument("--flat-encoder", action="store_const", const=True,
                     help="let the penalty's gradient reach the encoder through the codes (only a smooth "
                          "decoder, --arch mlp, has one; with the ReLU vgg decoder it changes nothing)")
    vhp.add_argument("--flat-start", type=int, metavar="N",
                     help="fmvae: train the first N steps without the flatness term, as a VHP-VAE with the "
                          "same seed would, then add it (default 0: from the first step)")
    trk = p.add_argument_group("tracklet pseudo-identities (tracklet; fmvae / vhp-vae with --tracklet-weight)")
    trk.add_argument("--tracklet-weight", type=float, metavar="W",
                     help="fmvae / vhp-vae: weight, relative to the reconstruction constraint's lambda, of a "
                          "cosine-softmax term on the posterior means over tracklet identities "
                          "(default: 1 on detection crops, the best label-free recipe measured, and 0 on "
                          "any other crops; 0: the paper's objective exactly)")
    trk.add_argument("--tracklet-negatives", choices=("all", "co-occurring"),
                     help="what a crop's softmax competes against: every tracklet, or only those seen while "
                          "its own was (the rest may be the same person after an occlusion; default: co-occurring)")
    trk.add_argument("--link-iou", type=float, metavar="T",
                     help="link a detection to the previous frame's box at this IoU or more (default 0.5)")
    trk.add_argument("--ambiguity-iou", type=float, metavar="T",
                     help="drop a link when a second box overlaps either end this much (default 0.3)")
    trk.add_argument("--min-tracklet", type=int, metavar="N",
                     help="keep tracklets of at least N crops (default 8)")
    trk.add_argument("--max-gap", type=int, metavar="K",
                     help="frames a link may span, in units of the crops' --every (default 1)")
    net = p.add_argument_group("network (overrides the preset)")
    net.add_argument("--latent-dim", type=int, metavar="D", help="latent size (default 128)")
    net.add_argument("--width", type=float, metavar="W", help="VGG16 width multiplier (cpu 0.25, paper 1.0)")
    net.add_argument("--decoder-channels", type=int, nargs="+", metavar="C",
                     help="decoder stage channels (cpu 128 64 32 16 8, paper 256 128 64 32 16)")
    net.add_argument("--prior-hidden", type=int, nargs="+", metavar="H",
                     help="hidden sizes of the prior's MLPs (default 512 512)")
    net.add_argument("--arch", choices=("vgg", "mlp"),
                     help="vgg: VGG16 encoder + conv decoder, crops a multiple of 32 px (default); mlp: "
                          "fully connected networks for small images such as `track pendulum`'s 16x16")
    net.add_argument("--mlp-hidden", type=int, nargs="+", metavar="H",
                     help="--arch mlp: hidden layer sizes, mirrored in the decoder (default 512 512)")
    run = p.add_argument_group("running")
    run.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (default 200)")
    run.add_argument("--device", choices=("cpu", "cuda"), help="default: cpu")
    run.add_argument("--threads", type=int, metavar="T", help="torch CPU threads (default: torch's choice)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_command)


def _changes(args: argparse.Namespace) -> dict:
    """The options given on the command line (None where left out), as TrainConfig fields."""
    overrides = {k: v for k, v in (("latent_dim", args.latent_dim), ("width", args.width),
                                   ("decoder_channels", args.decoder_channels),
                                   ("prior_hidden", args.prior_hidden), ("architecture", args.arch),
                                   ("mlp_hidden", args.mlp_hidden)) if v is not None}
    return {
        "model": args.model,
        "crops": None if args.crops is None else [str(c) for c in args.crops],
        "preset": args.preset, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
        "eta": args.eta, "kappa2": args.kappa2, "lambda0": args.lambda0, "nu": args.nu, "lambda_max": args.lambda_max, "probes": args.probes,
        "flat_batch": args.flat_batch, "a0": args.a0,
        "flatness": args.flatness, "loss_scale": args.loss_scale, "flat_encoder": args.flat_encoder,
        "flat_start": args.flat_start,
        "tracklet_weight": args.tracklet_weight, "link_iou": args.link_iou,
        "ambiguity_iou": args.ambiguity_iou, "min_tracklet": args.min_tracklet, "max_gap": args.max_gap,
        "tracklet_negatives": args.tracklet_negatives,
        "seed": args.seed, "flip": args.flip,
        "encoder_weights": None if args.encoder_weights is None else str(args.encoder_weights),
        "model_overrides": overrides or None,
        "checkpoint_every": args.checkpoint_every, "device": args.device, "threads": args.threads,
        "progress": False if args.quiet else None,
    }


def run_command(args: argparse.Namespace) -> int:
    from tools.track.descriptors import train_descriptor

    return train_descriptor(args.out, _changes(args), resume=args.resume)
