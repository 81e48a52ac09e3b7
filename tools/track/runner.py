"""Running a tracker over a sequence: detections in, MOTChallenge result rows out."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tools.io.atomic import remove_stale_temps
from tools.io.errors import InputError
from tools.io.motformat import MotRows, write_results
from tools.io.sequence import Sequence, frame_slices
from tracker import (ByteTrack, ByteTrackParams, DeepSort, DeepSortParams, DetectionFilter, Detections, OcSort,
                     OcSortParams, Sort, SortParams)
from tracker.interpolation import interpolate_gaps

# name -> the tracker class; RunConfig holds each one's parameters in the field of the same name
TRACKER_CLASSES = {"sort": Sort, "deepsort": DeepSort, "bytetrack": ByteTrack, "ocsort": OcSort}
TRACKERS = tuple(TRACKER_CLASSES)
# trackers with an appearance stage: --appearance and the detection file's features reach them
APPEARANCE_TRACKERS = ("deepsort", "bytetrack", "ocsort")
# camera-motion estimators (tools.track.camera_motion); "none" tracks in image coordinates
CAMERA_MOTIONS = ("none", "flow", "ecc")
NO_FRAMES = ("the sequence has no frames (no img1/ folder and no video file), but the appearance "
             "descriptor or --save-video needs them")


@dataclass
class RunConfig:
    """Everything that decides a run's output; stored beside the results so a run can be redone."""

    tracker: str = "deepsort"
    appearance: str | None = None  # None: features from the detection file if any, else motion only
    # frames: fill track gaps up to this long by linear interpolation afterwards (0: online output as is)
    interpolate: int = 0
    camera_motion: str = "none"  # one of CAMERA_MOTIONS; needs frames, and a tracker with apply_camera_motion
    sort: SortParams = field(default_factory=SortParams)
    deepsort: DeepSortParams = field(default_factory=DeepSortParams)
    bytetrack: ByteTrackParams = field(default_factory=ByteTrackParams)
    ocsort: OcSortParams = field(default_factory=OcSortParams)
    filter: DetectionFilter = field(default_factory=DetectionFilter)
    descriptor: dict = field(default_factory=dict)  # keyword options of the descriptor (e.g. hist bins)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SequenceResult:
    name: str
    frames: int
    rows: np.ndarray  # (K, 6) frame, id, x, y, w, h
    tracker_seconds: float
    total_seconds: float
    damaged: list = field(default_factory=list)  # tools.io.frames.DamagedFrames: frames tracked without an image
    detections: int = 0                          # detection rows read (before DeepSORT's filter)

    @property
    def tracks(self) -> int:
        """Distinct track ids in the output."""
        return len(np.unique(self.rows[:, 1])) if len(self.rows) else 0


def make_tracker(cfg: RunConfig, frame_rate: float | None = None):
    """A new tracker of cfg.tracker with its parameters from cfg; a frame-rate parameter left
    unset (ByteTrack's buffer) takes the sequence's `frame_rate`."""
    if cfg.tracker not in TRACKER_CLASSES:
        raise ValueError(f"unknown tracker {cfg.tracker!r}; choose from {TRACKERS}")
    params = getattr(cfg, cfg.tracker)
    if getattr(params, "frame_rate", 0) is None and frame_rate:
        params = replace(params, frame_rate=float(frame_rate))
    return TRACKER_CLASSES[cfg.tracker](params)


def weighs_appearance(cfg: RunConfig) -> bool:
    """Whether cfg's tracker uses features at all: DeepSORT's cascade always does; ByteTrack and
    OC-SORT only with an appearance weight above 0; SORT never."""
    if cfg.tracker not in APPEARANCE_TRACKERS:
        return False
    return getattr(getattr(cfg, cfg.tracker), "appearance_weight", 1.0) > 0


def open_run_descriptor(cfg: RunConfig):
    """The descriptor of cfg.appearance (None: motion only, or the file's features). A descriptor
    the tracker would not use is an InputError rather than features computed for nothing."""
    from tools.track.embedding import open_descriptor

    if cfg.appearance in (None, "none"):
        return None
    if cfg.tracker not in APPEARANCE_TRACKERS:
        raise InputError(None, f"--appearance {cfg.appearance}: --tracker {cfg.tracker} has no appearance "
                               f"stage; choose one of {', '.join(APPEARANCE_TRACKERS)}")
    if not weighs_appearance(cfg):
        raise InputError(None, f"--appearance {cfg.appearance} with --tracker {cfg.tracker} needs "
                               "--appearance-weight above 0 (for example 0.1)")
    return open_descriptor(cfg.appearance, cfg.descriptor)


OPEN = object()  # track_sequence's default descriptor: open the one cfg names


