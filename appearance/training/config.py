"""What a training run is: TrainConfig, its presets and checks, and the rules of resuming.

Kept apart from the loop so that the command line, the demo and the benchmarks can describe,
check and resume a run without touching its data or networks. The run folder's file names live
here too: a resumed run is found by its checkpoint.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appearance.model.checkpoint import load_checkpoint
from appearance.crops.tracklets import TrackletParams
from appearance.model.kinds import CLASSIFIER_KINDS, KINDS, VAE_KINDS
from appearance.model.vae import VAEConfig
from appearance.training.lagrangian import LAMBDA_CLIP
from tools.io.errors import InputError
from tools.io.records import read_record

CHECKPOINT, LOG, CONFIG, CURVES = "checkpoint.pt", "log.csv", "config.json", "curves.png"

# Defaults per preset (docs/appearance.md holds the measurements behind the cpu numbers).
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

# Per-kind defaults over the preset's: the best label-free recipe measured for each kind
# (docs/appearance.md). A kind not listed trains on the preset alone.
# The tracklet classifier's softmax competes only against tracklets seen while a crop's own was:
# over 3 seeds on PETS09-S2L1 + TUD-Stadtmitte that re-identified better (mAP 41.1 against 33.9)
# with fewer switches (78 against 82).
# The VAEs add the tracklet term at weight 1 with the same negatives: over 3 seeds FMVAE then
# re-identifies at mAP 41.4 against 18.6 with the paper's objective alone; with all tracklets as
# negatives instead it re-identified at 31.5 and was far less flat, and weight 3 was no better. It applies to detection crops only: on any other
# crops (gt, the pendulum) the default is the paper's objective, which --tracklet-weight 0 also
# asks for exactly.
_TRACKLET_TERM = {"tracklet_weight": 1.0, "tracklet_negatives": "co-occurring"}
KIND_DEFAULTS: dict[str, dict[str, Any]] = {"tracklet": {"tracklet_negatives": "co-occurring"},
                                            "fmvae": _TRACKLET_TERM, "vhp-vae": _TRACKLET_TERM}

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
TRACKLET_NEGATIVES = ("all", "co-occurring")
# --nu: with the VHP authors' gain of 1, lambda and C oscillate instead of
# settling; 0.05 damps it. The measurements are in docs/geometry.md.



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
    # Tracklet pseudo-identities (appearance.crops.tracklets): the labels of --model tracklet, and
    # of the VAE family's tracklet term when tracklet_weight > 0 (0: the paper's objective exactly).
    tracklet_weight: float | None = None
    link_iou: float | None = None
    ambiguity_iou: float | None = None
    min_tracklet: int | None = None
    max_gap: int | None = None
    # Which tracklets a crop's softmax competes against: "all", or "co-occurring", those seen in
    # its sequence while its own tracklet was (two tracklets alive at once are two people; two
    # that never meet may be one person split by an occlusion, and are not pushed apart).
    tracklet_negatives: str | None = None
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
        if self.model in CLASSIFIER_KINDS and self.loss_scale != "none":
            raise InputError(None, f"--loss-scale applies to fmvae and vhp-vae only ({self.model} has no lambda)")
        if self.model not in VAE_KINDS and self.tracklet_weight not in (None, 0, 0.0):
            raise InputError(None, f"--tracklet-weight applies to fmvae and vhp-vae only ({self.model} "
                                   f"is a classifier: its whole loss is the identity term)")
        tracklet_fields = {"link_iou": self.link_iou, "ambiguity_iou": self.ambiguity_iou,
                           "min_tracklet": self.min_tracklet, "max_gap": self.max_gap,
                           "tracklet_negatives": self.tracklet_negatives}
        weight = self.tracklet_weight
        if weight is None:   # the kind's recipe on detection crops; other crops give no tracklets
            weight = KIND_DEFAULTS.get(self.model, {}).get("tracklet_weight", 0.0) \
                if _detection_crops(self.crops) else 0.0
        uses_tracklets = _labels(self.model, weight) == "tracklet"
        if not uses_tracklets and any(v is not None for v in tracklet_fields.values()):
            raise InputError(None, "--link-iou, --ambiguity-iou, --min-tracklet, --max-gap and "
                                   "--tracklet-negatives apply to "
                                   "--model tracklet and to fmvae / vhp-vae with --tracklet-weight > 0")
        values = {k: getattr(self, k) for k in PRESETS[self.preset]}
        filled = {k: PRESETS[self.preset][k] if v is None else v for k, v in values.items()}
        if self.model != "fmvae":
            filled["eta"] = 0.0
        filled["tracklet_weight"] = float(weight) if self.model in VAE_KINDS else 0.0
        defaults = {**{k: getattr(TrackletParams(), p) for k, p in _PARAM.items()},
                    "tracklet_negatives": KIND_DEFAULTS.get(self.model, {}).get("tracklet_negatives", "all")}
        filled.update({k: (defaults[k] if v is None else v) if uses_tracklets else None
                       for k, v in tracklet_fields.items()})
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
            (_finite(cfg.tracklet_weight) and cfg.tracklet_weight >= 0,
             f"--tracklet-weight must be non-negative and finite, got {cfg.tracklet_weight:g}"),
            (not uses_tracklets or 0 < cfg.link_iou <= 1, f"--link-iou must lie in (0, 1], got {cfg.link_iou}"),
            (not uses_tracklets or 0 < cfg.ambiguity_iou <= 1,
             f"--ambiguity-iou must lie in (0, 1], got {cfg.ambiguity_iou}"),
            (not uses_tracklets or cfg.min_tracklet >= 2, f"--min-tracklet must be at least 2, got {cfg.min_tracklet}"),
            (not uses_tracklets or cfg.max_gap >= 1, f"--max-gap must be at least 1, got {cfg.max_gap}"),
            (not uses_tracklets or cfg.tracklet_negatives in TRACKLET_NEGATIVES,
             f"--tracklet-negatives must be one of {', '.join(TRACKLET_NEGATIVES)}, got {cfg.tracklet_negatives!r}"),
            (cfg.checkpoint_every >= 0, f"--checkpoint-every must be non-negative, got {cfg.checkpoint_every}"),
            (cfg.threads is None or cfg.threads >= 1, f"--threads must be at least 1, got {cfg.threads}"),
            (cfg.device in ("cpu", "cuda"), f"--device must be cpu or cuda, got {cfg.device!r}"),
            (bool(cfg.crops), "no crop folders given (--crops)"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(None, message)
        return cfg

    @property
    def labels(self) -> str | None:
        """Where the run's identities come from: "gt", "tracklet", or None (the VAE objective alone)."""
        return _labels(self.model, self.tracklet_weight or 0.0)

    def tracklet_params(self) -> TrackletParams:
        """The linker's thresholds of a resolved config (the defaults where it uses none)."""
        given = {_PARAM[k]: getattr(self, k) for k in _PARAM if getattr(self, k) is not None}
        return TrackletParams(**given)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/weights_only-safe values (lists, not tuples)."""
        d = dataclasses.asdict(self)
        d["model_overrides"] = jsonable(d["model_overrides"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _detection_crops(folders: list[str]) -> bool:
    """Whether every crop folder was cut from detections (`track crops --source det`), the crops
    tracklets come from. A folder without a readable info.json counts as one: loading it says why."""
    records = (read_record(Path(folder) / "info.json") for folder in folders)
    return all(r is None or r.get("source") == "det" for r in records)


def _labels(model: str, tracklet_weight: float) -> str | None:
    """Where a run of `model` gets identities: gt (supervised), tracklets, or none (the plain VAE)."""
    if model == "supervised":
        return "gt"
    if model == "tracklet" or (model in VAE_KINDS and tracklet_weight > 0):
        return "tracklet"
    return None


_PARAM = {"link_iou": "link_iou", "ambiguity_iou": "ambiguity_iou", "min_tracklet": "min_length",
          "max_gap": "max_gap"}   # TrainConfig field -> TrackletParams field


def _finite(v: float) -> bool:
    return math.isfinite(float(v))


# Fields a resumed run may change between sessions; every other field defines what is trained.
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
    if "tracklet_weight" not in payload["train_config"]:   # made before the term existed: without it
        stored = dataclasses.replace(stored, tracklet_weight=0.0)
    if stored.labels == "tracklet" and payload["train_config"].get("tracklet_negatives") is None:
        stored = dataclasses.replace(stored, tracklet_negatives="all")      # made before the choice
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


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Tuples as lists: the form JSON and weights-only checkpoints hold (and compare equal to)."""
    return {k: _plain(v) for k, v in d.items()}


def model_config_for(cfg: TrainConfig, image_size: int, crop_fit: str = "stretch") -> VAEConfig:
    """The preset's networks with the run's overrides; image size and fit are the crops'."""
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in cfg.model_overrides.items()}
    try:
        return VAEConfig.preset(cfg.preset, **{**overrides, "image_size": image_size, "crop_fit": crop_fit})
    except (ValueError, TypeError) as exc:
        raise InputError(None, f"model configuration: {exc}") from None
