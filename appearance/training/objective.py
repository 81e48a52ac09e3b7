"""The loss of each model kind, as one module so that DDP sees the whole objective in one forward.

One loop serves all three kinds so that they differ only in their objective:

- fmvae: the VHP Lagrangian F + lambda (C - kappa^2) plus eta times the flatness penalty,
  evaluated on the first `flat_batch` items of the batch. Batches are i.i.d. draws, so those
  items are a random subset and the sub-batch mean is an unbiased estimate of the batch mean;
  it is what keeps a step within ~1.6x of a VHP-VAE step on CPU.
- vhp-vae: the same Lagrangian with eta = 0; the penalty is not computed at all.
- supervised, tracklet: CosineSoftmaxNet on crops that carry an identity (gt, or the detections'
  own IoU tracklets), cross-entropy.
- tracklet_weight > 0 (VAE family): plus that weight times lambda times the cross-entropy of a
  cosine-softmax head on the posterior means, over the batch items that lie on a tracklet. Lambda
  grows by orders of magnitude during training, so a fixed weight would count for everything at
  the start and for nothing at the end; scaled like the reconstruction constraint, weight 1 makes
  a nat of cross-entropy count as much as a unit of C. The head is part of the objective, not of
  the model, so the checkpoint's descriptor stays the plain VAE encoder.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from appearance.model.kinds import CLASSIFIER_KINDS
from appearance.model.supervised import CosineHead
from appearance.training.flatness import flatness_penalty
from appearance.training.vhp_loss import vhp_terms


class Objective(nn.Module):
    """The loss of one kind as a module, so DDP sees the whole objective in one forward."""

    def __init__(self, model: nn.Module, kind: str, kappa2: float = 1.0, eta: float = 0.0,
                 flat_batch: int = 16, probes: int = 1, a0: float = 0.2, flatness: str = "absolute",
                 flat_encoder: bool = False, tracklet_weight: float = 0.0, n_classes: int = 0,
                 rivals: torch.Tensor | None = None):
        """rivals: (C, C) bool, the classes each class's softmax competes against (None: all)."""
        super().__init__()
        self.register_buffer("rivals", rivals, persistent=False)
        self.model = model
        self.kind = kind
        self.tracklet_weight = tracklet_weight
        if tracklet_weight > 0 and kind not in CLASSIFIER_KINDS:
            self.head = CosineHead(model.cfg.latent_dim, n_classes)
        self.kappa2, self.eta, self.flat_batch, self.probes, self.a0 = kappa2, eta, flat_batch, probes, a0
        self.scale_free = flatness == "relative"
        self.flat_encoder = flat_encoder

    def stat_names(self) -> tuple[str, ...]:
        """The detached values forward() reports besides the loss, in a fixed order."""
        if self.kind in CLASSIFIER_KINDS:
            return ("loss",)
        names = ("loss", "F", "C", "latent_std")
        if self.eta > 0:
            names += ("c2", "penalty", "relative")
        return names + (("tracklet",) if self.tracklet_weight > 0 else ())

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None, lam: float,
                flat: bool = True) -> dict[str, torch.Tensor]:
        """`flat` False skips the penalty (the steps before --flat-start); its stats are then NaN."""
        if self.kind in CLASSIFIER_KINDS:
            loss = F.cross_entropy(self._among_rivals(self.model(x), labels), labels)
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
        if self.tracklet_weight > 0:
            on = labels >= 0
            # every batch item enters the graph (x 0 where unlabelled): the same parameters get a
            # gradient on every step, which DDP's bucketed all-reduce relies on
            target = labels.clamp(min=0)
            ce = F.cross_entropy(self._among_rivals(self.head(t["mean"]), target), target, reduction="none")
            tracklet = (ce * on).sum() / on.sum().clamp(min=1)
            loss = loss + self.tracklet_weight * float(lam) * tracklet
            out["tracklet"] = tracklet.detach()
        out["loss"] = loss
        return out

    def _among_rivals(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits with the classes outside each item's rivals masked out of its softmax."""
        if self.rivals is None:
            return logits
        return logits.masked_fill(~self.rivals[labels], float("-inf"))
