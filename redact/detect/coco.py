"""A COCO-trained general object detector (MobileNetV3 CenterNet, ONNX) as a second screen
model: its ``tv``, ``laptop`` and ``cell phone`` classes are screens. Our own screen model
(models/screens/) learned from 126 real photos; this one from COCO's 118k, so one model's
miss is not a leak (models/screens/MB3_CENTERNET_CARD.md).

Its ``person`` class serves three categories (the registry maps it to each): ``face``, on
stills only, the head end of people too far away for any face model; ``head``, the head end
of every person (detect/people.py); ``person``, the whole box."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.detect.base import AGREE_IOU, over_threshold
from redact.detect.detections import Detections, iou_matrix
from redact.detect.onnx_session import make_session
from redact.detect.people import head_boxes, plausible_people
from redact.detect.tiles import square_tiles
from redact.models import ModelSpec

# The categories COCO's person class can serve, and the internal label of its raw boxes.
PEOPLE = ("face", "head", "person")
PERSON = "person-box"
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

    square_views: bool = False  # stills: see _square_views

    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], device: str, person_max_height: int = 80,
                 square_views: bool = False, **_: object) -> None:
        self.categories = categories
        self.thresholds = thresholds
        self.person_max_height = person_max_height
        self.square_views = square_views
        class_map = {name: cat for name, cat in spec.class_to_category().items()
                     if cat not in PEOPLE}
        self.class_category = {i: class_map[name] for i, name in enumerate(COCO80)
                               if name in class_map and class_map[name] in categories}
        # The categories this run asks of the person class (a class maps to one category
        # in ``class_to_category``, so these are read from the spec's lists).
        self.people = tuple(c for c in PEOPLE
                            if c in categories and "person" in spec.categories.get(c, ()))
        if self.people:
            self.class_category[COCO80.index("person")] = PERSON
            self.thresholds = {**thresholds, PERSON: min(thresholds[c] for c in self.people)}
        if not self.class_category:
            raise ValueError(f"model {spec.name!r} maps none of {sorted(class_map)} to "
                             f"{', '.join(categories)}")
        self.session = make_session(weights)
        self.input = self.session.get_inputs()[0]
        self.side = int(self.input.shape[1])  # NHWC, fixed square
        self.warnings: list[str] = []
        if device == "cuda":
            self.warnings.append("COCO detector CenterNet ran on the CPU")

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        if not still and set(self.categories) <= {"face"}:
            return [Detections.empty() for _ in frames]  # small heads are for stills only
        # The graph's input size is fixed: ``scale`` cannot enlarge it.
        out = []
        for frame in frames:
            found = self._detect(frame)
            if still and self.square_views:
                found = Detections.concat([found, self._square_views(frame, found)])
            people = found.category == PERSON
            out.append(Detections.concat([found[~people],
                                          *self._from_people(found[people], frame, still)]))
        return out

    def _from_people(self, people: Detections, frame: np.ndarray,
                     still: bool) -> list[Detections]:
        """Each asked-for category's boxes from the person boxes, at its own threshold."""
        people = plausible_people(people, frame.shape[1], frame.shape[0])
        out = []
        for cat in self.people:
            mine = people[people.score >= self.thresholds[cat]]
            if cat == "face":
                out.append(heads(mine, self.person_max_height) if still else Detections.empty())
            elif cat == "head":
                out.append(head_boxes(mine))
            else:
                out.append(mine.replace(category=np.full(len(mine), cat, dtype=object)))
        return out

    def _detect(self, frame: np.ndarray) -> Detections:
        height, width = frame.shape[:2]
        boxes, scores, classes = self._raw(frame)
        cats, keep = over_threshold(classes, scores, self.class_category, self.thresholds)
        return Detections.from_lists(boxes[keep], scores[keep], cats[keep]).clipped(width,
                                                                                    height)

    def _raw(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return run_centernet(self.session, self.input.name, self.side, frame)

    def _square_views(self, frame: np.ndarray, found: Detections) -> Detections:
        """Stills: the screens the graph finds on squares of the photo (``square_tiles``)
        that overlap (IoU ≥ ``AGREE_IOU``) a screen of the whole photo (``found``).

        The graph's input is a fixed square, so the whole photo reaches it stretched (a 4:3
        photo squeezed by a quarter, a panorama several times); on squares it sees the photo
        undistorted, a little larger, and finds screens the stretched photo scores under the
        threshold. Alone those boxes paint false screens (on the tune half of the screen
        photos, at the same 0.1, 3 of 25 screen-free photos instead of 1, and 21 of 192 plate
        photos instead of 11), so only where the whole photo has a screen they touch: there
        they add a screen beside it or reach further than its box (a laptop in front of a tv)
        and paint no new photo. No screen on the whole photo, no squares: nothing to pay on
        the others (benchmarks/RESULTS.md, screens)."""
        height, width = frame.shape[:2]
        screens = found[found.category == "screen"]
        tiles = square_tiles(width, height)
        if not len(screens) or len(tiles) < 2:
            return Detections.empty()
        parts = []
        for tile in tiles:
            boxes, scores, classes = self._raw(tile.crop(frame))
            cats, keep = over_threshold(classes, scores, self.class_category, self.thresholds)
            keep &= cats == "screen"
            parts.append(tile.to_frame(Detections.from_lists(boxes[keep], scores[keep],
                                                             cats[keep])))
        extra = Detections.concat(parts).clipped(width, height)
        seen = iou_matrix(extra.xyxy, screens.xyxy).max(axis=1, initial=0.0)
        return extra[seen >= AGREE_IOU]


def run_centernet(session, input_name: str, side: int, frame: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph's boxes (x1, y1, x2, y2 in ``frame`` pixels, unclipped), scores and COCO80
    class indices for one BGR frame, stretched to the graph's ``side`` × ``side`` input."""
    height, width = frame.shape[:2]
    interp = cv2.INTER_AREA if max(width, height) > side else cv2.INTER_LINEAR
    rgb = cv2.resize(frame, (side, side), interpolation=interp)[:, :, ::-1]
    out = session.run(None, {input_name: rgb[None].astype(np.float32)})[0][0]
    boxes = out[:, :4] * np.array([width, height, width, height], np.float32) / side
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
    return boxes, out[:, 4], out[:, 5].astype(np.int64)


VEHICLES = ("car", "motorcycle", "bus", "truck")


class VehicleFinder:
    """The COCO model's vehicles (car, motorcycle, bus, truck) as boxes in frame pixels: where
    the plate model takes a closer look (``plate.vehicle_size``, detect/yolo.py)."""

    def __init__(self, weights: Path, threshold: float) -> None:
        self.session = make_session(weights)
        self.input = self.session.get_inputs()[0]
        self.side = int(self.input.shape[1])
        self.threshold = threshold
        self.classes = np.array([COCO80.index(name) for name in VEHICLES])

    def find(self, frame: np.ndarray) -> np.ndarray:
        """(N, 4) float32 vehicle boxes, clipped to the frame, best score first."""
        height, width = frame.shape[:2]
        boxes, scores, classes = run_centernet(self.session, self.input.name, self.side, frame)
        keep = np.isin(classes, self.classes) & (scores >= self.threshold)
        boxes = boxes[keep][np.argsort(-scores[keep], kind="stable")]
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
        return boxes.astype(np.float32)


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
    return small.replace(xyxy=xyxy, category=np.full(len(small), "face", dtype=object))
