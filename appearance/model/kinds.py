"""The kinds of learned descriptor, named once (torch-free, so command lines can list them).

A checkpoint's `kind`, `track train --model` and `--appearance KIND:CHECKPOINT` all take these
names. The VAE family are the kinds with a decoder: they have a latent geometry and the demo
trains them. The classifier kinds share one network (the VAE's encoder under a cosine-softmax
head) and differ only in where their identities come from: supervised reads ground truth,
tracklet reads the strict IoU tracklets of the detections themselves (no labels).
"""
from __future__ import annotations

VAE_KINDS = ("fmvae", "vhp-vae")
CLASSIFIER_KINDS = ("supervised", "tracklet")
KINDS = (*VAE_KINDS, *CLASSIFIER_KINDS)
LABEL_FREE_KINDS = ("fmvae", "vhp-vae", "tracklet")

PRETTY = {"fmvae": "FMVAE", "vhp-vae": "VHP-VAE", "supervised": "supervised", "tracklet": "tracklet"}
