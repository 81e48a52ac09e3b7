"""Training data: crop caches in memory and the seeded stream of batches drawn from them.

Crop caches (appearance.crops.cache) are loaded into memory as uint8 and normalised with
per-channel statistics of the training crops, which travel in the checkpoint. Batches are drawn
with replacement from a seeded torch.Generator: the generator's state alone is the position in
the data stream, so a resumed run continues the very same stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from appearance.crops.cache import CropSet, stats_from_sums
from appearance.model.normalise import norm_tensors, standardise
from tools.io.errors import InputError


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
    mean, std = stats_from_sums(total, squares, images.shape[0] * images.shape[2] * images.shape[3])
    return mean, [max(s, 1e-3) for s in std]


class BatchSampler:
    """i.i.d. batches (with replacement) from a seeded generator, normalised, randomly flipped."""

    def __init__(self, data: TrainingData, norm: dict[str, list[float]], batch_size: int, flip: bool,
                 generator: torch.Generator, device: torch.device):
        self.data = data
        self.mean, self.std = norm_tensors(norm)
        self.batch_size = batch_size
        self.flip = flip
        self.generator = generator
        self.device = device

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.randint(len(self.data), (self.batch_size,), generator=self.generator)
        x = self.data.images[idx]
        if self.flip:   # on the uint8 pixels: flipping commutes with the per-pixel normalisation
            mirror = torch.rand(self.batch_size, generator=self.generator) < 0.5
            x = torch.where(mirror.view(-1, 1, 1, 1), x.flip(3), x)
        x = standardise(x, self.mean, self.std)
        y = None if self.data.labels is None else self.data.labels[idx].to(self.device)
        return x.to(self.device), y
