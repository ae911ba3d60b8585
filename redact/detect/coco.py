"""A COCO-trained general object detector (MobileNetV3 CenterNet, ONNX) as a second screen
model: its ``tv``, ``laptop`` and ``cell phone`` classes are screens. Our own screen model
(models/screens/) learned from 126 real photos; this one from COCO's 118k, so one model's
miss is not a leak (models/screens/MB3_CENTERNET_CARD.md).

Mapped to ``face`` (``person`` in the registry), it finds people too far away for any face
model: on stills only, the head end of each small person is returned as a face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.detect.base import over_threshold
from redact.detect.detections import Detections
from redact.detect.onnx_session import make_session
from redact.models import ModelSpec

# The 80 COCO detection classes in the model's output order.
COCO80 = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
    "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)


class CocoCenterNetDetector:
    """Input: the whole frame stretched to the graph's fixed square (as the model was
    trained), RGB, 0-255. Output: up to 100 boxes (x1, y1, x2, y2, score, class) in input
    pixels, already peak-picked by the graph (no NMS needed)."""

    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], device: str, person_max_height: int = 80,
                 **_: object) -> None:
        self.categories = categories
        self.thresholds = thresholds
        self.person_max_height = person_max_height
        class_map = spec.class_to_category()
        self.class_category = {i: class_map[name] for i, name in enumerate(COCO80)
                               if name in class_map and class_map[name] in categories}
        if not self.class_category:
            raise ValueError(f"model {spec.name!r} maps none of {sorted(class_map)} to "
                             f"{', '.join(categories)}")
        self.session = make_session(weights)
        self.input = self.session.get_inputs()[0]
        self.side = int(self.input.shape[1])  # NHWC, fixed square
        self.warnings: list[str] = []
        if device == "cuda":
            self.warnings.append("screen detector CenterNet (COCO) ran on the CPU")

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        if not still and set(self.categories) <= {"face"}:
            return [Detections.empty() for _ in frames]  # heads are for stills only
        # The graph's input size is fixed: ``scale`` cannot enlarge it.
        out = []
        for frame in frames:
            found = self._detect(frame)
            people = found.category == "face"
            out.append(Detections.concat([found[~people],
                                          heads(found[people], self.person_max_height)
                                          if still else Detections.empty()]))
        return out

    def _detect(self, frame: np.ndarray) -> Detections:
        height, width = frame.shape[:2]
        interp = cv2.INTER_AREA if max(width, height) > self.side else cv2.INTER_LINEAR
        rgb = cv2.resize(frame, (self.side, self.side), interpolation=interp)[:, :, ::-1]
        out = self.session.run(None, {self.input.name: rgb[None].astype(np.float32)})[0][0]
        cats, keep = over_threshold(out[:, 5].astype(np.int64), out[:, 4], self.class_category,
                                    self.thresholds)
        boxes = out[keep, :4] * np.array([width, height, width, height], np.float32) / self.side
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        return Detections.from_lists(boxes, out[keep, 4], cats[keep]).clipped(width, height)


HEAD_SHARE = 0.3  # of a person box's height, from its top: the head and some shoulder


def heads(people: Detections, max_height: float) -> Detections:
    """The head end of each person box under ``max_height`` px tall, as a face box. Larger
    people have faces the face models resolve; a small one's face is a few pixels the face
    models cannot see, but the person is still there.

    >>> p = Detections.from_lists([[10, 20, 20, 40], [0, 0, 50, 200]], [0.3, 0.9],
    ...                           ["face", "face"])
    >>> heads(p, 80).xyxy.tolist()
    [[10.0, 20.0, 20.0, 26.0]]
    """
    h = people.xyxy[:, 3] - people.xyxy[:, 1]
    small = people[h <= max_height]
    xyxy = small.xyxy.copy()
    xyxy[:, 3] = xyxy[:, 1] + HEAD_SHARE * (xyxy[:, 3] - xyxy[:, 1])
    return small.replace(xyxy=xyxy)
