"""The training run: `train()` wires data, network, objective and processes into the step loop.

Checkpoints (DIR/checkpoint.pt, written atomically) hold everything the next step depends on:
model, Adam state, the Lagrange multiplier, the global and batch RNG states of every rank, the
step and the train config. Resuming therefore reproduces an uninterrupted run bit for bit.
The concepts live next door: config (what a run is), data (crops and batches), objective (the
loss of each kind), distributed (processes and random streams), initialisation (fresh weights),
log (DIR/log.csv).
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from appearance.model.checkpoint import load_checkpoint, save_checkpoint
from appearance.model.kinds import CLASSIFIER_KINDS
from appearance.model.network import build_network
from appearance.model.vae import VAEConfig
from appearance.training.config import CHECKPOINT, CONFIG, CURVES, LOG, TrainConfig, jsonable, model_config_for
from appearance.training.data import BatchSampler, TrainingData, channel_stats, load_training_data
from appearance.training.distributed import (DistContext, data_parallel, gather_rng, mean_over_ranks,
                                             process_group, resolve_device, restore_rng, stream_seed,
                                             write_rank_digest)
from appearance.training.initialisation import initialise_weights, load_encoder_weights
from appearance.training.lagrangian import LAMBDA_CLIP, LagrangeMultiplier
from appearance.training.log import FLAT_STATS, TrainLog
from appearance.training.objective import Objective
from tools.io.atomic import atomic_write_text, remove_stale_temps
from tools.io.errors import InputError


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
    device = resolve_device(cfg.device, ctx)
    data = load_training_data(cfg.crops, cfg.labels, cfg.tracklet_params(),
                              labelled_only=cfg.model in CLASSIFIER_KINDS)
    if ctx.main and cfg.labels == "tracklet" and payload is None:
        for folder, summary in zip(cfg.crops, data.tracklets):
            print(f"tracklets of {folder}: {summary.line()}")
    model_cfg = model_config_for(cfg, data.size, data.fit)
    if payload is not None:
        if payload["data"]["counts"] != data.counts:
            raise InputError(cfg.crops[0], f"the crop folders now hold {data.counts} crops, the run "
                                           f"was started on {payload['data']['counts']}: cannot resume")
        if VAEConfig.from_dict(payload["model_config"]) != model_cfg:
            raise InputError(ckpt_path, "the model configuration differs from the checkpoint's")
    norm = payload["norm"] if payload is not None else dict(zip(("mean", "std"), channel_stats(data.images)))

    with process_group(ctx, device):
        return _run(cfg, ctx, device, data, model_cfg, norm, payload)


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
    lam = None if cfg.model in CLASSIFIER_KINDS else LagrangeMultiplier(
        cfg.kappa2, cfg.lambda0, cfg.nu, lambda_clip=(LAMBDA_CLIP[0], cfg.lambda_max))
    torch.manual_seed(stream_seed(cfg.seed, ctx.rank, 1))        # reparameterisation, probes, mixup
    batches = torch.Generator().manual_seed(stream_seed(cfg.seed, ctx.rank, 2))
    objective = Objective(model, cfg.model, cfg.kappa2, cfg.eta, cfg.flat_batch, cfg.probes, cfg.a0,
                          cfg.flatness, cfg.flat_encoder, cfg.tracklet_weight, len(data.classes),
                          data.co_occurring if cfg.tracklet_negatives == "co-occurring" else None).to(device)
    # the model's parameters first, then the tracklet head's (if any): without a head this is
    # exactly model.parameters(), so older checkpoints' Adam states still line up
    optimizer = torch.optim.Adam(objective.parameters(), lr=cfg.lr)
    start = 0
    if payload is not None:
        model.load_state_dict(payload["model"])
        if hasattr(objective, "head"):
            objective.head.load_state_dict(payload["tracklet_head"])
        optimizer.load_state_dict(payload["optimizer"])
        if lam is not None:
            lam.load_state_dict(payload["lagrangian"])
        start = int(payload["step"])
        restore_rng(payload["rng"], ctx, device, batches, cfg.seed, start)
    sampler = BatchSampler(data, norm, cfg.batch_size, cfg.flip, batches, device)
    names = objective.stat_names()
    step_loss = data_parallel(objective, ctx, device)

    log = TrainLog(out / LOG, start, ctx.main)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        for name in (CHECKPOINT, CONFIG, LOG):  # temporaries of a run that was killed mid-write
            remove_stale_temps(out / name, started)
        meta = {"train": cfg.to_dict(), "model_config": jsonable(model_cfg.to_dict()), "norm": norm,
                "data": {"folders": data.folders, "counts": data.counts, "classes": len(data.classes),
                         "tracklets": [s.to_dict() for s in data.tracklets]},
                "world_size": ctx.world_size, "resumed_from": start if payload is not None else None}
        atomic_write_text(out / CONFIG, json.dumps(meta, indent=1) + "\n")

    def save(step: int) -> None:
        rng = gather_rng(ctx, device, batches)
        if not ctx.main:
            return
        body = {
            "kind": cfg.model,
            "model_config": jsonable(model_cfg.to_dict()),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "norm": norm,
            "step": step,
            "optimizer": optimizer.state_dict(),
            "lagrangian": None if lam is None else lam.state_dict(),
            "rng": {"world_size": ctx.world_size, "ranks": rng},
            "train_config": cfg.to_dict(),
            "data": {"folders": data.folders, "counts": data.counts},
        }
        if cfg.model in CLASSIFIER_KINDS:
            body["n_classes"] = len(data.classes)
            body["classes"] = list(data.classes)
        if hasattr(objective, "head"):
            body["tracklet_head"] = {k: v.detach().cpu() for k, v in objective.head.state_dict().items()}
        log.flush()
        save_checkpoint(ckpt_path, body)

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {cfg.model}", unit="step", leave=True,
               disable=not (cfg.progress and ctx.main and sys.stderr.isatty()), dynamic_ncols=True, mininterval=0.5)
    last_saved = start if payload is not None else None
    values: dict[str, float] = {}
    clock = time.perf_counter()
    offset = log.seconds_offset
    model.train()
    try:
        for step in range(start + 1, cfg.steps + 1):
            x, y = sampler.next()
            flat = step > cfg.flat_start
            result = step_loss(x, y, lam.value if lam is not None else 0.0, flat)
            optimizer.zero_grad(set_to_none=True)
            scale = 1.0 / max(lam.value, 1.0) if lam is not None and cfg.loss_scale == "lambda" else 1.0
            (result["loss"] * scale).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(objective.parameters(), float("inf"))
            stats = mean_over_ranks(torch.stack([result[n].detach().float() for n in names] + [grad_norm.float()]),
                                    ctx)
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
        write_rank_digest(out, ctx, model, final)
    return TrainResult(final, ckpt_path, out / LOG, values, values.get("seconds", log.seconds_offset))


def _postfix(values: dict[str, float]) -> dict[str, str]:
    keys = (("loss", "loss"), ("C", "C"), ("lambda", "lam"), ("c2", "c2"), ("penalty", "pen"))
    return {short: f"{values[k]:.3g}" for k, short in keys if k in values}
