"""`track calibrate`: propose DeepSORT's --max-distance for a descriptor from unlabelled detections."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tools.cli.run import _detection_path, _sequences, add_sequence_options
from tools.io.ground_truth import match_gt_ids
from tools.io.errors import InputError
from tools.io.motformat import MotRows
from tools.io.sequence import Sequence
from tracker import DetectionFilter



def register(sub) -> None:
    from appearance.scoring.calibration import PairSettings

    d = PairSettings()
    p = sub.add_parser("calibrate", help="propose an appearance threshold for a descriptor, without labels",
                       description="Propose DeepSORT's appearance threshold (--max-distance) for a "
                                   "descriptor from the distance distributions of label-free pairs: "
                                   "positives are detections of one strict IoU-only SORT tracklet a "
                                   "few frames apart, negatives are detections of the same frame. "
                                   "The proposal minimises false accepts + false rejects. Where gt "
                                   "exists the same statistics from gt identities are shown for "
                                   "reference.")
    what = p.add_argument_group("what to calibrate on")
    add_sequence_options(what)
    what.add_argument("--detections", metavar="PATH",
                      help="instead of det/det.txt: a MOT det file or DeepSORT .npy, or a folder of them; "
                           "without --appearance the features an .npy carries are calibrated")
    what.add_argument("--min-confidence", type=float, default=DetectionFilter.min_confidence,
                      help="drop weaker detections, as `track run` does (default: %(default)s)")
    what.add_argument("--nms-max-overlap", type=float, default=DetectionFilter.nms_max_overlap,
                      help="NMS as in `track run` (default: %(default)s)")
    how = p.add_argument_group("descriptor and pairs")
    how.add_argument("--appearance", metavar="SPEC", help="descriptor: hist, fmvae:CHECKPOINT, ... "
                                                          "(default: the features of the .npy detections)")
    how.add_argument("--metric", choices=("cosine", "euclidean"),
                     help="distance to calibrate: cosine, or squared Euclidean as DeepSORT thresholds it "
                          "(default: the descriptor's own metric)")
    how.add_argument("--iou-threshold", type=float, default=d.iou_threshold,
                     help="tracklets: SORT's IoU for a match (default: %(default)s)")
    how.add_argument("--min-hits", type=int, default=d.min_hits,
                     help="tracklets: detections before a tracklet counts (default: %(default)s)")
    how.add_argument("--min-gap", type=int, default=d.min_gap, help="positives: fewest frames apart (default: %(default)s)")
    how.add_argument("--max-gap", type=int, default=d.max_gap, help="positives: most frames apart (default: %(default)s)")
    out = p.add_argument_group("output")
    out.add_argument("--plot", type=Path, metavar="FILE", help="write a histogram PNG of both distributions")
    out.add_argument("--json", type=Path, metavar="FILE", help="write the percentiles and proposals as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _features(seq: Sequence, rows: MotRows, keep: np.ndarray, descriptor, progress: bool) -> np.ndarray:
    from tools.track.embedding import embed_rows

    if descriptor is not None:
        return embed_rows(seq, descriptor, rows.data[keep], progress)
    if rows.feature is None:
        raise InputError(rows.path, "carries no features: pass --appearance SPEC, or .npy detections "
                                    "made by `track embed`")
    return rows.feature[keep]


def run(args: argparse.Namespace) -> int:
    from appearance.scoring.calibration import PairSettings, calibrate, filter_detections, format_report, plot
    from appearance.descriptors.registry import create

    if args.min_gap < 1 or args.max_gap < args.min_gap:
        raise InputError(None, f"need 1 <= --min-gap <= --max-gap, got {args.min_gap} and {args.max_gap}")
    if args.min_hits < 1:
        raise InputError(None, f"--min-hits must be at least 1, got {args.min_hits}")
    seqs = _sequences(args)
    det_paths = {s.name: _detection_path(args, s, len(seqs)) for s in seqs}
    descriptor = None
    if args.appearance is not None:
        try:
            descriptor = create(args.appearance)
        except KeyError as exc:
            raise InputError(None, str(exc.args[0])) from None
        if descriptor is None:
            raise InputError(None, f"--appearance {args.appearance} gives no features to calibrate")
    elif not args.detections:
        raise InputError(None, "give --appearance SPEC, or --detections with .npy files carrying features")
    metric = args.metric or getattr(descriptor, "metric", None) or "cosine"
    settings = PairSettings(iou_threshold=args.iou_threshold, min_hits=args.min_hits,
                            min_gap=args.min_gap, max_gap=args.max_gap)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("frames", "tlwh", "features", "gt", "seq")}
    all_have_gt = all(s.has_gt for s in seqs)
    for i, seq in enumerate(seqs):
        rows = seq.detections(det_paths[seq.name])
        d = rows.data
        keep = filter_detections(d[:, 0].astype(np.int64), d[:, 2:6], d[:, 6], args.min_confidence,
                                 args.nms_max_overlap)
        feats = _features(seq, rows, keep, descriptor, not args.quiet)
        frames, tlwh = d[keep, 0].astype(np.int64), d[keep, 2:6]
        parts["frames"].append(frames)
        parts["tlwh"].append(tlwh)
        parts["features"].append(feats)
        parts["seq"].append(np.full(len(keep), i))
        if all_have_gt:
            parts["gt"].append(match_gt_ids(frames, tlwh, seq.ground_truth()))
    cat = {k: np.concatenate(v) if v else None for k, v in parts.items()}
    if not len(cat["frames"]):
        raise InputError(None, f"no detections with confidence >= {args.min_confidence:g}: nothing to calibrate")
    cal = calibrate(cat["frames"], cat["tlwh"], cat["features"], metric, settings,
                    gt_ids=cat["gt"] if all_have_gt else None, sequence=cat["seq"])
    name = args.appearance or f"features of {args.detections}"
    print(f"calibrating {name} on {', '.join(s.name for s in seqs)}")
    if not all_have_gt and any(s.has_gt for s in seqs):
        print("(some sequences lack gt: no labelled reference shown)")
    print(format_report(cal))
    if args.plot is not None:
        plot(cal, args.plot, f"{name} ({metric})")
        print(f"wrote {args.plot}")
    if args.json is not None:
        from tools.io.atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps(_summary(cal, name), indent=2) + "\n")
        print(f"wrote {args.json}")
    if cal.label_free.proposal is None:
        print("too few pairs for a proposal: use more or longer sequences, or a lower --min-confidence")
        return 1
    return 0


def _summary(cal, name: str) -> dict:
    from appearance.scoring.calibration import PERCENTILES

    out = {"appearance": name, "metric": cal.metric, "counts": cal.counts,
           "settings": cal.settings.__dict__, "purity": cal.purity}
    for d in (cal.label_free, cal.labelled):
        if d is None:
            continue
        out[d.label] = {
            "auc": d.auc,
            "percentiles": {k: dict(zip(map(str, PERCENTILES), map(float, v)))
                            for k, v in d.percentiles().items()},
            "proposals": [p.__dict__ for p in [d.proposal, *d.alternatives] if p is not None],
        }
    return out
