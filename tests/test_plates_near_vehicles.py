"""The plate model's closer look around vehicles (``plate.vehicle_size``, detect/yolo.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from redact.config import Config
from redact.detect.detections import Detections
from redact.detect.tiles import vehicle_crops
from redact.errors import ConfigError
from tests.conftest import shared_data


class ScriptedVehicles:
    def __init__(self, boxes: list[list[float]]) -> None:
        self.boxes = np.array(boxes, np.float32).reshape(-1, 4)

    def find(self, frame: np.ndarray) -> np.ndarray:
        return self.boxes


def plate_detector(vehicles: list[list[float]] | None, plate_in_crop: list[float],
                   main: list[list[float]] | None = None):
    """A YoloDetector without weights: the full-frame pass finds ``main``; a pass over a
    crop (any input that is not a whole 1080p frame) finds ``plate_in_crop``, in the crop's
    pixels."""
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)
    det.size, det.tiles, det.tile_scale, det.still_fine_scale = 800, 0, 0.0, 1.0
    det.small_frame_scale, det.vehicle_size = 1.0, 480
    det.vehicles = None if vehicles is None else ScriptedVehicles(vehicles)
    calls = []

    def at(frames, scale, floor=0.0, close=False):
        calls.append((round(scale * det.size), [f.shape[:2] for f in frames]))
        out = []
        for frame in frames:
            boxes = (main or []) if frame.shape[:2] == (1080, 1920) else [plate_in_crop]
            out.append(Detections.from_lists(boxes, [0.5] * len(boxes), ["plate"] * len(boxes)))
        return out, [np.zeros((0, 4)) for _ in frames]

    det._detect_at = at
    return det, calls


def test_vehicle_crops_enlarge_small_vehicles_only_and_at_most_limit():
    boxes = np.array([[100, 100, 200, 150],    # small: enlarged to 480 px
                      [0, 0, 1000, 500],       # the frame already showed it at 0.42x
                      [5, 5, 12, 12],          # too small to hold a plate
                      [1900, 1000, 1920, 1080],  # 80 px long: 4x at most, clipped to frame
                      [300, 300, 400, 350]])
    crops = vehicle_crops(boxes, 1920, 1080, 480, 800 / 1920, 8)
    assert [(t.box, size) for t, size in crops] == [
        ((90, 95, 210, 155), 480), ((1898, 992, 1920, 1080), 352), ((290, 295, 410, 355), 480)]
    assert len(vehicle_crops(boxes, 1920, 1080, 480, 800 / 1920, 1)) == 1
    # A frame already seen at 2x: showing a 120 px crop at 240 px (2x) adds nothing.
    assert vehicle_crops(boxes[:1], 1920, 1080, 240, 2.0, 8) == []


def test_a_plate_only_the_vehicle_crop_shows_is_found_in_frame_pixels():
    det, calls = plate_detector([[100, 100, 200, 150]], [50, 30, 60, 34])
    found = det.detect([np.zeros((1080, 1920, 3), np.uint8)])[0]
    # the crop (90, 95)-(210, 155), 120 px long, looked at 480 px long (4x)
    assert calls == [(800, [(1080, 1920)]), (480, [(60, 120)])]
    assert found.xyxy.tolist() == [[140.0, 125.0, 150.0, 129.0]]
    assert found.category.tolist() == ["plate"]
    det, calls = plate_detector(None, [50, 30, 60, 34])  # the closer look off
    assert len(det.detect([np.zeros((1080, 1920, 3), np.uint8)])[0]) == 0
    assert len(calls) == 1


def test_a_crop_box_never_doubles_or_replaces_a_full_frame_box():
    det, _ = plate_detector([[100, 100, 200, 150]], [1, 2, 60, 30], main=[[90, 97, 150, 126]])
    found = det.detect([np.zeros((1080, 1920, 3), np.uint8)])[0]
    assert found.xyxy.tolist() == [[90.0, 97.0, 150.0, 126.0]]


def test_vehicle_settings_are_recall_settings():
    from redact.audit.second_look import second_look_config
    from redact.config.model import recall_reductions

    assert Config().plate.vehicle_size == 640 and Config().plate.vehicle_threshold == 0.05
    assert recall_reductions(Config(plate_vehicle_size=0)) == [
        "plate.vehicle_size 0 (default 640: lower lowers recall)"]
    assert recall_reductions(Config(plate_vehicle_model="none")) == [
        "plate.vehicle_model off (default mb3-centernet-coco)"]
    assert len(recall_reductions(Config(plate_vehicle_threshold=0.3))) == 1
    assert recall_reductions(Config(plate_vehicle_size=800)) == []
    with pytest.raises(ConfigError, match=r"plate\.vehicle_size"):
        Config(plate_vehicle_size=32)
    # the second look is one plain look: no crops
    assert second_look_config(Config()).plate.vehicle_size == 0


def test_a_vehicle_model_that_is_not_a_coco_model_is_refused():
    from redact.detect.base import check_models
    from redact.models import ModelStore

    with pytest.raises(ConfigError, match=r"plate\.vehicle_model 'centerface' is not a COCO"):
        check_models(Config(plate_vehicle_model="centerface"), ModelStore(offline=True))


def shrunk_turned_plate(entry: dict, image: np.ndarray, width: int
                        ) -> tuple[np.ndarray, list[int]]:
    """The photo turned 60 degrees about its vertical axis and shrunk until its plate is
    ``width`` px wide, on a grey 1920x1080 frame; with the plate's box in that frame."""
    h, w = image.shape[:2]
    squeeze = np.cos(np.radians(60))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0], [w * squeeze, 0.15 * h], [w * squeeze, 0.85 * h], [0, h]])
    turn = cv2.getPerspectiveTransform(src, dst)
    turned = cv2.warpPerspective(image, turn, (int(w * squeeze) + 1, h))
    x1, y1, x2, y2 = entry["boxes"][0]
    corners = cv2.perspectiveTransform(np.float32([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]]),
                                       turn)[0]
    (bx1, by1), (bx2, by2) = corners.min(0), corners.max(0)
    s = width / (bx2 - bx1)
    small = cv2.resize(turned, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    ox, oy = 900, 500
    frame[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small
    box = [int(ox + bx1 * s), int(oy + by1 * s), int(np.ceil(ox + bx2 * s)),
           int(np.ceil(oy + by2 * s))]
    return frame, box


@pytest.mark.models
def test_real_models_find_a_small_turned_plate_only_with_the_closer_look():
    from redact.detect.base import DetectorSet
    from redact.models import ModelStore

    root = shared_data("plates")
    ann = json.loads((root / "annotations.json").read_text())
    entry = next(e for e in ann["images"] if e["file"] == PHOTO)
    frame, box = shrunk_turned_plate(entry, cv2.imread(str(root / entry["file"])), 20)
    x1, y1, x2, y2 = box

    def covered(config: Config) -> bool:
        found = DetectorSet.from_config(config, ModelStore()).detect([frame])[0]
        mask = np.zeros(frame.shape[:2], bool)
        for bx1, by1, bx2, by2 in found.expanded(0.2, 1920, 1080).xyxy.astype(int):
            mask[by1:by2 + 1, bx1:bx2 + 1] = True
        return bool(mask[y1:y2, x1:x2].mean() >= 0.9)

    # The first plate model's closer look; the second model (ours) finds this one on the
    # whole frame, so it is off here.
    first = {"categories": ["plate"], "plate_second_model": "none", "accept_recall_loss": True}
    assert covered(Config(**first))
    assert not covered(Config(**first, plate_vehicle_size=0))


PHOTO = "images/alpr_br_AYO9034.jpg"


def test_crops_are_weighed_against_the_closest_look_the_frame_already_had():
    det, _ = plate_detector([], [0, 0, 1, 1])
    det.tiles, det.tile_above, det.tile_scale, det.small_frame_scale = 2, 2.5, 1.0, 2.0
    assert det.seen_scale(1920, 1080, 1.0) == pytest.approx(800 / 1920)  # the whole frame
    assert det.seen_scale(768, 432, 1.0) == 2.0  # the small-frame pass
    assert det.seen_scale(2560, 1920, 1.0) >= 1.0  # tiles of at most 800 px
    det.still_fine_scale = 1.33
    assert det.seen_scale(1280, 720, 1.5, still=True) == pytest.approx(1200 / 1280 * 1.33)
