"""The original SORT (abewley/sort) and DeepSORT (nwojke/deep_sort), loaded for measurement only.

The originals are never part of the repository: they live under data/reference/ (git-ignored; see
data/reference/README.txt for where each file came from), or under $TRACK_REFERENCE_DIR. When they
are absent every entry point raises ReferenceMissing, which the bench scripts turn into a skip.

Their code is imported unchanged. Only the environment is adapted: `skimage` (used by sort.py's
display mode alone) is stubbed in sys.modules, and matplotlib is pointed at the Agg backend.
Both are imported under private module names so they can never shadow anything of ours.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np

from tools.bench.data_root import MOT15_TRAIN
from tools.io.sequence import frame_slices

ENV_VAR = "TRACK_REFERENCE_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = PROJECT_ROOT / "data" / "reference"
DEFAULT_DATA = MOT15_TRAIN  # sequences the benches compare on

_SORT_NAME = "_reference_sort"
_DEEPSORT_NAME = "_reference_deep_sort"
_PREPROCESSING_NAME = "_reference_deep_sort_preprocessing"


class ReferenceMissing(RuntimeError):
    """The original implementations are not on disk (they are never committed)."""


def reference_dir() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)


def _require(path: Path) -> Path:
    if not path.is_file():
        raise ReferenceMissing(
            f"original implementation not found: {path} (fetch the originals into {reference_dir()} "
            f"as described in data/reference/README.txt, or set {ENV_VAR})")
    return path


def _exec_module(name: str, path: Path, package_dir: Path | None = None) -> types.ModuleType:
    kwargs = {"submodule_search_locations": [str(package_dir)]} if package_dir is not None else {}
    spec = importlib.util.spec_from_file_location(name, path, **kwargs)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_sort() -> types.ModuleType:
    """abewley/sort's sort.py as a module (cached)."""
    if _SORT_NAME in sys.modules:
        return sys.modules[_SORT_NAME]
    path = _require(reference_dir() / "sort" / "sort.py")
    if "skimage" not in sys.modules:
        try:
            importlib.import_module("skimage")
        except ImportError:  # only used by sort.py's --display mode
            skimage = types.ModuleType("skimage")
            skimage.io = types.ModuleType("skimage.io")
            sys.modules["skimage"] = skimage
            sys.modules["skimage.io"] = skimage.io
    os.environ.setdefault("MPLBACKEND", "Agg")
    state = np.random.get_state()  # sort.py calls np.random.seed(0) on import
    try:
        return _exec_module(_SORT_NAME, path)
    finally:
        np.random.set_state(state)


def load_deepsort() -> tuple[types.ModuleType, types.ModuleType, types.ModuleType, types.ModuleType]:
    """nwojke/deep_sort: (tracker, nn_matching, detection, preprocessing) modules (cached)."""
    root = reference_dir() / "deep_sort"
    pkg_dir = root / "deep_sort"
    for name in ("__init__", "detection", "iou_matching", "kalman_filter", "linear_assignment",
                 "nn_matching", "track", "tracker"):
        _require(pkg_dir / f"{name}.py")
    _require(root / "application_util" / "preprocessing.py")
    if _DEEPSORT_NAME not in sys.modules:
        _exec_module(_DEEPSORT_NAME, pkg_dir / "__init__.py", pkg_dir)
    if _PREPROCESSING_NAME not in sys.modules:
        _exec_module(_PREPROCESSING_NAME, root / "application_util" / "preprocessing.py")
    tracker = importlib.import_module(f"{_DEEPSORT_NAME}.tracker")
    nn_matching = importlib.import_module(f"{_DEEPSORT_NAME}.nn_matching")
    detection = importlib.import_module(f"{_DEEPSORT_NAME}.detection")
    return tracker, nn_matching, detection, sys.modules[_PREPROCESSING_NAME]


# -- SORT ---------------------------------------------------------------------------------------

def sort_inputs(det_rows: np.ndarray, length: int) -> list[np.ndarray]:
    """Per-frame input of the original SORT, built as its __main__ does: rows [x1,y1,x2,y2,score]
    plus a zero 6th column (the stored sort.py reads an `original_id` there); frames without
    detections give an empty (0, 6) array."""
    out = [np.empty((0, 6))]
    for idx in frame_slices(det_rows, length)[1:]:
        dets = det_rows[idx, 2:7].copy()
        dets[:, 2:4] += dets[:, 0:2]
        out.append(np.hstack((dets, np.zeros((dets.shape[0], 1)))))
    return out


def new_original_sort(max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3):
    """A fresh original SORT tracker with its global ID counter reset (IDs start at 1)."""
    sort = load_sort()
    sort.KalmanBoxTracker.count = 0
    return sort.Sort(max_age=max_age, min_hits=min_hits, iou_threshold=iou_threshold)


