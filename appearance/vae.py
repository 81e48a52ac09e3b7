"""The VAE of VHP-FMVAE: VGG16 encoder, transposed-conv decoder, hierarchical prior.

Networks follow the MOT16 column of the FMVAE paper's Table 3. Two presets: `paper` (full-width
VGG16, decoder 256..16) and `cpu`, narrow enough to train usefully in minutes on two cores.
The descriptor used for tracking is the posterior mean.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from appearance.hierarchical_prior import HierarchicalPrior
from appearance.vgg import VGG16Trunk

N_POOLS = 5  # VGG16 halves the resolution five times


@dataclass(frozen=True)
class VAEConfig:
    """Everything needed to rebuild the networks; stored in checkpoints via to_dict()."""

    latent_dim: int = 128
    width: float = 1.0                      # VGG16 width multiplier (1.0 = ImageNet-compatible)
    image_size: int = 64
    channels: int = 3
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    prior_hidden: tuple[int, ...] = (512, 512)
    zeta_dim: int | None = None             # None: same as latent_dim
    importance_samples: int = 8             # K of the VHP bound

    def __post_init__(self):
        if self.image_size % 2 ** N_POOLS:
            raise ValueError(f"image_size must be a multiple of {2 ** N_POOLS}, got {self.image_size}")
        if self.image_size % 2 ** len(self.decoder_channels):
            raise ValueError(f"{len(self.decoder_channels)} decoder stages cannot reach {self.image_size} px")

    @classmethod
    def paper(cls, **overrides: Any) -> "VAEConfig":
        """The paper's networks: full VGG16 (about 40 crops/s here) and the 256..16 decoder."""
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> "VAEConfig":
        """Quarter-width VGG16 and a half-width decoder: the two-core default.

        At width 0.25 the trunk costs 1/16 of the full one and the paper's decoder would then
        dominate a training step (and, more so, the flatness term, which differentiates the
        decoder twice); halving the decoder channels quarters its cost. Latent size, prior and
        K stay as in the paper so the objective is the same.
        """
        base = dict(width=0.25, decoder_channels=(128, 64, 32, 16, 8))
        base.update(overrides)
        return cls(**base)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "VAEConfig":
        presets = {"paper": cls.paper, "cpu": cls.cpu}
        if name not in presets:
            raise KeyError(f"unknown VAE preset {name!r}; available: {', '.join(presets)}")
        return presets[name](**overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VAEConfig":
        d = dict(d)
        for key in ("decoder_channels", "prior_hidden"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


class Encoder(nn.Module):
    """q(z|x): VGG16 trunk, flattened, then linear heads to the mean and log-variance."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.vgg = VGG16Trunk(cfg.width, cfg.channels)
        side = cfg.image_size // 2 ** N_POOLS
        n_in = self.vgg.out_channels * side * side
        self.mean = nn.Linear(n_in, cfg.latent_dim)
        self.logvar = nn.Linear(n_in, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.vgg(x).flatten(1)
        return self.mean(h), self.logvar(h)


class Decoder(nn.Module):
    """p(x|z) mean: linear to a (C0, s, s) map, then per stage ConvTranspose2d (x2) + Conv2d, ReLU.

    No batch-norm on purpose: each output depends on its own latent only, so a batched
    Jacobian-vector product is the per-sample one the flatness term needs.
    """

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        chans = tuple(cfg.decoder_channels)
        self.start_channels = chans[0]
        self.start_side = cfg.image_size // 2 ** len(chans)
        self.fc = nn.Linear(cfg.latent_dim, chans[0] * self.start_side ** 2)
        layers: list[nn.Module] = [nn.ReLU()]
        c_in = chans[0]
        for c_out in chans:
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.ReLU(),
                       nn.Conv2d(c_out, c_out, kernel_size=3, padding=1), nn.ReLU()]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, cfg.channels, kernel_size=3, padding=1))  # Gaussian mean
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(-1, self.start_channels, self.start_side, self.start_side)
        return self.body(h)


class VAE(nn.Module):
    """Encoder, decoder and hierarchical prior; `embed` gives the tracking descriptor."""

    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg or VAEConfig()
        self.encoder = Encoder(self.cfg)
        self.decoder = Decoder(self.cfg)
        self.prior = HierarchicalPrior(self.cfg.latent_dim, self.cfg.zeta_dim, self.cfg.prior_hidden)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of q(z|x) for normalised images (B, C, H, W)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z), in the normalised image space."""
        return self.decoder(z)

    @staticmethod
    def reparameterise(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The descriptor: the posterior mean."""
        return self.encode(x)[0]