def track_sequence(seq: Sequence, cfg: RunConfig, detections: MotRows | None = None,
                   video_path: Path | None = None, progress: bool = True,
                   position: int = 0, strict: bool = False, *, descriptor=OPEN,
                   leave: bool = True) -> SequenceResult:
    """Track every frame 1..seqLength of `seq` (frames without detections included).

    A frame whose image is missing or unreadable (or lies past the end of a video that stops
    early) is tracked on its detections alone, without appearance features, with a warning and
    a record in the result's `damaged`; with strict=True it is an InputError instead.
    descriptor: one open_run_descriptor(cfg) gave, to open it once for many sequences. The
    progress bar shows only when stderr is a terminal (no escape codes in a log file).
    """
    from tools.io.frames import iter_frames

    t_start = time.perf_counter()
    rows = detections if detections is not None else seq.detections()
    per_frame = frame_slices(rows, seq.info.length)
    tracker = make_tracker(cfg, seq.info.frame_rate)
    if descriptor is OPEN:
        descriptor = open_run_descriptor(cfg)
    use_file_features = cfg.appearance is None and rows.feature is not None and weighs_appearance(cfg)
    want_frames = descriptor is not None or video_path is not None
    if want_frames and not seq.has_frames:
        raise InputError(seq.root, NO_FRAMES)
    camera = None
    if cfg.camera_motion != "none":
        if seq.has_frames:
            from tools.track.camera_motion import CameraMotion

            camera = CameraMotion(cfg.camera_motion)
            want_frames = True
        else:
            tqdm.write(f"{seq.name}: no frames, tracked without camera-motion compensation", file=sys.stderr)
    damaged: list = []
    if want_frames:
        frames = iter_frames(seq, strict, damaged, warn=lambda line: tqdm.write(line, file=sys.stderr))
    else:
        frames = ((f, None) for f in range(1, seq.info.length + 1))
    writer = painter = None
    if video_path is not None:
        from tools.io.drawing import TrackPainter
        from tools.io.video_writer import AnnotatedVideo

        writer = AnnotatedVideo(video_path, seq.info.frame_rate, (seq.info.width, seq.info.height))
        painter = TrackPainter()
    out: list[tuple] = []
    tracker_seconds = 0.0
    bar = tqdm(frames, total=seq.info.length, desc=seq.name, unit="frame", disable=None if progress else True,
               position=position, leave=leave, dynamic_ncols=True)
    for frame_no, image in bar:
        idx = per_frame[frame_no]
        dets = Detections(rows.data[idx, 2:6], rows.data[idx, 6])
        if cfg.tracker in APPEARANCE_TRACKERS:
            dets = _with_features(dets, rows, idx, use_file_features)
            if cfg.tracker == "deepsort":  # the others threshold scores themselves
                dets = cfg.filter(dets)
            if descriptor is not None and image is not None:
                dets.feature = descriptor.embed(image, dets.tlwh) if len(dets) else np.zeros((0, descriptor.dim), np.float32)
            elif descriptor is not None:
                dets.feature = None  # no image, no appearance: this frame matches on motion alone
        warp = camera.estimate(image) if camera is not None and image is not None else None
        t0 = time.perf_counter()
        if warp is not None:
            tracker.apply_camera_motion(warp)
        tracks = tracker.update(dets)
        tracker_seconds += time.perf_counter() - t0
        out.extend((frame_no, tid, *box) for tid, box in tracks)
        if writer is not None:
            if image is None:  # keep the video's timing: a black frame with the boxes
                image = np.zeros((seq.info.height, seq.info.width, 3), np.uint8)
            # tentative tracks too, faintly: the results hold confirmed tracks only
            writer.write(painter.draw(image, tracks, f"{seq.name} {frame_no}", tracker.tentative_tracks()))
    bar.close()
    if writer is not None:
        tqdm.write(f"{seq.name}: video {writer.close()} ({writer.codec_name})")
    result = np.array(out, dtype=np.float64).reshape(-1, 6)
    if cfg.interpolate > 0:
        result = interpolate_gaps(result, cfg.interpolate)
    return SequenceResult(seq.name, seq.info.length, result, tracker_seconds, time.perf_counter() - t_start,
                          damaged, len(rows.data))


def _with_features(dets: Detections, rows: MotRows, idx: np.ndarray, use_file_features: bool) -> Detections:
    if use_file_features:
        return Detections(dets.tlwh, dets.confidence, rows.feature[idx])
    return dets


def run_and_write(seq: Sequence, cfg: RunConfig, out_dir: Path, detections_path: Path | None = None,
                  save_video: bool = False, progress: bool = True, position: int = 0,
                  strict: bool = False, *, rows: MotRows | None = None, descriptor=OPEN,
                  leave: bool = True) -> SequenceResult:
    """Track one sequence and write out_dir/data/<seq>.txt atomically (and a video if asked).
    rows: the detections, when already read (else from detections_path or det/det.txt)."""
    started = time.time()
    if rows is None:
        rows = seq.detections(detections_path) if detections_path else seq.detections()
    video = out_dir / "video" / f"{seq.name}.mp4" if save_video else None
    result = track_sequence(seq, cfg, rows, video, progress, position, strict, descriptor=descriptor,
                            leave=leave)
    target = out_dir / "data" / f"{seq.name}.txt"
    write_results(target, result.rows)
    remove_stale_temps(target, started)  # left by a run killed while writing this file
    return result
