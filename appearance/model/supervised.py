"""The classifier kinds: the VAE's encoder trained on identities with a cosine-softmax head.

It stands in for DeepSORT's supervised re-identification network (Wojke & Bewley 2018 use the
same cosine-softmax classifier): same trunk, same 128-D output, only the training signal differs.
supervised reads gt identities; tracklet reads the detections' own IoU tracklets. The same head
(`cosine_logits`) is the VAE family's optional tracklet term on the posterior means.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from appearance.model.vae import Encoder, VAEConfig


def cosine_logits(features: torch.Tensor, weight: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Scaled cosine similarity of each feature to each class's weight direction."""
    return log_scale.exp() * F.normalize(features, dim=1) @ F.normalize(weight, dim=1).T


class CosineHead(nn.Module):
    """A cosine-softmax classifier over `n_classes` for features of size `dim` (training only)."""

    def __init__(self, dim: int, n_classes: int, scale: float = 10.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))  # learned softmax temperature

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return cosine_logits(features, self.weight, self.log_scale)


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
        return cosine_logits(self.encoder(x)[0], self.weight, self.log_scale)
