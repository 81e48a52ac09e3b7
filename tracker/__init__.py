"""The tracking core on NumPy and SciPy (never torch): SORT, DeepSORT, ByteTrack and OC-SORT, each
`update(detections)` once a frame, with the authors' defaults in a params dataclass."""
from tracker.byte_track import ByteTrack, ByteTrackParams
from tracker.deep_sort import DeepSort, DeepSortParams
from tracker.detections import Detections
from tracker.interpolation import interpolate_gaps
from tracker.oc_sort import OcSort, OcSortParams
from tracker.preprocessing import DetectionFilter, non_max_suppression
from tracker.sort import Sort, SortParams

__all__ = ["Sort", "SortParams", "DeepSort", "DeepSortParams", "ByteTrack", "ByteTrackParams", "OcSort",
           "OcSortParams", "Detections", "DetectionFilter", "non_max_suppression", "interpolate_gaps"]
