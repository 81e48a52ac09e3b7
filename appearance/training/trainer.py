"""Training of the appearance descriptors: VHP-FMVAE, VHP-VAE (eta = 0) and the supervised baseline.

One loop serves all three kinds so that they differ only in their objective:

- fmvae: the VHP Lagrangian F + lambda (C - kappa^2) plus eta times the flatness penalty,
  evaluated on the first `flat_batch` items of the batch. Batches are i.i.d. draws, so those
  items are a random subset and the sub-batch mean is an unbiased estimate of the batch mean;
  it is what keeps a step within ~1.6x of a VHP-VAE step on CPU.
- vhp-vae: the same Lagrangian with eta = 0; the penalty is not computed at all.
- supervised: CosineSoftmaxNet on crops that carry a ground-truth identity, cross-entropy.

Data: crop caches (appearance.crops.cache) are loaded into memory as uint8 and normalised with
per-channel statistics of the training crops, which travel in the checkpoint. Batches are drawn
with replacement from a seeded torch.Generator: the generator's state alone is the position in
the data stream, so a resumed run continues the very same stream.

Checkpoints (DIR/checkpoint.pt, written atomically) hold everything the next step depends on:
model, Adam state, the Lagrange multiplier, the global and batch RNG states of every rank, the
step and the train config. Resuming therefore reproduces an uninterrupted run bit for bit.

Distributed: under torchrun each process trains a replica on its own batches; gradients are
averaged by DistributedDataParallel. DDP works with the torch.func flatness term because the
whole objective (VHP terms and penalty) runs inside the wrapped module's forward and DDP's
reducer hooks fire on the parameters' accumulated gradients, after the single backward pass
has summed every path (checked: DDP gradients equal the all-reduced mean of per-rank
gradients exactly, penalty-only loss included). Rank 0 alone writes files.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from appearance.model.checkpoint import load_checkpoint, save_checkpoint
from appearance.training.flatness import flatness_penalty
from appearance.training.lagrangian import LAMBDA_CLIP, LagrangeMultiplier
from appearance.model.vae import VAE, VAEConfig
from appearance.training.vhp_loss import vhp_terms
from tools.io.atomic import atomic_write_text, remove_stale_temps
from tools.io.errors import InputError

KINDS = ("fmvae", "vhp-vae", "supervised")
CHECKPOINT, LOG, CONFIG, CURVES = "checkpoint.pt", "log.csv", "config.json", "curves.png"
LOG_COLUMNS = ("step", "loss", "F", "C", "C_hat", "lambda", "c2", "penalty", "relative",
               "latent_std", "lr", "seconds")

# Defaults per preset (see README and ../shared/DESIGN.md for the measurements behind the cpu numbers).
#   kappa2: per-pixel MSE in units of the per-channel standard deviation, so 1.0 is "predict the
#     mean colour". 0.25 asks the model to explain 75% of the pixel variance: the narrow cpu
#     networks reach it within a few hundred steps on the MOT15 detection crops, after which
#     lambda relaxes and F (the KL bound) is minimised under the constraint.
#   lambda0: C is a mean over 12288 pixel values while F is a sum over 128 latent nats; the
#     Gaussian ELBO with unit variance would weigh C by 12288 / 2. With lambda0 = 1 the KL term
#     dominates the first steps and the posterior collapses before lambda (+5%/step at most)
#     catches up. lambda0 = 1000 starts close to that ELBO weight, so reconstruction leads.
#   flat_batch 16 of 64: measured one-probe step cost 1.3-1.5x a VHP-VAE step (target <= 1.6x).
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {"steps": 3000, "batch_size": 64, "lr": 3e-4, "eta": 300.0, "kappa2": 0.25,
            "lambda0": 1000.0, "probes": 1, "flat_batch": 16},
    "paper": {"steps": 100_000, "batch_size": 64, "lr": 3e-5, "eta": 300.0, "kappa2": 0.25,
              "lambda0": 1000.0, "probes": 1, "flat_batch": 16},
}

FLATNESS_KINDS = ("absolute", "relative")
# --loss-scale lambda divides the loss by max(lambda, 1) before backward. lambda climbs to
# 1e6-1e8 while the reconstruction bound is violated early on, and Adam's second-moment estimate
# (beta2 = 0.999) remembers those gradients for thousands of steps: on a 3000-step pendulum FMVAE
# with the raw loss, the steps after lambda relaxed were ~1e-3 of their normal size and the
# flatness term never moved the decoder (a fresh Adam state moved it at once). The division keeps
# every term's relative weight and evens out the gradient scale Adam sees. It is not the default:
# the cpu preset's FMVAE (eta 300) on MOT15 crops then never learned to reconstruct in 800 steps
# (C ~ 1), while the raw loss reaches C ~ 0.26. The scaled loss wants another eta (README).
LOSS_SCALES = ("lambda", "none")
FLAT_STATS = ("c2", "penalty", "relative")    # logged only once the penalty is on (--flat-start)
# --nu: with the VHP authors' gain of 1 (../shared/DESIGN.md), lambda and C oscillate instead of
# settling; 0.05 damps it. The measurements are in the README (Latent geometry, "What made the
# difference").

# Fields that define what is trained; a resumed run must keep them. The rest (steps,
# checkpoint_every, device, threads, progress, out) may change between sessions.
RECIPE_FIELDS = ("model", "crops", "preset", "batch_size", "lr", "eta", "kappa2", "lambda0", "nu",
                 "lambda_max", "probes", "flat_batch", "a0", "flatness", "flat_encoder", "flat_start",
                 "loss_scale", "seed", "flip", "encoder_weights", "model_overrides")


@dataclass
class TrainConfig:
    """A training run. None means "the preset's default"; `resolved()` fills those in."""

    model: str
    crops: list[str]
    out: str
    preset: str = "cpu"
    steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    eta: float | None = None
    kappa2: float | None = None
    lambda0: float | None = None
    nu: float = 1.0                    # gain of the lambda update (the authors': 1)
    lambda_max: float = LAMBDA_CLIP[1]  # lambda's upper clip
    probes: int | None = None
    flat_batch: int | None = None
    a0: float = 0.2                    # mixup reach past the segment ends (FMVAE)
    flatness: str = "absolute"         # absolute: the paper's ||G - c^2 I||^2; relative: / c^4
    flat_encoder: bool = False         # let the penalty's gradient reach the encoder through z
    flat_start: int = 0                # steps trained as VHP-VAE before the penalty joins (FMVAE)
    loss_scale: str = "none"           # none: back-propagate the loss; lambda: loss / max(lambda, 1)
    seed: int = 0
    checkpoint_every: int = 200        # 0: only at the end
    flip: bool = True                  # random horizontal flips (pedestrians are symmetric)
    encoder_weights: str | None = None
    model_overrides: dict[str, Any] = field(default_factory=dict)  # VAEConfig fields over the preset
    device: str = "cpu"
    threads: int | None = None
    progress: bool = True

    def resolved(self) -> "TrainConfig":
        """A copy with preset defaults filled in and every value checked (InputError if bad)."""
        if self.model not in KINDS:
            raise InputError(None, f"unknown model {self.model!r}; choose one of {', '.join(KINDS)}")
        if self.preset not in PRESETS:
            raise InputError(None, f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        if self.model != "fmvae" and self.eta not in (None, 0, 0.0):
            raise InputError(None, f"--eta applies to fmvae only ({self.model} trains without the "
                                   f"flatness term)")
        no_penalty = self.model != "fmvae" or self.eta in (0, 0.0)
        if no_penalty and (self.flatness != "absolute" or self.flat_encoder or self.flat_start):
            raise InputError(None, "--flatness, --flat-encoder and --flat-start apply to fmvae with eta > 0 only")
        if self.model == "supervised" and self.loss_scale != "none":
            raise InputError(None, "--loss-scale applies to fmvae and vhp-vae only (supervised has no lambda)")
        values = {k: getattr(self, k) for k in PRESETS[self.preset]}
        filled = {k: PRESETS[self.preset][k] if v is None else v for k, v in values.items()}
        if self.model != "fmvae":
            filled["eta"] = 0.0
        cfg = dataclasses.replace(self, **filled, crops=[str(c) for c in self.crops],
                                  model_overrides=dict(self.model_overrides))
        checks = [
            (cfg.steps >= 1, f"--steps must be at least 1, got {cfg.steps}"),
            (cfg.batch_size >= 2, f"--batch-size must be at least 2, got {cfg.batch_size}"),
            (_finite(cfg.lr) and cfg.lr > 0, f"--lr must be positive and finite, got {cfg.lr:g}"),
            (_finite(cfg.eta) and cfg.eta >= 0, f"--eta must be non-negative and finite, got {cfg.eta:g}"),
            (_finite(cfg.kappa2) and cfg.kappa2 > 0, f"--kappa2 must be positive and finite, got {cfg.kappa2:g}"),
            (_finite(cfg.lambda0) and cfg.lambda0 > 0,
             f"--lambda0 must be positive and finite, got {cfg.lambda0:g}"),
            (_finite(cfg.nu) and cfg.nu > 0, f"--nu must be positive and finite, got {cfg.nu:g}"),
            (_finite(cfg.lambda_max) and cfg.lambda_max >= max(cfg.lambda0, 1.0),
             f"--lambda-max must be at least --lambda0 and 1, got {cfg.lambda_max:g}"),
            (cfg.probes >= 1, f"--probes must be at least 1, got {cfg.probes}"),
            (1 <= cfg.flat_batch <= cfg.batch_size,
             f"--flat-batch must lie in [1, batch size {cfg.batch_size}], got {cfg.flat_batch}"),
            (cfg.a0 >= 0, f"--a0 must be non-negative, got {cfg.a0:g}"),
            (cfg.flat_start >= 0, f"--flat-start must be non-negative, got {cfg.flat_start}"),
            (cfg.loss_scale in LOSS_SCALES,
             f"--loss-scale must be one of {', '.join(LOSS_SCALES)}, got {cfg.loss_scale!r}"),
            (cfg.flatness in FLATNESS_KINDS,
             f"--flatness must be one of {', '.join(FLATNESS_KINDS)}, got {cfg.flatness!r}"),
            (cfg.seed >= 0, f"--seed must be non-negative, got {cfg.seed}"),
            (cfg.checkpoint_every >= 0, f"--checkpoint-every must be non-negative, got {cfg.checkpoint_every}"),
            (cfg.threads is None or cfg.threads >= 1, f"--threads must be at least 1, got {cfg.threads}"),
            (cfg.device in ("cpu", "cuda"), f"--device must be cpu or cuda, got {cfg.device!r}"),
            (bool(cfg.crops), "no crop folders given (--crops)"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(None, message)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/weights_only-safe values (lists, not tuples)."""
        d = dataclasses.asdict(self)
        d["model_overrides"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["model_overrides"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _finite(v: float) -> bool:
    return math.isfinite(float(v))


RUNTIME_FIELDS = ("steps", "checkpoint_every", "device", "threads", "progress")


def resume_config(out: str | Path, changes: dict[str, Any]) -> TrainConfig:
    """The stored config of the run in `out`, with the runtime fields in `changes` applied.

    A recipe field in `changes` (None = not given) that differs from the stored run is an
    InputError: a resumed run must train the same thing to stay an exact continuation.
    """
    ckpt = Path(out) / CHECKPOINT
    payload = load_checkpoint(ckpt)
    if "train_config" not in payload:
        raise InputError(ckpt, "holds a model only, not a training state to resume")
    stored = TrainConfig.from_dict(payload["train_config"])
    conflicts = []
    for key, value in changes.items():
        if value is None or key in RUNTIME_FIELDS or key == "out":
            continue
        if key == "model_overrides":
            model_cfg = payload["model_config"]
            conflicts += [k for k, v in value.items() if _plain(model_cfg.get(k)) != _plain(v)]
        elif key == "crops":
            if [Path(c).resolve() for c in value] != [Path(c).resolve() for c in stored.crops]:
                conflicts.append("crops")
        elif _plain(getattr(stored, key)) != _plain(value):
            conflicts.append(key)
    if conflicts:
        names = ", ".join("--" + c.replace("_", "-") for c in conflicts)
        raise InputError(ckpt, f"--resume continues the stored run, which differs in {names}; drop "
                               f"those options or start a new run in another --out")
    runtime = {k: v for k, v in changes.items() if k in RUNTIME_FIELDS and v is not None}
    return dataclasses.replace(stored, out=str(out), **runtime)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


class TrainingDiverged(RuntimeError):
    """A loss or gradient became NaN/inf; no update was applied and no checkpoint written."""

    def __init__(self, step: int, bad: list[str], checkpoint: Path, checkpoint_step: int | None):
        self.step, self.bad, self.checkpoint, self.checkpoint_step = step, bad, checkpoint, checkpoint_step
        if checkpoint_step is None:
            last = "no checkpoint had been written yet"
        else:
            last = f"last good checkpoint: {checkpoint} (step {checkpoint_step})"
        super().__init__(f"training diverged at step {step}: {', '.join(bad)} not finite; stopped, {last}")


@dataclass
class TrainResult:
    step: int
    checkpoint: Path
    log: Path
    last: dict[str, float]   # the final step's logged values
    seconds: float


# ---------------------------------------------------------------------------------------------
# data

@dataclass
class TrainingData:
    """Crops in memory as (N, 3, S, S) uint8, with class indices for supervised training."""

    images: torch.Tensor
    labels: torch.Tensor | None
    classes: list[str]          # "sequence:gt_id" per class index (supervised)
    folders: list[str]
    counts: list[int]           # crops taken from each folder

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])


