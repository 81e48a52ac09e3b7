"""The tracking core: SORT and DeepSORT on NumPy and SciPy (never torch)."""
from tracker.deep_sort import DeepSort, DeepSortParams
from tracker.detections import Detections
from tracker.preprocessing import DetectionFilter, non_max_suppression
from tracker.sort import Sort, SortParams

__all__ = ["Sort", "SortParams", "DeepSort", "DeepSortParams", "Detections", "DetectionFilter",
           "non_max_suppression"]
