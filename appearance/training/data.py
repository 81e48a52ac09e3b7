"""Training data: crop caches in memory and the seeded stream of batches drawn from them.

Crop caches (appearance.crops.cache) are loaded into memory as uint8 and normalised with
per-channel statistics of the training crops, which travel in the checkpoint. Batches are drawn
with replacement from a seeded torch.Generator: the generator's state alone is the position in
the data stream, so a resumed run continues the very same stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch

from appearance.crops.cache import CropSet, stats_from_sums
from appearance.crops.tracklets import TrackletParams, TrackletSummary, summarise, tracklet_ids
from appearance.model.normalise import norm_tensors, standardise
from tools.io.errors import InputError


Labels = Literal["gt", "tracklet"]


@dataclass
class TrainingData:
    """Crops in memory as (N, 3, S, S) uint8, with class indices for the classifier kinds."""

    images: torch.Tensor
    labels: torch.Tensor | None   # (N,) class index, -1 for crops without one (kept for the VAEs)
    classes: list[str]          # "sequence:gt_id" or "sequence:tTRACKLET" per class index
    folders: list[str]
    counts: list[int]           # crops taken from each folder
    tracklets: list[TrackletSummary] = field(default_factory=list)   # per folder, tracklet labels only
    # (C, C) bool, tracklet labels only: True where classes i and j were seen in one sequence at
    # overlapping times (the diagonal included); they are certainly different people
    co_occurring: torch.Tensor | None = None

    fit: str = "stretch"        # how the crops' boxes became squares (appearance.crops.patches)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])


def load_training_data(folders: Sequence[str | Path], labels: Labels | None = None,
                       tracklets: TrackletParams = TrackletParams(), labelled_only: bool = True,
                       ) -> TrainingData:
    """Read crop caches into memory, with identities when `labels` says where they come from.

    "gt": the crops' ground-truth ids (crops with gt_id >= 0). "tracklet": strict IoU tracklets
    of each sequence's detection crops (appearance.crops.tracklets); no label is read, and gt
    ids serve only the purity the summary reports. Classes are (sequence, id): ids are only
    unique within a sequence, but the same sequence cut into two caches shows the same people.
    `labelled_only` drops crops without a class; False keeps them with label -1 (the VAE
    family reconstructs every crop and learns identities from the labelled ones).
    """
    arrays, keys, counts, summaries, frames = [], [], [], [], []
    size = fit = None
    for folder in folders:
        cs = CropSet.load(folder)
        if size is not None and cs.size != size:
            raise InputError(folder, f"holds {cs.size}x{cs.size} crops, {folders[0]} holds {size}x{size}: "
                                     f"all crop folders must have one size")
        if fit is not None and cs.fit != fit:
            raise InputError(folder, f"holds crops cut with --fit {cs.fit}, {folders[0]} with --fit {fit}: "
                                     f"all crop folders must be cut one way")
        size, fit = cs.size, cs.fit
        crops = np.asarray(cs.crops)
        if labels is not None:
            ident, summary = _identities(cs, labels, tracklets, Path(folder))
            if summary is not None:
                summaries.append(summary)
            keep = ident >= 0 if labelled_only else np.ones(len(ident), bool)
            crops = crops[keep]
            keys += [f"{s}:{t}" if t else "" for s, t in
                     zip(np.asarray(cs.seq)[keep], _label_text(ident[keep], labels))]
            frames.append(np.asarray(cs.frame)[keep].astype(np.int64))
        arrays.append(crops)
        counts.append(len(crops))
    total = sum(counts)
    if total == 0:
        if labels == "gt":
            raise InputError(folders[0], "no crops with a ground-truth identity (gt_id >= 0): supervised "
                                         "training needs labelled crops (`track crops --source gt`)")
        if labels == "tracklet":
            raise InputError(folders[0], f"no tracklet of {tracklets.min_length}+ crops in the crop folders: "
                                         f"lower --min-tracklet or cut crops from more frames (a VAE "
                                         f"trains without them at --tracklet-weight 0)")
        raise InputError(folders[0], "the crop folders hold no crops")
    images = torch.from_numpy(np.concatenate(arrays)).permute(0, 3, 1, 2).contiguous()
    label_index, classes = None, []
    if labels is not None:
        classes = sorted(set(k for k in keys if k))
        if len(classes) < 2:
            hint = " (a VAE trains without them at --tracklet-weight 0)" if labels == "tracklet" else ""
            raise InputError(folders[0], f"only {len(classes)} identity among the labelled crops: "
                                         f"a classifier needs at least two{hint}")
        index = {k: i for i, k in enumerate(classes)}
        label_index = torch.tensor([index.get(k, -1) for k in keys], dtype=torch.int64)
    together = None
    if labels == "tracklet":
        together = torch.from_numpy(co_occurrence(label_index.numpy(), np.concatenate(frames), classes))
    return TrainingData(images, label_index, classes, [str(f) for f in folders], counts, summaries, together,
                        fit=fit)


def co_occurrence(labels: np.ndarray, frames: np.ndarray, classes: list[str]) -> np.ndarray:
    """(C, C) bool: classes ("sequence:id") of one sequence whose frame spans overlap, diagonal True."""
    n = len(classes)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    on = labels >= 0
    np.minimum.at(first, labels[on], frames[on])
    np.maximum.at(last, labels[on], frames[on])
    seq = np.array([c.rsplit(":", 1)[0] for c in classes])
    out = (seq[:, None] == seq[None, :]) & (first[:, None] <= last[None, :]) & (first[None, :] <= last[:, None])
    np.fill_diagonal(out, True)
    return out


def _identities(cs: CropSet, labels: str, params: TrackletParams, folder: Path,
                ) -> tuple[np.ndarray, TrackletSummary | None]:
    """Per-crop identity (-1: none) from ground truth or from tracklets, and the tracklet summary."""
    if labels == "gt":
        return np.asarray(cs.gt_id).astype(np.int64), None
    if labels != "tracklet":
        raise ValueError(f"labels must be 'gt' or 'tracklet', got {labels!r}")
    if cs.source != "det":
        raise InputError(folder, f"holds {cs.source} crops: tracklet labels come from detection crops "
                                 f"(`track crops --source det`); gt crops carry human labels (a VAE "
                                 f"trains on them with --tracklet-weight 0, the paper's objective)")
    # crops cut from every K-th frame (1, 1 + K, ...): the linker counts cut frames, so that a
    # gap of one is the next cut frame and --max-gap is in cut frames
    every = int((cs.info.get("parameters") or {}).get("every", 1))
    cut_frame = (np.asarray(cs.frame).astype(np.int64) - 1) // every
    ident = np.full(len(cs), -1, np.int64)
    seq = np.asarray(cs.seq)
    for name in dict.fromkeys(seq.tolist()):       # sequences in cache order
        rows = np.flatnonzero(seq == name)
        ident[rows] = tracklet_ids(cut_frame[rows], np.asarray(cs.tlwh)[rows], params)
    # tracklet ids restart in every sequence; the summary scores them against gt where it exists
    gt = np.asarray(cs.gt_id)
    scored = gt if (gt >= 0).any() else None
    per_seq = np.unique(seq, return_inverse=True)[1].reshape(-1).astype(np.int64)
    combined = np.where(ident >= 0, per_seq * (ident.max(initial=0) + 1) + ident, -1)
    return ident, summarise(combined, scored)


def _label_text(ident: np.ndarray, labels: str) -> list[str]:
    prefix = "t" if labels == "tracklet" else ""
    return [f"{prefix}{int(i)}" if i >= 0 else "" for i in ident]


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
