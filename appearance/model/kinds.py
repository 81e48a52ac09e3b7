"""The kinds of learned descriptor, named once (torch-free, so command lines can list them).

A checkpoint's `kind`, `track train --model` and `--appearance KIND:CHECKPOINT` all take these
names. The VAE family are the kinds with a decoder: they have a latent geometry and the demo
trains them; supervised is the cosine-softmax baseline on ground-truth identities.
"""
from __future__ import annotations

VAE_KINDS = ("fmvae", "vhp-vae")
KINDS = (*VAE_KINDS, "supervised")
