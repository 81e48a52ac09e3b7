"""The supervised baseline: the VAE's encoder trained on gt identities with a cosine-softmax head.

It stands in for DeepSORT's supervised re-identification network (Wojke & Bewley 2018 use the
same cosine-softmax classifier): same trunk, same 128-D output, only the training signal differs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from appearance.model.vae import Encoder, VAEConfig


class CosineSoftmaxNet(nn.Module):
    def __init__(self, cfg: VAEConfig, n_classes: int, scale: float = 10.0):
        super().__init__()
        self.cfg = cfg
        self.n_classes = n_classes
        self.encoder = Encoder(cfg)
        self.weight = nn.Parameter(torch.randn(n_classes, cfg.latent_dim) * 0.01)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))  # learned softmax temperature

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length features: the classifier compares directions only."""
        return F.normalize(self.encoder(x)[0], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: scaled cosine similarity to each identity's weight direction."""
        return self.log_scale.exp() * self.embed(x) @ F.normalize(self.weight, dim=1).T
