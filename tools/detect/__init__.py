"""Person detectors for frames without a detection file: the Detector protocol, OpenCV's HOG
people detector, a user's YOLOX / YOLOv8 ONNX model, and running one over a sequence's frames
into MOTChallenge det rows (`track detect`, and `track run --video FILE` without --detections)."""
from __future__ import annotations

from tools.detect.detection_run import (DetectionRun, detect_frames, detect_sequence, detect_to_folder,
                                        write_detections)
from tools.detect.detector import Detector, nms, open_detector
from tools.detect.hog import HogDetector
from tools.detect.onnx_detector import OnnxDetector

__all__ = ["DetectionRun", "Detector", "HogDetector", "OnnxDetector", "detect_frames", "detect_sequence",
           "detect_to_folder", "nms", "open_detector", "write_detections"]
