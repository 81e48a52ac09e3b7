"""Processes and random streams: the torchrun context, per-rank seeds, RNG state in checkpoints.

Under torchrun each process trains a replica on its own batches; gradients are averaged by
DistributedDataParallel. DDP works with the torch.func flatness term because the whole
objective (VHP terms and penalty) runs inside the wrapped module's forward and DDP's reducer
hooks fire on the parameters' accumulated gradients, after the single backward pass has summed
every path (checked: DDP gradients equal the all-reduced mean of per-rank gradients exactly,
penalty-only loss included). Rank 0 alone writes files.

Every rank's global and batch RNG states go into the checkpoint, so that a resumed run (with
the same process count) reproduces an uninterrupted one bit for bit; the parameter digests
each rank writes at the end record that the replicas stayed in step.
"""
from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from tools.io.atomic import atomic_write_text
from tools.io.errors import InputError


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


def resolve_device(name: str, ctx: DistContext) -> torch.device:
    if name == "cuda":
        if not torch.cuda.is_available():
            raise InputError(None, "--device cuda: no CUDA device is available to this torch build")
        return torch.device("cuda", ctx.local_rank % torch.cuda.device_count())
    return torch.device("cpu")


@contextmanager
def process_group(ctx: DistContext, device: torch.device) -> Iterator[None]:
    """The torchrun process group for the run's duration (nothing when launched plainly)."""
    if ctx.enabled:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        if ctx.enabled:
            import torch.distributed as dist

            dist.destroy_process_group()


def data_parallel(objective: nn.Module, ctx: DistContext, device: torch.device) -> nn.Module:
    """The objective wrapped in DistributedDataParallel under torchrun, else itself."""
    if not ctx.enabled:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None)


def mean_over_ranks(stats: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The mean of `stats` over all ranks (in place under torchrun), for logging."""
    if ctx.enabled:
        import torch.distributed as dist

        dist.all_reduce(stats)
        stats /= ctx.world_size
    return stats


def parameter_digest(model: nn.Module) -> str:
    """sha256 of every parameter's bytes in order: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def write_rank_digest(out: Path, ctx: DistContext, model: nn.Module, step: int) -> None:
    """Each rank's parameter digest in DIR/ranks/, a record that the replicas stayed in step."""
    import torch.distributed as dist

    dist.barrier()   # rank 0 has made DIR
    record = {"rank": ctx.rank, "world_size": ctx.world_size, "step": step, "sha256": parameter_digest(model)}
    atomic_write_text(out / "ranks" / f"rank-{ctx.rank}.json", json.dumps(record) + "\n")


def _rng_state(device: torch.device, batches: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "batch": batches.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def gather_rng(ctx: DistContext, device: torch.device, batches: torch.Generator) -> list[dict]:
    """Every rank's RNG states (rank order), so a resumed distributed run is exact too."""
    mine = _rng_state(device, batches)
    if not ctx.enabled:
        return [mine]
    import torch.distributed as dist

    everyone: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(everyone, mine)
    return everyone


def restore_rng(rng: dict, ctx: DistContext, device: torch.device, batches: torch.Generator,
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
