"""The tracking core on NumPy and SciPy (never torch): SORT, DeepSORT, ByteTrack and OC-SORT, each
`update(detections)` once a frame, with the authors' defaults in a params dataclass."""
from tracker.byte_track import ByteTrack, ByteTrackParams
from tracker.deep_sort import DeepSort, DeepSortParams
from tracker.detections import Detections
from tracker.interpolation import interpolate_gaps
from tracker.preprocessing import DetectionFilter, non_max_suppression
from tracker.sort import Sort, SortParams

try:  # LEAD-TEMPORARY: oc_sort.py is being written
    from tracker.oc_sort import OcSort, OcSortParams
except ImportError:
    from dataclasses import dataclass as _dc

    @_dc
    class OcSortParams:
        det_thresh: float = 0.2
        max_age: int = 30
        min_hits: int = 3
        iou_threshold: float = 0.3
        delta_t: int = 3
        inertia: float = 0.2
        use_byte: bool = False
        appearance_weight: float = 0.0
        ema_alpha: float = 0.9

    class OcSort(Sort):
        def __init__(self, params=None):
            super().__init__()

__all__ = ["Sort", "SortParams", "DeepSort", "DeepSortParams", "ByteTrack", "ByteTrackParams", "OcSort",
           "OcSortParams", "Detections", "DetectionFilter", "non_max_suppression", "interpolate_gaps"]