def load_training_data(folders: Sequence[str | Path], supervised: bool = False) -> TrainingData:
    """Read crop caches into memory. Supervised keeps crops with gt_id >= 0 and labels them by
    (sequence, gt_id): ids are only unique within a sequence, but the same sequence cut into two
    caches shows the same people."""
    from appearance.crops.cache import CropSet

    arrays, keys, counts = [], [], []
    size = None
    for folder in folders:
        cs = CropSet.load(folder)
        if size is not None and cs.size != size:
            raise InputError(folder, f"holds {cs.size}x{cs.size} crops, {folders[0]} holds {size}x{size}: "
                                     f"all crop folders must have one size")
        size = cs.size
        crops = np.asarray(cs.crops)
        if supervised:
            keep = np.asarray(cs.gt_id) >= 0
            crops = crops[keep]
            keys += [f"{s}:{int(i)}" for s, i in zip(np.asarray(cs.seq)[keep], np.asarray(cs.gt_id)[keep])]
        arrays.append(crops)
        counts.append(len(crops))
    total = sum(counts)
    if total == 0:
        if supervised:
            raise InputError(folders[0], "no crops with a ground-truth identity (gt_id >= 0): supervised "
                                         "training needs labelled crops (`track crops --source gt`)")
        raise InputError(folders[0], "the crop folders hold no crops")
    images = torch.from_numpy(np.concatenate(arrays)).permute(0, 3, 1, 2).contiguous()
    labels, classes = None, []
    if supervised:
        classes = sorted(set(keys))
        if len(classes) < 2:
            raise InputError(folders[0], f"only {len(classes)} identity among the labelled crops: "
                                         f"a classifier needs at least two")
        index = {k: i for i, k in enumerate(classes)}
        labels = torch.tensor([index[k] for k in keys], dtype=torch.int64)
    return TrainingData(images, labels, classes, [str(f) for f in folders], counts)


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of (N, 3, S, S) uint8 images in [0, 1] units, from exact integer
    sums (the result does not depend on the chunking or the thread count)."""
    total = [0, 0, 0]
    squares = [0, 0, 0]
    for start in range(0, images.shape[0], chunk):
        block = images[start:start + chunk].to(torch.int64)
        s = block.sum(dim=(0, 2, 3))
        q = (block * block).sum(dim=(0, 2, 3))
        for c in range(3):
            total[c] += int(s[c])
            squares[c] += int(q[c])
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = [t / count / 255.0 for t in total]
    std = [math.sqrt(max(count * q - t * t, 0) / count ** 2) / 255.0 for t, q in zip(total, squares)]
    return mean, [max(s, 1e-3) for s in std]


class BatchSampler:
    """i.i.d. batches (with replacement) from a seeded generator, normalised, randomly flipped."""

    def __init__(self, data: TrainingData, norm: dict[str, list[float]], batch_size: int, flip: bool,
                 generator: torch.Generator, device: torch.device):
        self.data = data
        self.mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1)
        self.batch_size = batch_size
        self.flip = flip
        self.generator = generator
        self.device = device

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.randint(len(self.data), (self.batch_size,), generator=self.generator)
        x = self.data.images[idx].float().div_(255.0)
        if self.flip:
            mirror = torch.rand(self.batch_size, generator=self.generator) < 0.5
            x = torch.where(mirror.view(-1, 1, 1, 1), x.flip(3), x)
        x = (x - self.mean) / self.std
        y = None if self.data.labels is None else self.data.labels[idx].to(self.device)
        return x.to(self.device), y


# ---------------------------------------------------------------------------------------------
# objective

class Objective(nn.Module):
    """The loss of one kind as a module, so DDP sees the whole objective in one forward."""

    def __init__(self, model: nn.Module, kind: str, kappa2: float = 1.0, eta: float = 0.0,
                 flat_batch: int = 16, probes: int = 1, a0: float = 0.2, flatness: str = "absolute",
                 flat_encoder: bool = False):
        super().__init__()
        self.model = model
        self.kind = kind
        self.kappa2, self.eta, self.flat_batch, self.probes, self.a0 = kappa2, eta, flat_batch, probes, a0
        self.scale_free = flatness == "relative"
        self.flat_encoder = flat_encoder

    def stat_names(self) -> tuple[str, ...]:
        """The detached values forward() reports besides the loss, in a fixed order."""
        if self.kind == "supervised":
            return ("loss",)
        if self.eta > 0:
            return ("loss", "F", "C", "latent_std", "c2", "penalty", "relative")
        return ("loss", "F", "C", "latent_std")

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None, lam: float,
                flat: bool = True) -> dict[str, torch.Tensor]:
        """`flat` False skips the penalty (the steps before --flat-start); its stats are then NaN."""
        if self.kind == "supervised":
            loss = F.cross_entropy(self.model(x), labels)
            return {"loss": loss}
        t = vhp_terms(self.model, x, lam, self.kappa2)
        loss = t["lagrangian"]
        out = {"F": t["F"].detach(), "C": t["C"].detach(), "latent_std": t["mean"].detach().std(0).mean()}
        if self.eta > 0 and not flat:
            nan = torch.full((), float("nan"), device=x.device)
            out.update(c2=nan, penalty=nan, relative=nan)
        elif self.eta > 0:
            # z detached by default: with a ReLU decoder J is piecewise constant in z, so the
            # penalty's gradient with respect to z is zero almost everywhere; skipping it saves
            # time. A smooth (tanh) decoder has one, and flat_encoder lets it move the codes.
            z = t["z"][:self.flat_batch]
            fr = flatness_penalty(self.model.decoder, z if self.flat_encoder else z.detach(),
                                  n_probes=self.probes, a0=self.a0, scale_free=self.scale_free)
            loss = loss + self.eta * fr.penalty
            out.update(c2=fr.c2, penalty=fr.penalty.detach(), relative=fr.relative)
        out["loss"] = loss
        return out


# ---------------------------------------------------------------------------------------------
# distributed context

@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a torchrun launch (world_size 1 when launched plainly)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "DistContext":
        return cls(int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0")),
                   int(os.environ.get("LOCAL_RANK", "0")))


def stream_seed(seed: int, rank: int, stream: int, step: int = 0) -> int:
    """Independent 32-bit seeds per (seed, rank, purpose), from NumPy's SeedSequence hashing
    (plain seed + rank would make run seed=1 rank 0 replay run seed=0 rank 1)."""
    return int(np.random.SeedSequence([seed, rank, stream, step]).generate_state(1)[0])


def _resolve_device(name: str, ctx: DistContext) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InputError(None, "--device cuda: no CUDA device is available to this torch build")
        return torch.device("cuda", ctx.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# the run

def build_network(kind: str, cfg: VAEConfig, n_classes: int = 0) -> nn.Module:
    if kind == "supervised":
        from appearance.model.supervised import CosineSoftmaxNet

        return CosineSoftmaxNet(cfg, n_classes)
    return VAE(cfg)


def initialise_weights(model: nn.Module) -> nn.Module:
    """He-normal weights and zero biases for the hidden layers; small Gaussian heads.

    PyTorch's default (kaiming-uniform with a = sqrt(5)) gives each ReLU layer a third of the
    variance it needs: after the 13 convolutions of VGG16 (no batch-norm) the encoder's output
    barely depends on its input (measured on the cpu preset: posterior means 1e-6 apart across
    a batch, decoder c^2 ~ 1e-10), and a tiny classifier on it stayed at chance. torchvision
    initialises its VGG the same way (He, zero bias). A transposed convolution with kernel k
    and stride s sums over in_channels * (k/s)^2 inputs per output, which is its fan-in here.
    The linear heads that output a Gaussian's mean and log-variance start at std 0.01
    (torchvision's choice for linear layers), so q(z|x), p(z|zeta) and q(zeta|z) start close
    to N(0, I) instead of with a KL of thousands of nats. Applied to fresh runs only, before
    any --encoder-weights are loaded. (Arguably the networks' own business; kept here until
    the model modules initialise themselves.)
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear) and name.rsplit(".", 1)[-1] in ("mean", "logvar"):
            nn.init.normal_(m.weight, std=0.01)     # Gaussian heads: start near N(0, I)
        elif isinstance(m, nn.ConvTranspose2d):
            fan_in = m.in_channels * (m.kernel_size[0] // m.stride[0]) * (m.kernel_size[1] // m.stride[1])
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / fan_in))
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return model


