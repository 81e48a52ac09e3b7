"""How a crop becomes network input: one definition for training, tracking, geometry and ONNX.

uint8 RGB pixels are scaled to [0, 1] and standardised per channel with the statistics of the
training crops, which every checkpoint carries as `norm` {"mean": [r, g, b], "std": [r, g, b]}.
A descriptor that prepared its crops any other way than training did would see other inputs,
so every path (the batch sampler, the learned descriptor, the geometry report and the exported
ONNX graph, which traces `standardise`) goes through the functions here.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch


def norm_tensors(norm: Mapping[str, Sequence[float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """A checkpoint's `norm` as float32 (1, 3, 1, 1) mean and std tensors."""
    mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(norm["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def standardise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float32 (images / 255 - mean) / std."""
    return (images.float() / 255.0 - mean) / std


def crops_to_tensor(crops: np.ndarray, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 RGB crops (N, H, W, 3), as appearance.crops.patches.crop_batch cuts them -> (N, 3, H, W)."""
    return standardise(torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2), mean, std)
