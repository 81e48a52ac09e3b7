"""The VAE of VHP-FMVAE: VGG16 encoder, transposed-conv decoder, hierarchical prior.

Networks follow the MOT16 column of the FMVAE paper's Table 3. Two presets: `paper` (full-width
VGG16, decoder 256..16) and `cpu`, narrow enough to train usefully in minutes on two cores.
The descriptor used for tracking is the posterior mean.

A second architecture, `mlp`, replaces both networks by fully connected ones, as the paper did
for its pendulum experiment: VGG16 pools five times and so needs images a multiple of 32 px,
while the pendulum images are 16x16.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from appearance.crops.patches import FITS
from appearance.model.hierarchical_prior import HierarchicalPrior
from appearance.model.vgg import VGG16Trunk

N_POOLS = 5  # VGG16 halves the resolution five times
ARCHITECTURES = ("vgg", "mlp")
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus}


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
    # "vgg": VGG16 trunk + transposed-conv decoder; "mlp": fully connected encoder and decoder
    # (any image size; width and decoder_channels are then unused).
    architecture: str = "vgg"
    mlp_hidden: tuple[int, ...] = (512, 512)
    mlp_activation: str = "tanh"            # tanh: a smooth decoder, so a smooth metric G(z)
    # How the training crops' boxes became squares (appearance.crops.patches.FITS): a descriptor
    # must cut its tracking-time crops the same way.
    crop_fit: str = "stretch"

    def __post_init__(self):
        if self.crop_fit not in FITS:
            raise ValueError(f"unknown crop_fit {self.crop_fit!r}; choose one of {', '.join(FITS)}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.architecture == "mlp":
            if self.mlp_activation not in ACTIVATIONS:
                raise ValueError(f"unknown mlp_activation {self.mlp_activation!r}; choose one of "
                                 f"{', '.join(ACTIVATIONS)}")
            if not self.mlp_hidden or min(self.mlp_hidden) < 1:
                raise ValueError(f"mlp_hidden needs at least one positive size, got {self.mlp_hidden}")
            return
        if self.image_size % 2 ** N_POOLS:
            raise ValueError(f"image_size must be a multiple of {2 ** N_POOLS} for the VGG16 encoder, got "
                             f"{self.image_size} (architecture 'mlp' takes any size)")
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
        d = dict(d)   # fields added later (architecture, mlp_*) take their defaults when absent
        for key in ("decoder_channels", "prior_hidden", "mlp_hidden"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


def _mlp(sizes: tuple[int, ...], activation: str) -> nn.Sequential:
    """Linear layers through `sizes`, each followed by the activation."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """q(z|x): VGG16 trunk (or an MLP), flattened, then linear heads to the mean and log-variance."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        if cfg.architecture == "mlp":
            self.mlp = _mlp((cfg.channels * cfg.image_size ** 2, *cfg.mlp_hidden), cfg.mlp_activation)
            n_in = cfg.mlp_hidden[-1]
        else:
            self.vgg = VGG16Trunk(cfg.width, cfg.channels)
            side = cfg.image_size // 2 ** N_POOLS
            n_in = self.vgg.out_channels * side * side
        self.mean = nn.Linear(n_in, cfg.latent_dim)
        self.logvar = nn.Linear(n_in, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.mlp(x.flatten(1)) if hasattr(self, "mlp") else self.vgg(x).flatten(1)
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


class MLPDecoder(nn.Module):
    """p(x|z) mean for the `mlp` architecture: hidden layers in reverse order, then a linear map
    to the image, shaped (C, S, S) like the conv decoder's output. No normalisation layers, for
    the same per-sample Jacobian reason as Decoder."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        hidden = tuple(reversed(cfg.mlp_hidden))
        self.shape = (cfg.channels, cfg.image_size, cfg.image_size)
        self.body = _mlp((cfg.latent_dim, *hidden), cfg.mlp_activation)
        self.out = nn.Linear(hidden[-1], cfg.channels * cfg.image_size ** 2)   # Gaussian mean

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(z)).view(-1, *self.shape)


def make_decoder(cfg: VAEConfig) -> nn.Module:
    return MLPDecoder(cfg) if cfg.architecture == "mlp" else Decoder(cfg)


class VAE(nn.Module):
    """Encoder, decoder and hierarchical prior; `embed` gives the tracking descriptor."""

    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg or VAEConfig()
        self.encoder = Encoder(self.cfg)
        self.decoder = make_decoder(self.cfg)
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
