"""`track calibrate`: propose DeepSORT's --max-distance for a descriptor from unlabelled detections."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.cli.sequence_options import add_sequence_options, detection_paths, select_sequences
from tracker import DetectionFilter
from tracker.nn_matching import METRICS


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
    how.add_argument("--metric", choices=METRICS,
                     help="distance to calibrate: cosine, or squared Euclidean as DeepSORT thresholds it "
                          "(default: the descriptor's own metric)")
    how.add_argument("--iou-threshold", type=float, default=d.iou_threshold,
                     help="tracklets: SORT's IoU for a match (default: %(default)s)")
    how.add_argument("--min-hits", type=int, default=d.min_hits,
                     help="tracklets: detections before a tracklet counts (default: %(default)s)")
    how.add_argument("--min-gap", type=int, default=d.min_gap, help="positives: fewest frames apart (default: %(default)s)")
    how.add_argument("--max-gap", type=int, default=d.max_gap, help="positives: most frames apart (default: %(default)s)")
    how.add_argument("--ema-alpha", type=float, metavar="A",
                     help="calibrate for `track run --ema-alpha A`: a box is measured against the EMA "
                          "feature of the other box's tracklet so far, as an EMA track meets a box "
                          "(default: box against box, for the reference gallery)")
    out = p.add_argument_group("output")
    out.add_argument("--plot", type=Path, metavar="FILE", help="write a histogram PNG of both distributions")
    out.add_argument("--json", type=Path, metavar="FILE", help="write the percentiles and proposals as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from appearance.scoring.calibration import PairSettings
    from tools.track.calibration import calibrate_descriptor, check_pair_settings

    settings = PairSettings(iou_threshold=args.iou_threshold, min_hits=args.min_hits,
                            min_gap=args.min_gap, max_gap=args.max_gap, ema_alpha=args.ema_alpha)
    check_pair_settings(settings)
    seqs = select_sequences(args)
    cal = calibrate_descriptor(seqs, args.appearance, detections=detection_paths(args, seqs),
                               features_from=args.detections, metric=args.metric, settings=settings,
                               min_confidence=args.min_confidence, nms_max_overlap=args.nms_max_overlap,
                               plot=args.plot, json_path=args.json, progress=not args.quiet)
    return 1 if cal.label_free.proposal is None else 0
