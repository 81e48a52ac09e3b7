"""The tracker flags of `track run`, `track config show` and the other verbs that track: every
field of RunConfig on the command line, and the RunConfig the parsed flags give (defaults <
--config FILE < flags, as tools.track.run_config.resolve applies them)."""
from __future__ import annotations

import argparse
from pathlib import Path

from tools.track.run_config import DEFAULT_MAX_DISTANCE, FLAGS, NONE, load_config, resolve
from tools.track.runner import CAMERA_MOTIONS, TRACKERS, RunConfig
from tracker import ByteTrackParams, DeepSortParams, DetectionFilter, OcSortParams, SortParams
from tracker.deep_sort import MATCHINGS
from tracker.nn_matching import METRICS


def add_config_arguments(parser: argparse.ArgumentParser, group_title: str = "tracker") -> None:
    """--config and the tracker / descriptor flags, shared by `track run` and `track config show`.

    Every flag defaults to None ("not given") so that a value in the file is only overridden by a
    flag the user typed; the help shows the dataclass defaults.
    """
    s, d, f = SortParams(), DeepSortParams(), DetectionFilter()
    b, o = ByteTrackParams(), OcSortParams()
    how = parser.add_argument_group(group_title, "precedence: flags, then --config FILE, then the defaults shown")
    how.add_argument("--config", metavar="FILE", type=Path,
                     help="TOML file of tracker and descriptor parameters (or a results folder's run.json); "
                          "`track config show` prints the effective values")
    how.add_argument("--tracker", choices=TRACKERS, help=f"default: {RunConfig.tracker}")
    how.add_argument("--interpolate", type=int, metavar="FRAMES",
                     help="afterwards, fill each track's gaps of up to FRAMES frames linearly (offline; "
                          f"default: {RunConfig.interpolate}, off)")
    how.add_argument("--camera-motion", choices=CAMERA_MOTIONS,
                     help="compensate a moving camera from the frames: flow (BoT-SORT's sparse optical flow) "
                          f"or ecc; sequences without frames track without it (default: {RunConfig.camera_motion})")
    how.add_argument("--appearance", metavar="SPEC",
                     help="descriptor for deepsort, bytetrack and ocsort: none (motion only), hist, fmvae:CKPT, onnx:FILE or a registered "
                          "name[:ARG]. Default (auto): the features carried by the detection file, else none")
    how.add_argument("--metric", choices=METRICS, help=f"appearance distance (default: {d.metric})")
    how.add_argument("--max-distance", type=float,
                     help=f"appearance gate: cosine distance (default {DEFAULT_MAX_DISTANCE['cosine']}) or squared "
                          f"Euclidean (default {DEFAULT_MAX_DISTANCE['euclidean']})")
    how.add_argument("--nn-budget", type=_int_or_none, metavar="N",
                     help=f"gallery size per track, or none for unlimited (default: {d.nn_budget})")
    how.add_argument("--max-age", type=int, help=f"frames a lost track is kept (default: sort {s.max_age}, "
                                                 f"deepsort {d.max_age}, ocsort {o.max_age})")
    how.add_argument("--min-hits", type=int, help=f"SORT, OC-SORT: hits before a track is reported (default: "
                                                  f"{s.min_hits}, {o.min_hits})")
    how.add_argument("--iou-threshold", type=float, help=f"SORT, OC-SORT: minimum IoU for a match (default: "
                                                         f"{s.iou_threshold}, {o.iou_threshold})")
    how.add_argument("--track-buffer", type=int, help=f"ByteTrack: frames a lost track is kept at 30 frames/s "
                                                      f"(default: {b.track_buffer})")
    how.add_argument("--track-thresh", type=float, help=f"ByteTrack: score splitting high from low detections "
                                                        f"(default: {b.track_thresh})")
    how.add_argument("--match-thresh", type=float, help=f"ByteTrack: IoU-distance gate of the first association "
                                                        f"(default: {b.match_thresh})")
    how.add_argument("--delta-t", type=int, help=f"OC-SORT: frames back for the motion direction (default: {o.delta_t})")
    how.add_argument("--inertia", type=float, help=f"OC-SORT: weight of the direction-consistency cost "
                                                   f"(default: {o.inertia})")
    how.add_argument("--appearance-weight", type=float, metavar="W",
                     help="ByteTrack, OC-SORT: weight of the appearance distance in the fused cost "
                          f"(default: {b.appearance_weight:g}, motion alone)")
    how.add_argument("--appearance-thresh", type=float, metavar="D",
                     help="ByteTrack: pairs whose cosine distance to the track's feature exceeds D cannot match "
                          f"(only with --appearance-weight above 0; default: {b.appearance_thresh:g})")
    how.add_argument("--det-thresh", type=float, help=f"OC-SORT: least score of a box it matches or starts a "
                                                      f"track from (default: {o.det_thresh:g})")
    how.add_argument("--n-init", type=int, help=f"DeepSORT: hits before a track is confirmed (default: {d.n_init})")
    how.add_argument("--max-iou-distance", type=float,
                     help=f"DeepSORT IoU stage gate (default: {d.max_iou_distance})")
    how.add_argument("--gating-threshold", type=float,
                     help=f"DeepSORT Mahalanobis gate (default: {d.gating_threshold:.4f}, chi-square 0.95, 4 dof)")
    how.add_argument("--motion-weight", type=float, metavar="LAMBDA",
                     help="DeepSORT fused cost (Wojke et al. eq. 5): LAMBDA x squared Mahalanobis + (1 - LAMBDA) x "
                          f"appearance in the cascade (default: {d.motion_weight:g}, appearance alone)")
    how.add_argument("--motion-fallback", action=argparse.BooleanOptionalAction, default=None,
                     help="DeepSORT: match what the appearance cascade left by a motion-only cascade "
                          "(Mahalanobis gate alone), so a rejected appearance pair costs no more than "
                          "motion-only tracking (default: off, the reference)")
    how.add_argument("--matching", choices=MATCHINGS,
                     help="DeepSORT appearance stage: cascade (most recently seen tracks first, the reference) or "
                          f"global (one assignment over all confirmed tracks, StrongSORT; default: {d.matching})")
    how.add_argument("--ema-alpha", type=_float_or_none, metavar="ALPHA",
                     help="track feature as an EMA, ALPHA x old + (1 - ALPHA) x new: DeepSORT keeps it in place of "
                          f"the gallery (StrongSORT, 0.9; default: {NONE}, the gallery); ByteTrack and "
                          f"OC-SORT always do (default: {b.ema_alpha:g}; {NONE} leaves them as they are)")
    how.add_argument("--min-confidence", type=float,
                     help=f"DeepSORT: drop weaker detections (default: {f.min_confidence})")
    how.add_argument("--min-height", type=float, help=f"DeepSORT: drop shorter boxes (default: {f.min_height})")
    how.add_argument("--nms-max-overlap", type=float, help=f"DeepSORT: NMS overlap (default: {f.nms_max_overlap})")


def _or_none(kind: type, word: str):
    """An argparse type: `kind` of the text, or the none marker for "none"."""
    def parse(text: str):
        if text.strip().lower() == NONE:
            return _UNLIMITED
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {word} or none, got {text!r}") from None
    parse.__name__ = f"{kind.__name__}_or_none"
    return parse


_int_or_none = _or_none(int, "an integer")
_float_or_none = _or_none(float, "a number")


class _Unlimited:
    """`--nn-budget none`, `--ema-alpha none`: distinct from None, which means the flag was not given."""

    def __repr__(self) -> str:
        return NONE


_UNLIMITED = _Unlimited()


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The effective RunConfig of parsed arguments (defaults < --config FILE < flags)."""
    path = getattr(args, "config", None)
    file_values = load_config(path) if path is not None else None
    flags = {}
    for dest in FLAGS:
        value = getattr(args, dest, None)
        flags[dest] = NONE if value is _UNLIMITED else value
    return resolve(file_values, flags)
