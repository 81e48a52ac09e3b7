"""The network of each model kind, and the network a checkpoint describes.

Training builds a fresh network from a kind and a VAEConfig; the tracker, the geometry report
and ONNX export rebuild one from a checkpoint payload. Both go through `build_network`, so a
kind maps to one architecture everywhere.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from appearance.model.kinds import CLASSIFIER_KINDS
from appearance.model.vae import VAE, VAEConfig


def build_network(kind: str, cfg: VAEConfig, n_classes: int = 0) -> nn.Module:
    """A fresh network of `kind`: the VAE for the VAE family, CosineSoftmaxNet for the classifiers."""
    if kind in CLASSIFIER_KINDS:
        from appearance.model.supervised import CosineSoftmaxNet

        return CosineSoftmaxNet(cfg, n_classes)
    return VAE(cfg)


def network_from_checkpoint(payload: dict[str, Any]) -> nn.Module:
    """The network a checkpoint payload describes, with its weights, in eval mode.

    Raises what a damaged payload makes torch or VAEConfig raise (KeyError, TypeError,
    ValueError, RuntimeError); callers turn that into an InputError naming the file.
    """
    cfg = VAEConfig.from_dict(payload["model_config"])
    n_classes = int(payload["n_classes"]) if payload["kind"] in CLASSIFIER_KINDS else 0
    model = build_network(payload["kind"], cfg, n_classes)
    model.load_state_dict(payload["model"])
    return model.eval()
