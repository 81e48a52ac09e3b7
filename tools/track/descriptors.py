"""Learned descriptors for DeepSORT: crop caches cut from sequences, and training runs on them.

The library side of `track crops` and `track train`, which `track demo` and the benchmarks call
too: each checks its settings as the command does, does the work (appearance.crops.cache,
appearance.training.loop) and prints the command's report lines.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from tools.io.errors import InputError
from tools.io.folders import check_output_folder
from tools.io.sequence import Sequence


def default_crops_folder(source: str, seqs: list[Sequence], all_: bool, split: str | None) -> Path:
    """data/crops/<source>-<names>: readable for a few sequences, hashed for many."""
    if all_:
        tag = "all" if split is None else f"all-{split}"
    else:
        tag = "+".join(s.name for s in seqs)
        if len(tag) > 80:
            digest = hashlib.sha1(tag.encode()).hexdigest()[:8]
            tag = f"{seqs[0].name}+{len(seqs) - 1}-more-{digest}"
    return Path("data") / "crops" / f"{source}-{tag}"


def check_crop_settings(source: str = "det", size: int = 64, min_visibility: float = 0.0, every: int = 1) -> None:
    if size < 8:
        raise InputError(None, f"--size must be at least 8, got {size}")
    if every < 1:
        raise InputError(None, f"--every must be at least 1, got {every}")
    if not 0.0 <= min_visibility <= 1.0:
        raise InputError(None, f"--min-visibility must lie in [0, 1], got {min_visibility:g}")
    if min_visibility > 0 and source != "gt":
        raise InputError(None, "--min-visibility applies only to --source gt (detections have no visibility)")


def cut_crops(seqs: list[Sequence], out: str | Path, *, source: str = "det", min_confidence: float = 0.5,
              min_height: float = 0.0, min_visibility: float = 0.0, every: int = 1, size: int = 64,
              force: bool = False, progress: bool = True, fit: str = "stretch"):
    """Cut the sequences' boxes into the crop cache `out` (reused when its settings and inputs are
    unchanged, unless force); print the counts per sequence. Returns the CropSet."""
    from appearance.crops.cache import extract_crops

    check_crop_settings(source, size, min_visibility, every)
    crops = extract_crops(seqs, out, source=source, min_confidence=min_confidence, size=size,
                          min_height=min_height, min_visibility=min_visibility, every=every,
                          progress=progress, force=force, fit=fit)
    counts = {**dict.fromkeys((s.name for s in seqs), 0), **crops.counts()}
    with_id = {name: int((crops.gt_id[crops.seq == name] >= 0).sum()) for name in counts}
    print(f"{len(crops)} {source} crops, {crops.size}x{crops.size} RGB{', aspect kept' if fit == 'pad' else ''}, "
          f"from {len(counts)} sequence{'s' if len(counts) != 1 else ''}")
    width = max(len(n) for n in counts)
    for name, count in counts.items():
        note = f"  ({with_id[name]} with a gt id)" if source == "det" else ""
        print(f"  {name:<{width}}  {count:>7}{note}")
    print(f"{'cache' if crops.reused else 'wrote'} {crops.folder}")
    return crops


def train_descriptor(out: str | Path, changes: dict, resume: bool = False) -> int:
    """Train (or with resume, continue) the run in `out`; 0 when it finished, 1 when it diverged.

    changes: TrainConfig fields, None where not given (the preset's value, or on resume the
    run's own). A new run needs model and crops. Only the main process of a torchrun job prints.
    """
    from appearance.training.config import TrainConfig, resume_config
    from appearance.training.distributed import DistContext
    from appearance.training.loop import TrainingDiverged, train

    check_output_folder(out, "--out")
    if resume:
        config = resume_config(out, changes)
    else:
        if changes.get("model") is None or changes.get("crops") is None:
            raise InputError(None, "--model and --crops are required (or --resume to continue a run)")
        given = {k: v for k, v in changes.items() if v is not None}
        config = TrainConfig(out=str(out), **given)
    main = DistContext.from_env().main
    try:
        result = train(config, resume=resume)
    except TrainingDiverged as exc:
        if main:
            print(f"track train: {exc}", file=sys.stderr)
        return 1
    if main:
        last = result.last
        shown = ", ".join(f"{k} {last[k]:.4g}" for k in ("loss", "F", "C", "lambda", "c2", "penalty")
                          if k in last)
        print(f"{config.model}: step {result.step}" + (f", {shown}" if shown else "")
              + f"; {result.seconds:.0f} s of training")
        out = Path(out)
        print(f"wrote {out / 'checkpoint.pt'}, {out / 'log.csv'}, {out / 'curves.png'}")
    return 0
