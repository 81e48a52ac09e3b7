"""The starting weights of a fresh run: He-normal initialisation and optional ImageNet VGG16 weights.

Only fresh runs are initialised; a resumed run loads its checkpoint's weights over these.
"""
from __future__ import annotations

import math
import pickle
from pathlib import Path

from torch import nn

from tools.io.errors import InputError, first_line


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
        raise InputError(path, f"cannot load VGG16 weights: {first_line(exc)}") from None
