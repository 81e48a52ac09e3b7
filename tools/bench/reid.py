"""Re-identification benchmark: mAP and rank-k of descriptors on ground-truth crops.

    python -m tools.bench.reid [--appearance hist fmvae:CKPT supervised:CKPT ...]
                               [--data DATA/MOT15/train] [--seq PETS09-S2L1 TUD-Stadtmitte]
                               [--min-gap 30] [--queries-per-id 20] [--metric cosine euclidean]

Crops are the gt boxes of the sequences (consider flag set), cut once into the crop cache
data/crops/gt-<seqs> (the folder `track crops --source gt` uses). Every descriptor is scored under
the protocol of appearance/reid.py: queries spread over each identity's track, gallery = the
same sequence's crops at least --min-gap frames away. A `random` row (seeded Gaussian features)
gives the chance level.

Skips cleanly (exit 0, one line) when the data is absent.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from tools.bench.data_root import MOT15_TRAIN
from tracker.nn_matching import METRICS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = MOT15_TRAIN
DEFAULT_SEQS = ("PETS09-S2L1", "TUD-Stadtmitte")


class RandomDescriptor:
    """Seeded Gaussian features: the chance level of the table."""

    metric = "cosine"

    def __init__(self, dim: int = 128, seed: int = 0) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        return self.rng.standard_normal((len(crops), self.dim)).astype(np.float32)


def load_gt_crops(seqs, cache: Path, progress: bool):
    """(crops RGB, seq name, frame, gt id) of the sequences' gt boxes, through the crop cache.

    Falls back to cutting the boxes in memory when the crop dataset module is unavailable.
    """
    try:
        from appearance.crops.cache import extract_crops
    except ImportError:
        return _cut_in_memory(seqs, progress)
    cs = extract_crops(seqs, cache, source="gt", progress=progress)
    crops = getattr(cs, "crops", None)
    if crops is None:  # an older layout of the CropSet: images plus a meta record
        crops, meta = cs.images, cs.meta
        return np.array(crops), np.asarray(meta["seq"]), np.asarray(meta["frame"]), np.asarray(meta["gt_id"])
    # a copy in memory: the cache is a read-only memory map, which torch refuses to wrap quietly
    return np.array(crops), np.asarray(cs.seq), np.asarray(cs.frame), np.asarray(cs.gt_id)


def _cut_in_memory(seqs, progress: bool):
    from tqdm import tqdm

    from appearance.crops.patches import crop_batch
    from tools.io.sequence import frame_slices

    crops, names, frames, ids = [], [], [], []
    for seq in seqs:
        gt = seq.ground_truth().data
        gt = gt[gt[:, 6] != 0]
        per_frame = frame_slices(gt, seq.info.length)
        for f, image in tqdm(seq.frames(), total=seq.info.length, desc=seq.name, disable=not progress):
            idx = per_frame[f]
            if len(idx):
                crops.append(crop_batch(image, gt[idx, 2:6]))
                names += [seq.name] * len(idx)
                frames.append(gt[idx, 0].astype(np.int64))
                ids.append(gt[idx, 1].astype(np.int64))
    return np.concatenate(crops), np.array(names), np.concatenate(frames), np.concatenate(ids)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--appearance", nargs="+", default=["hist"], metavar="SPEC",
                   help="descriptors to score (default: hist); `random` is always added")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the sequences")
    p.add_argument("--seq", nargs="+", default=list(DEFAULT_SEQS), help="sequences with frames and gt")
    p.add_argument("--cache", type=Path, help="crop cache folder (default: data/crops/gt-SEQ+SEQ)")
    p.add_argument("--metric", nargs="+", choices=METRICS,
                   help="distances to score (default: each descriptor's own)")
    p.add_argument("--min-gap", type=int, default=30, help="frames between a query and its gallery (default: %(default)s)")
    p.add_argument("--queries-per-id", type=int, default=20, help="default: %(default)s")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    from appearance.descriptors.registry import create
    from appearance.scoring.reid import RANKS, embed_crops, evaluate_reid
    from tools.io.errors import InputError
    from tools.io.sequence import find_sequence

    if not args.data.is_dir():
        print(f"skipped: {args.data} does not exist")
        return 0
    try:
        seqs = [find_sequence(name, args.data) for name in args.seq]
    except InputError as exc:
        print(f"skipped: {exc}")
        return 0
    seqs = [s for s in seqs if s.has_gt and s.has_frames]
    if not seqs:
        print("skipped: none of the sequences has both frames and gt")
        return 0
    cache = args.cache or PROJECT_ROOT / "data" / "crops" / ("gt-" + "+".join(s.name for s in seqs))
    crops, names, frames, ids = load_gt_crops(seqs, cache, not args.quiet)
    print(f"{len(crops)} gt crops of {len(set(zip(names.tolist(), ids.tolist())))} identities "
          f"from {', '.join(s.name for s in seqs)}; gallery >= {args.min_gap} frames from the query, "
          f"up to {args.queries_per_id} queries per identity")
    specs = list(dict.fromkeys(args.appearance + ["random"]))
    header = f"{'descriptor':<34} {'metric':<9} {'dim':>4} {'sequence':<15} {'queries':>7} {'mAP':>6} " + \
             " ".join(f"{'R' + str(k):>6}" for k in RANKS) + f" {'crops/s':>8}"
    print(header)
    print("-" * len(header))
    for spec in specs:
        try:
            desc = RandomDescriptor() if spec == "random" else create(spec)
        except (KeyError, InputError) as exc:
            print(f"{spec:<34} skipped: {exc}")
            continue
        if desc is None:
            print(f"{spec:<34} skipped: no features")
            continue
        if getattr(desc, "fit", "stretch") != "stretch":   # the gt crops here are stretched
            print(f"{spec:<34} skipped: trained on --fit {desc.fit} crops (score it with "
                  f"tools.bench.appearance_table --crop-fit {desc.fit})")
            continue
        t0 = time.perf_counter()
        feats = embed_crops(desc, crops)
        rate = len(crops) / max(time.perf_counter() - t0, 1e-9)
        for metric in args.metric or [desc.metric]:
            for label, sel in [*((s.name, names == s.name) for s in seqs), ("all", np.ones(len(names), bool))]:
                if label == "all" and len(seqs) == 1:
                    continue
                r = evaluate_reid(feats[sel], ids[sel], frames[sel], names[sel], metric,
                                  args.min_gap, args.queries_per_id)
                print(f"{spec[-34:]:<34} {metric:<9} {desc.dim:>4} {label:<15} {r.queries:>7} "
                      f"{100 * r.mAP:>6.1f} " + " ".join(f"{100 * r.cmc[k]:>6.1f}" for k in RANKS) +
                      f" {rate:>8,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
