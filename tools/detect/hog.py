"""OpenCV's HOG + linear SVM people detector (Dalal & Triggs 2005), the detector that needs no
model file.

cv2.HOGDescriptor with HOGDescriptor_getDefaultPeopleDetector slides a 64x128 window over an
image pyramid (detectMultiScale). The raw windows are kept (OpenCV's rectangle grouping off) and
thinned by NMS on their scores instead, so every box keeps its own score.

Scores: detectMultiScale gives each window its SVM margin m (the distance past the decision
boundary; hit_threshold is the least margin kept). The score is the logistic 1 / (1 + exp(-2 m)):
monotone in the margin, 0.5 at the boundary, about 0.88 at m = 1 and 0.98 at m = 2. It is a rank,
not a calibrated probability. The default min_score 0.8 (a margin of about 0.7) is where SORT did
best on PETS09-S2L1 and TUD-Stadtmitte together (HOTA 38.0 and MOTA 55.4 combined, against
36.3 and 25.4 keeping every window at 0.5; tools/bench/detector.py).

Boxes: the window holds the person with a margin (a 64x128 window is trained on people about
96 pixels tall); `tighten` shrinks each window about its centre to the person inside it, which
is what ground-truth boxes outline. The default (0.55, 0.75) is that geometry (96 of 128 pixels
tall, about 35 of 64 wide); on PETS09-S2L1 and TUD-Stadtmitte it gave SORT about 10 MOTA points
more than (0.6, 0.85) (tools/bench/detector.py).

Small people: the window cannot find anyone under 128 pixels tall at scale 1, so frames are
upscaled first by `upscale` (boxes are mapped back to the frame's pixels).

OpenCV versions: HOGDescriptor is in OpenCV 4's core; OpenCV 5 moved it to the contrib module
xobjdetect, so only the contrib wheels (opencv-contrib-python[-headless] 5.x) have it, still as
cv2.HOGDescriptor (checked with 5.1.0). An OpenCV without it is an InputError that says so
(hog_available() tells beforehand). Both builds give the same boxes (checked: 4.14 and contrib
5.1 on TUD-Stadtmitte frames).
"""
from __future__ import annotations

import cv2
import numpy as np

from tools.detect.detector import clip_boxes, nms
from tools.io.errors import InputError

NO_HOG = (f"the hog detector needs OpenCV's HOGDescriptor, which this OpenCV ({cv2.__version__}) lacks: "
          "OpenCV 5 moved it to opencv-contrib (pip install 'opencv-python-headless<5' "
          "'opencv-python<5', or opencv-contrib-python-headless); or use --detector FILE.onnx")


def _hog_module():
    """The namespace holding HOGDescriptor: cv2 (OpenCV 4) or cv2.xobjdetect (OpenCV 5 contrib)."""
    for module in (cv2, getattr(cv2, "xobjdetect", None)):
        if module is not None and hasattr(module, "HOGDescriptor"):
            return module
    return None


def hog_available() -> bool:
    """Whether the installed OpenCV has the HOG people detector."""
    return _hog_module() is not None


def _people_hog():
    """A HOGDescriptor set up with OpenCV's default (Dalal-Triggs) people SVM."""
    module = _hog_module()
    if module is None:
        raise InputError(None, NO_HOG)
    hog = module.HOGDescriptor()
    people = getattr(module, "HOGDescriptor_getDefaultPeopleDetector", None) or hog.getDefaultPeopleDetector
    hog.setSVMDetector(people())
    return hog


class HogDetector:
    name = "hog"

    def __init__(self, *, upscale: float = 1.5, win_stride: int = 8, padding: int = 8, scale: float = 1.05,
                 hit_threshold: float = 0.0, min_score: float = 0.8, nms_iou: float = 0.4,
                 tighten: tuple[float, float] = (0.55, 0.75)) -> None:
        """upscale: frames are enlarged by this factor before detection (1: as they are).
        win_stride, padding: the window step and the border added, in upscaled pixels.
        scale: the pyramid's step. hit_threshold: the least SVM margin kept. min_score: the
        least score (after the logistic) kept. nms_iou: NMS overlap. tighten: the fraction of
        the window's width and height the box keeps, about its centre."""
        self.hog = _people_hog()
        self.upscale = float(upscale)
        self.win_stride = (int(win_stride),) * 2
        self.padding = (int(padding),) * 2
        self.scale = float(scale)
        self.hit_threshold = float(hit_threshold)
        self.min_score = float(min_score)
        self.nms_iou = float(nms_iou)
        self.tighten = tuple(float(t) for t in tighten)

    def describe(self) -> str:
        return (f"hog (OpenCV HOG people detector, frames upscaled x{self.upscale:g}, stride "
                f"{self.win_stride[0]}, pyramid step {self.scale:g}, min score {self.min_score:g}, "
                f"NMS IoU {self.nms_iou:g})")

    def detect(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = image_bgr.shape[:2]
        image = image_bgr
        if self.upscale != 1.0:
            image = cv2.resize(image_bgr, (round(w * self.upscale), round(h * self.upscale)),
                               interpolation=cv2.INTER_LINEAR)
        win_w, win_h = self.hog.winSize
        if image.shape[1] < win_w or image.shape[0] < win_h:  # no window fits (and OpenCV 4.14 crashes on it)
            return np.zeros((0, 4)), np.zeros(0)
        rects, weights = self.hog.detectMultiScale(image, hitThreshold=self.hit_threshold,
                                                   winStride=self.win_stride, padding=self.padding,
                                                   scale=self.scale, groupThreshold=0)
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        boxes = np.asarray(rects, np.float64).reshape(-1, 4) / self.upscale
        margin = np.asarray(weights, np.float64).reshape(-1)
        scores = 1.0 / (1.0 + np.exp(-2.0 * margin))
        keep = scores >= self.min_score
        boxes, scores = boxes[keep], scores[keep]
        fw, fh = self.tighten
        boxes[:, 0] += boxes[:, 2] * (1 - fw) / 2
        boxes[:, 1] += boxes[:, 3] * (1 - fh) / 2
        boxes[:, 2] *= fw
        boxes[:, 3] *= fh
        order = nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[order], scores[order]
        boxes, inside = clip_boxes(boxes, w, h)
        return boxes[inside], scores[inside]