def load_encoder_weights(model: nn.Module, path: str | Path) -> None:
    """ImageNet VGG16 weights (torchvision format) into the encoder trunk; width 1.0 only."""
    from appearance.model.vgg import load_torchvision_state_dict

    width = model.cfg.width
    if width != 1.0:
        raise InputError(path, f"ImageNet VGG16 weights fit the full-width trunk only (--width 1.0, "
                               f"the paper preset); this model has width {width:g}")
    if not Path(path).is_file():
        raise InputError(path, "file not found")
    try:
        load_torchvision_state_dict(model.encoder.vgg, path)
    except (ValueError, RuntimeError, KeyError, EOFError, OSError, pickle.UnpicklingError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(path, f"cannot load VGG16 weights: {first[:200]}") from None


def model_config_for(cfg: TrainConfig, image_size: int) -> VAEConfig:
    """The preset's networks with the run's overrides; the image size is the crops' size."""
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.model_overrides.items()}
    try:
        return VAEConfig.preset(cfg.preset, **{**overrides, "image_size": image_size})
    except (ValueError, TypeError) as exc:
        raise InputError(None, f"model configuration: {exc}") from None


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Run (or, with resume, continue) a training run into config.out; see the module docstring.

    Raises InputError for bad input and TrainingDiverged when a loss turns NaN/inf.
    """
    cfg = config.resolved()
    if not resume and cfg.flat_start >= cfg.steps:   # a resumed run may stop anywhere, even inside the warm-up
        raise InputError(None, f"--flat-start {cfg.flat_start} leaves no step with the flatness term "
                               f"(--steps {cfg.steps}); train a vhp-vae instead")
    ctx = DistContext.from_env()
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    payload = None
    if resume:
        payload = load_checkpoint(ckpt_path)
        if "train_config" not in payload or "optimizer" not in payload:
            raise InputError(ckpt_path, "holds a model only, not a training state to resume")
        if payload["kind"] != cfg.model:
            raise InputError(ckpt_path, f"is a {payload['kind']} run, not {cfg.model}")
    elif ckpt_path.exists():
        raise InputError(out, "holds a checkpoint already: --resume continues that run; choose another "
                              "--out to start afresh")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = _resolve_device(cfg.device, ctx)
    supervised = cfg.model == "supervised"
    data = load_training_data(cfg.crops, supervised)
    model_cfg = model_config_for(cfg, data.size)
    if payload is not None:
        if payload["data"]["counts"] != data.counts:
            raise InputError(cfg.crops[0], f"the crop folders now hold {data.counts} crops, the run "
                                           f"was started on {payload['data']['counts']}: cannot resume")
        if VAEConfig.from_dict(payload["model_config"]) != model_cfg:
            raise InputError(ckpt_path, "the model configuration differs from the checkpoint's")
    norm = payload["norm"] if payload is not None else dict(zip(("mean", "std"), channel_stats(data.images)))

    if ctx.enabled:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _run(cfg, ctx, device, data, model_cfg, norm, payload)
    finally:
        if ctx.enabled:
            import torch.distributed as dist

            dist.destroy_process_group()


def _run(cfg: TrainConfig, ctx: DistContext, device: torch.device, data: TrainingData,
         model_cfg: VAEConfig, norm: dict[str, list[float]], payload: dict | None) -> TrainResult:
    started = time.time()
    out = Path(cfg.out)
    ckpt_path = out / CHECKPOINT
    torch.manual_seed(cfg.seed)              # identical initial weights on every rank
    model = initialise_weights(build_network(cfg.model, model_cfg, len(data.classes)))
    if cfg.encoder_weights and payload is None:
        load_encoder_weights(model, cfg.encoder_weights)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    lam = None if cfg.model == "supervised" else LagrangeMultiplier(
        cfg.kappa2, cfg.lambda0, cfg.nu, lambda_clip=(LAMBDA_CLIP[0], cfg.lambda_max))
    torch.manual_seed(stream_seed(cfg.seed, ctx.rank, 1))        # reparameterisation, probes, mixup
    batches = torch.Generator().manual_seed(stream_seed(cfg.seed, ctx.rank, 2))
    start = 0
    if payload is not None:
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        if lam is not None:
            lam.load_state_dict(payload["lagrangian"])
        start = int(payload["step"])
        _restore_rng(payload["rng"], ctx, device, batches, cfg.seed, start)
    sampler = BatchSampler(data, norm, cfg.batch_size, cfg.flip, batches, device)
    objective: nn.Module = Objective(model, cfg.model, cfg.kappa2, cfg.eta, cfg.flat_batch, cfg.probes, cfg.a0,
                                         cfg.flatness, cfg.flat_encoder)
    names = objective.stat_names()
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        objective = DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None)

    log = _Log(out / LOG, start, ctx.main)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        for name in (CHECKPOINT, CONFIG, LOG):  # temporaries of a run that was killed mid-write
            remove_stale_temps(out / name, started)
        meta = {"train": cfg.to_dict(), "model_config": _jsonable(model_cfg.to_dict()), "norm": norm,
                "data": {"folders": data.folders, "counts": data.counts, "classes": len(data.classes)},
                "world_size": ctx.world_size, "resumed_from": start if payload is not None else None}
        atomic_write_text(out / CONFIG, json.dumps(meta, indent=1) + "\n")

    def save(step: int) -> None:
        rng = _gather_rng(ctx, device, batches)
        if not ctx.main:
            return
        body = {
            "kind": cfg.model,
            "model_config": _jsonable(model_cfg.to_dict()),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "norm": norm,
            "step": step,
            "optimizer": optimizer.state_dict(),
            "lagrangian": None if lam is None else lam.state_dict(),
            "rng": {"world_size": ctx.world_size, "ranks": rng},
            "train_config": cfg.to_dict(),
            "data": {"folders": data.folders, "counts": data.counts},
        }
        if cfg.model == "supervised":
            body["n_classes"] = len(data.classes)
            body["classes"] = list(data.classes)
        log.flush()
        save_checkpoint(ckpt_path, body)

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {cfg.model}", unit="step", leave=True,
               disable=not (cfg.progress and ctx.main), dynamic_ncols=True, mininterval=0.5)
    last_saved = start if payload is not None else None
    values: dict[str, float] = {}
    clock = time.perf_counter()
    offset = log.seconds_offset
    model.train()
    try:
        for step in range(start + 1, cfg.steps + 1):
            x, y = sampler.next()
            flat = step > cfg.flat_start
            result = objective(x, y, lam.value if lam is not None else 0.0, flat)
            optimizer.zero_grad(set_to_none=True)
            scale = 1.0 / max(lam.value, 1.0) if lam is not None and cfg.loss_scale == "lambda" else 1.0
            (result["loss"] * scale).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            stats = torch.stack([result[n].detach().float() for n in names] + [grad_norm.float()])
            if ctx.enabled:
                import torch.distributed as dist

                dist.all_reduce(stats)
                stats /= ctx.world_size
            values = dict(zip(names + ("grad_norm",), stats.tolist()))
            if not flat:   # no penalty yet: empty cells in the log, not NaN
                values = {k: v for k, v in values.items() if k not in FLAT_STATS}
            bad = [n for n, v in values.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(step, bad, ckpt_path, last_saved)
            optimizer.step()
            if lam is not None:
                lam.update(values["C"])
                values["C_hat"], values["lambda"] = lam.c_hat, lam.value
            values["lr"] = optimizer.param_groups[0]["lr"]
            values["seconds"] = offset + time.perf_counter() - clock
            log.write(step, values)
            bar.set_postfix(_postfix(values), refresh=False)
            bar.update(1)
            if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == cfg.steps:
                save(step)
                last_saved = step
    finally:
        bar.close()
        log.close()
    if ctx.main:
        from appearance.training.curves import plot_curves

        plot_curves(out / LOG, out / CURVES, kappa2=None if lam is None else cfg.kappa2,
                    title=f"{cfg.model} ({cfg.preset} preset)")
    final = max(start, cfg.steps)
    if ctx.enabled:
        _write_rank_digest(out, ctx, model, final)
    return TrainResult(final, ckpt_path, out / LOG, values, values.get("seconds", log.seconds_offset))


def parameter_digest(model: nn.Module) -> str:
    """sha256 of every parameter's bytes in order: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _write_rank_digest(out: Path, ctx: DistContext, model: nn.Module, step: int) -> None:
    """Each rank's parameter digest in DIR/ranks/, a record that the replicas stayed in step."""
    import torch.distributed as dist

    dist.barrier()   # rank 0 has made DIR
    record = {"rank": ctx.rank, "world_size": ctx.world_size, "step": step, "sha256": parameter_digest(model)}
    atomic_write_text(out / "ranks" / f"rank-{ctx.rank}.json", json.dumps(record) + "\n")