def run_original_sort(det_rows: np.ndarray, length: int, max_age: int = 1, min_hits: int = 3,
                      iou_threshold: float = 0.3) -> np.ndarray:
    """Original SORT over frames 1..length (every frame, also empty ones): (K, 6) frame,id,x,y,w,h."""
    tracker = new_original_sort(max_age, min_hits, iou_threshold)
    out = []
    for frame, dets in enumerate(sort_inputs(np.asarray(det_rows, np.float64), length)[1:], start=1):
        for d in tracker.update(dets):
            out.append((frame, d[4], d[0], d[1], d[2] - d[0], d[3] - d[1]))
    return np.array(out, dtype=np.float64).reshape(-1, 6)


# -- DeepSORT -----------------------------------------------------------------------------------

def deepsort_inputs(det_rows: np.ndarray, features: np.ndarray, length: int, min_confidence: float,
                    nms_max_overlap: float, min_height: float = 0.0) -> list[list]:
    """Per-frame Detection lists exactly as deep_sort_app.py's frame_callback builds them:
    create_detections (file order, height filter), confidence filter, then NMS (always called,
    which also reorders the detections by score)."""
    _, _, detection, preprocessing = load_deepsort()
    Detection = detection.Detection
    out: list[list] = [[]]
    for idx in frame_slices(det_rows, length)[1:]:
        dets = []
        for i in idx:
            row = det_rows[i]
            bbox, confidence = row[2:6], row[6]
            if bbox[3] < min_height:
                continue
            dets.append(Detection(bbox, confidence, features[i]))
        dets = [d for d in dets if d.confidence >= min_confidence]
        boxes = np.array([d.tlwh for d in dets])
        scores = np.array([d.confidence for d in dets])
        indices = preprocessing.non_max_suppression(boxes, nms_max_overlap, scores)
        out.append([dets[i] for i in indices])
    return out


def new_original_deepsort(max_cosine_distance: float = 0.2, nn_budget: int | None = 100,
                          max_iou_distance: float = 0.7, max_age: int = 30, n_init: int = 3):
    tracker, nn_matching, _, _ = load_deepsort()
    metric = nn_matching.NearestNeighborDistanceMetric("cosine", max_cosine_distance, nn_budget)
    return tracker.Tracker(metric, max_iou_distance=max_iou_distance, max_age=max_age, n_init=n_init)


def report_original_deepsort(tracker) -> list[tuple[int, np.ndarray]]:
    """deep_sort_app.py's 'Store results': confirmed tracks with time_since_update <= 1."""
    return [(t.track_id, t.to_tlwh()) for t in tracker.tracks
            if t.is_confirmed() and t.time_since_update <= 1]


def run_original_deepsort(det_rows: np.ndarray, features: np.ndarray, length: int,
                          max_cosine_distance: float = 0.2, nn_budget: int | None = 100,
                          max_iou_distance: float = 0.7, max_age: int = 30, n_init: int = 3,
                          min_confidence: float = 0.3, nms_max_overlap: float = 0.7,
                          min_height: float = 0.0) -> np.ndarray:
    """Original DeepSORT over frames 1..length following deep_sort_app.py: (K, 6) frame,id,x,y,w,h."""
    det_rows = np.asarray(det_rows, np.float64)
    per_frame = deepsort_inputs(det_rows, features, length, min_confidence, nms_max_overlap, min_height)
    tracker = new_original_deepsort(max_cosine_distance, nn_budget, max_iou_distance, max_age, n_init)
    out = []
    for frame, dets in enumerate(per_frame[1:], start=1):
        tracker.predict()
        tracker.update(dets)
        for tid, box in report_original_deepsort(tracker):
            out.append((frame, tid, *box))
    return np.array(out, dtype=np.float64).reshape(-1, 6)


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The parser of a benchmark against the originals: its module docstring as the help (first
    paragraph above, the rest below), and --data / --sequences for sequences_or_skip."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=doc.split("\n\n", 1)[1])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder holding MOTChallenge sequences (default: %(default)s)")
    ap.add_argument("--sequences", nargs="*", help="only these sequence names")
    return ap


def sequences_or_skip(data: Path, names: list[str] | None) -> list | None:
    """The benchmark's sequences, or None (after saying why) when data or originals are missing.

    Benchmarks skip cleanly rather than fail on machines without the MOT15 data or the originals.
    """
    from tools.io.sequence import list_sequences

    if not data.is_dir():
        print(f"skip: no sequence folder at {data}")
        return None
    try:
        load_sort()
        load_deepsort()
    except ReferenceMissing as exc:
        print(f"skip: {exc}")
        return None
    seqs = [s for s in list_sequences(data) if not names or s.name in set(names)]
    if not seqs:
        print(f"skip: no sequences under {data}")
        return None
    return seqs
