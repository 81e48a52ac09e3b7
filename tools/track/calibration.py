"""A descriptor's appearance threshold for DeepSORT, proposed from unlabelled detections.

The library side of `track calibrate`: positives are detections of one strict IoU-only SORT
tracklet a few frames apart, negatives detections of the same frame (appearance.scoring.calibration);
where every sequence has gt the same statistics from gt identities are added for reference.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from appearance.scoring.calibration import PairSettings
from tools.io.errors import InputError
from tools.io.ground_truth import match_gt_ids
from tools.io.motformat import MotRows
from tools.io.sequence import Sequence
from tracker import DetectionFilter


def check_pair_settings(settings: PairSettings) -> None:
    if settings.min_gap < 1 or settings.max_gap < settings.min_gap:
        raise InputError(None, f"need 1 <= --min-gap <= --max-gap, got {settings.min_gap} and {settings.max_gap}")
    if settings.min_hits < 1:
        raise InputError(None, f"--min-hits must be at least 1, got {settings.min_hits}")
    if settings.ema_alpha is not None and not 0.0 <= settings.ema_alpha <= 1.0:
        raise InputError(None, f"--ema-alpha must be between 0 and 1, got {settings.ema_alpha}")


def calibrate_descriptor(seqs: list[Sequence], appearance: str | None = None, *,
                         detections: dict[str, Path | None] | None = None, features_from: str | None = None,
                         metric: str | None = None, settings: PairSettings | None = None,
                         min_confidence: float = DetectionFilter.min_confidence,
                         nms_max_overlap: float = DetectionFilter.nms_max_overlap, plot: Path | None = None,
                         json_path: Path | None = None, progress: bool = True):
    """Calibrate `appearance` (a descriptor SPEC) on `seqs`, or without one the features carried by
    the .npy detection files (`features_from` names them: the --detections folder or file).

    Prints the report, writes the histogram PNG and the JSON summary where asked, and returns the
    appearance.scoring.calibration result (its label_free.proposal is None when there were too
    few pairs for one).
    """
    from appearance.scoring.calibration import calibrate, filter_detections, format_report
    from appearance.scoring.calibration import plot as plot_distributions
    from tools.track.embedding import open_descriptor

    settings = settings or PairSettings()
    check_pair_settings(settings)
    detections = detections or {}
    descriptor = None
    if appearance is not None:
        descriptor = open_descriptor(appearance)
        if descriptor is None:
            raise InputError(None, f"--appearance {appearance} gives no features to calibrate")
    elif not features_from:
        raise InputError(None, "give --appearance SPEC, or --detections with .npy files carrying features")
    metric = metric or getattr(descriptor, "metric", None) or "cosine"
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("frames", "tlwh", "features", "gt", "seq")}
    all_have_gt = all(s.has_gt for s in seqs)
    for i, seq in enumerate(seqs):
        rows = seq.detections(detections.get(seq.name))
        d = rows.data
        keep = filter_detections(d[:, 0].astype(np.int64), d[:, 2:6], d[:, 6], min_confidence, nms_max_overlap)
        feats = _features(seq, rows, keep, descriptor, progress)
        frames, tlwh = d[keep, 0].astype(np.int64), d[keep, 2:6]
        parts["frames"].append(frames)
        parts["tlwh"].append(tlwh)
        parts["features"].append(feats)
        parts["seq"].append(np.full(len(keep), i))
        if all_have_gt:
            parts["gt"].append(match_gt_ids(frames, tlwh, seq.ground_truth()))
    cat = {k: np.concatenate(v) if v else None for k, v in parts.items()}
    if not len(cat["frames"]):
        raise InputError(None, f"no detections with confidence >= {min_confidence:g}: nothing to calibrate")
    cal = calibrate(cat["frames"], cat["tlwh"], cat["features"], metric, settings,
                    gt_ids=cat["gt"] if all_have_gt else None, sequence=cat["seq"])
    name = appearance or f"features of {features_from}"
    print(f"calibrating {name} on {', '.join(s.name for s in seqs)}")
    if not all_have_gt and any(s.has_gt for s in seqs):
        print("(some sequences lack gt: no labelled reference shown)")
    print(format_report(cal))
    if plot is not None:
        plot_distributions(cal, plot, f"{name} ({metric})")
        print(f"wrote {plot}")
    if json_path is not None:
        from tools.io.atomic import atomic_write_text

        atomic_write_text(json_path, json.dumps(summary(cal, name), indent=2) + "\n")
        print(f"wrote {json_path}")
    if cal.label_free.proposal is None:
        print("too few pairs for a proposal: use more or longer sequences, or a lower --min-confidence")
    return cal


def _features(seq: Sequence, rows: MotRows, keep: np.ndarray, descriptor, progress: bool) -> np.ndarray:
    from tools.track.embedding import embed_rows

    if descriptor is not None:
        return embed_rows(seq, descriptor, rows.data[keep], progress)
    if rows.feature is None:
        raise InputError(rows.path, "carries no features: pass --appearance SPEC, or .npy detections "
                                    "made by `track embed`")
    return rows.feature[keep]


def summary(cal, name: str) -> dict:
    """The calibration as the JSON `track calibrate --json` writes (and `track demo` reads)."""
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
