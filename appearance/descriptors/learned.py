"""Learned descriptors from checkpoints (the VAE family and the classifiers) behind the Descriptor protocol.

Each frame's crops go through the encoder in one batch; normalisation statistics come from the
checkpoint, so tracking prepares crops exactly as training did.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from appearance.crops.patches import crop_batch
from appearance.model.checkpoint import load_checkpoint
from appearance.model.network import network_from_checkpoint
from appearance.model.normalise import crops_to_tensor, norm_tensors
from tools.io.errors import InputError, first_line



class LearnedDescriptor:
    """Posterior means (VAE family) or unit features (supervised, tracklet) of 64x64 RGB crops."""

    def __init__(self, checkpoint: str | Path, expect_kind: str | None = None, batch_size: int = 256,
                 metric: str = "cosine") -> None:
        payload = load_checkpoint(checkpoint)
        if expect_kind is not None and payload["kind"] != expect_kind:
            raise InputError(checkpoint, f"this is a {payload['kind']} checkpoint; use "
                                         f"--appearance {payload['kind']}:{checkpoint}")
        self.kind = payload["kind"]
        try:  # a damaged or edited checkpoint: config, weights or statistics that do not fit
            self.model = network_from_checkpoint(payload)
            self._mean, self._std = norm_tensors(payload["norm"])
        except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as exc:
            raise InputError(checkpoint, f"the checkpoint's model does not load: {first_line(exc)}") from None
        self.size = self.model.cfg.image_size
        self.fit = self.model.cfg.crop_fit
        self.dim = self.model.cfg.latent_dim
        self.metric = metric
        self.batch_size = batch_size

    def to_tensor(self, crops: np.ndarray) -> torch.Tensor:
        """uint8 RGB (N, H, W, 3) -> normalised float (N, 3, H, W)."""
        return crops_to_tensor(crops, self._mean, self._std)

    @torch.inference_mode()
    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        out = np.empty((len(crops), self.dim), np.float32)
        for start in range(0, len(crops), self.batch_size):
            chunk = self.to_tensor(crops[start:start + self.batch_size])
            out[start:start + len(chunk)] = self.model.embed(chunk).numpy()
        return out

    def embed(self, frame_bgr: np.ndarray, boxes_tlwh: np.ndarray) -> np.ndarray:
        return self.embed_crops(crop_batch(frame_bgr, boxes_tlwh, self.size, self.fit))


def factory(kind: str):
    """Registry constructor for `--appearance KIND:CHECKPOINT`."""

    def make(arg: str | None, batch_size: int = 256) -> LearnedDescriptor:
        if not arg:
            raise InputError(None, f"--appearance {kind} needs a checkpoint: {kind}:PATH")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(None, f"{kind} option batch_size must be a positive integer, got {batch_size!r}")
        return LearnedDescriptor(arg, expect_kind=kind, batch_size=batch_size)

    return make