def _postfix(values: dict[str, float]) -> dict[str, str]:
    keys = (("loss", "loss"), ("C", "C"), ("lambda", "lam"), ("c2", "c2"), ("penalty", "pen"))
    return {short: f"{values[k]:.3g}" for k, short in keys if k in values}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _rng_state(device: torch.device, batches: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "batch": batches.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _gather_rng(ctx: DistContext, device: torch.device, batches: torch.Generator) -> list[dict]:
    """Every rank's RNG states (rank order), so a resumed distributed run is exact too."""
    mine = _rng_state(device, batches)
    if not ctx.enabled:
        return [mine]
    import torch.distributed as dist

    everyone: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(everyone, mine)
    return everyone


def _restore_rng(rng: dict, ctx: DistContext, device: torch.device, batches: torch.Generator,
                 seed: int, step: int) -> None:
    if int(rng["world_size"]) == ctx.world_size:
        state = rng["ranks"][ctx.rank]
        torch.set_rng_state(state["torch"])
        batches.set_state(state["batch"])
        if device.type == "cuda" and "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"], device)
        return
    # Another process count: there is no exact continuation, so draw fresh streams per rank.
    if ctx.main:
        print(f"note: the checkpoint was written by {rng['world_size']} process(es), this run has "
              f"{ctx.world_size}; random streams restart (the continuation is not bit-exact)")
    torch.manual_seed(stream_seed(seed, ctx.rank, 1, step))
    batches.manual_seed(stream_seed(seed, ctx.rank, 2, step))


class _Log:
    """DIR/log.csv, one row per step. On resume rows after the checkpoint's step are dropped
    (they belong to steps the resumed run does again)."""

    def __init__(self, path: Path, start: int, active: bool):
        self.path = path
        self.seconds_offset = 0.0
        self.fh = None
        if not active:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[dict[str, str]] = []
        if start > 0 and path.is_file():
            with path.open(newline="") as fh:
                kept = [r for r in csv.DictReader(fh) if r.get("step", "").isdigit() and int(r["step"]) <= start]
            if kept and kept[-1].get("seconds"):
                self.seconds_offset = float(kept[-1]["seconds"])
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        atomic_write_text(path, buf.getvalue())
        self.fh = path.open("a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=LOG_COLUMNS, extrasaction="ignore", lineterminator="\n")

    def write(self, step: int, values: dict[str, float]) -> None:
        if self.fh is None:
            return
        row = {k: (f"{values[k]:.8g}" if k in values else "") for k in LOG_COLUMNS}
        row["step"] = str(step)
        self.writer.writerow(row)

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
