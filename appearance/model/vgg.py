"""VGG16's convolutional trunk, defined here because torchvision does not import on this machine.

Layer indices and parameter names follow torchvision's `vgg16().features` exactly, so an ImageNet
state dict saved by torchvision loads from a local file; a width multiplier gives the narrow
CPU variant (which then cannot take those weights).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# torchvision's configuration "D": channel counts, "M" a 2x2 max-pool.
VGG16_LAYOUT: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                                       512, 512, 512, "M", 512, 512, 512, "M")


def scaled_channels(channels: int, width: float) -> int:
    """Channel count under a width multiplier; at least one channel survives."""
    return max(1, int(round(channels * width)))


class VGG16Trunk(nn.Module):
    """`features` of VGG16 (13 conv + ReLU, 5 max-pools): 64x64 input gives (512*width, 2, 2)."""

    def __init__(self, width: float = 1.0, in_channels: int = 3):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.width = width
        layers: list[nn.Module] = []
        c_in = in_channels
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                c_out = scaled_channels(int(item), width)
                layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c_in = c_out
        self.features = nn.Sequential(*layers)
        self.out_channels = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def load_torchvision_state_dict(module: VGG16Trunk, path: str | Path) -> None:
    """Copy the `features.*` tensors of a torchvision VGG16 checkpoint into `module`.

    The classifier keys are ignored (the trunk has none). Every trunk parameter must be present
    with the same shape; a narrow trunk (width != 1) therefore fails loudly instead of loading
    part of the weights.
    """
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path.name}: expected a state dict, found {type(state).__name__}")
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"{path.name}: not a torchvision VGG16 state dict, missing {missing[:3]}"
                         f"{' ...' if len(missing) > 3 else ''}")
    for key, tensor in own.items():
        theirs = state[key]
        if tuple(theirs.shape) != tuple(tensor.shape):
            raise ValueError(
                f"{path.name}: {key} has shape {tuple(theirs.shape)}, the trunk expects "
                f"{tuple(tensor.shape)} (ImageNet weights need width 1.0, this trunk has width "
                f"{module.width})")
    module.load_state_dict({k: state[k] for k in own}, strict=True)
