"""DetectorSet: serial and concurrent detection give the same, fail-closed results."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from redact.detect.base import DetectorSet
from redact.detect.detections import CANDIDATE, Detections
from redact.errors import StageError


class Labelled:
    """Reports one box per frame, tagged with its category; records the threads it ran on."""

    def __init__(self, category: str, delay: float = 0.0, fail: bool = False) -> None:
        self.categories = (category,)
        self.delay, self.fail = delay, fail
        self.threads: set[str] = set()

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("model exploded")
        cat = self.categories[0]
        return [Detections.from_lists([[0, 0, f.shape[1], f.shape[0]]], [0.9], [cat])
                for f in frames]


FRAMES = [np.zeros((4, 6, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)]


def test_concurrent_matches_serial_and_keeps_frame_order():
    face, plate = Labelled("face", delay=0.05), Labelled("plate")
    detectors = DetectorSet([face, plate], [], "cpu")
    serial = detectors.detect(FRAMES)
    face.threads.clear(), plate.threads.clear()
    with detectors:
        jobs = [detectors.start([f]) for f in FRAMES]
        concurrent = [job.result()[0] for job in jobs]
    for a, b in zip(serial, concurrent, strict=True):
        assert a.xyxy.tolist() == b.xyxy.tolist()
        assert list(a.category) == list(b.category) == ["face", "plate"]
    # each detector ran in its own worker, never in two at once
    assert len(face.threads) == len(plate.threads) == 1 and face.threads != plate.threads
    assert "MainThread" not in face.threads | plate.threads


def test_a_failing_detector_fails_the_result():
    detectors = DetectorSet([Labelled("face"), Labelled("plate", fail=True)], [], "cpu")
    with detectors:
        job = detectors.start(FRAMES[:1])
        with pytest.raises(StageError, match="model exploded"):
            job.result()


def test_start_needs_the_context():
    with pytest.raises(RuntimeError, match="with"):
        DetectorSet([Labelled("face")], [], "cpu").start(FRAMES[:1])


@pytest.mark.models
def test_cuda_request_without_ort_cuda_is_written_down():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    from redact.detect.centerface import CenterFaceDetector
    from redact.models import ModelStore

    store = ModelStore()
    spec = store.specs()["centerface"]
    face = CenterFaceDetector(spec=spec, weights=store.ensure(spec), categories=("face",),
                              thresholds={"face": 0.5}, size=320, device="cuda")
    assert DetectorSet([face], [spec], "cuda").warnings == [face.warnings[0]]
    assert "onnxruntime-gpu" in face.warnings[0]


@pytest.mark.models
def test_thread_cap_reaches_every_cpu_session():
    """Batch workers split the cores: the face model and the plate model (ONNX Runtime on
    the CPU) both take the cap."""
    from redact.config import load_settings
    from redact.detect.base import set_cpu_threads
    from redact.models import ModelStore

    cap = 2
    set_cpu_threads(cap)
    try:
        detectors = DetectorSet.from_config(load_settings(overrides={"device": "cpu"}).config,
                                            ModelStore())
        detectors.detect([np.zeros((96, 128, 3), np.uint8)])
        face, plate = detectors.detectors[0], detectors.detectors[1]
        assert face.session.get_session_options().intra_op_num_threads == cap
        assert plate.onnx.session.get_session_options().intra_op_num_threads == cap
    finally:
        set_cpu_threads(0)


def test_letterbox_pads_to_the_stride_and_maps_back():
    from redact.detect.yolo_onnx import letterbox

    img, r, (left, top) = letterbox(np.zeros((1080, 1920, 3), np.uint8), 800)
    assert img.shape == (480, 800, 3) and r == pytest.approx(800 / 1920)
    assert (left, top) == (0, 15)  # 450 rows padded to 480, centred
    img, r, _ = letterbox(np.zeros((100, 60, 3), np.uint8), 320)  # small inputs are enlarged
    assert img.shape[0] == 320 and img.shape[1] % 32 == 0 and r == pytest.approx(3.2)


@pytest.mark.models
def test_plate_model_in_onnx_runtime_matches_ultralytics_torch(tmp_path, monkeypatch):
    """The CPU path (an ONNX graph derived from the pinned .pt, cached) finds the same
    plates as ultralytics' own torch predictor, at one and two input sizes."""
    import json

    import cv2

    from redact.detect.detections import iou_matrix
    from redact.detect.ultralytics_env import quiet_ultralytics
    from redact.detect.yolo_onnx import OnnxYolo, export_onnx
    from redact.models import ModelStore
    from tests.conftest import shared_data

    plates = shared_data("plates")
    store = ModelStore()
    spec = store.specs()["fastanpr-plate"]
    weights = store.ensure(spec)
    monkeypatch.setenv("REDACT_MODEL_DIR", str(tmp_path))  # derived graphs go here
    quiet_ultralytics()
    from ultralytics import YOLO

    graph = export_onnx(weights, spec.sha256)
    assert graph.parent == tmp_path / "derived" and weights.stem in graph.name
    stamp = graph.stat().st_mtime_ns
    cached = export_onnx(weights, spec.sha256)
    assert cached == graph and graph.stat().st_mtime_ns == stamp  # not exported again
    onnx, torch_model = OnnxYolo(graph), YOLO(str(weights), task="detect")
    assert onnx.names == torch_model.names  # the class map reads them from the graph
    entries = json.loads((plates / "annotations.json").read_text())["images"][:8]
    compared = 0
    for entry in entries:
        img = cv2.imread(str(plates / entry["file"]))
        for size in (800, 1216):
            xyxy, conf, _ = onnx.predict([img], size, 0.15)[0]
            ref = torch_model.predict([img], imgsz=size, conf=0.15, verbose=False,
                                      device="cpu")[0].boxes
            assert len(xyxy) == len(ref), entry["file"]
            if len(xyxy):
                assert iou_matrix(xyxy, ref.xyxy.numpy()).max(axis=1).min() > 0.98
                assert np.abs(np.sort(conf) - np.sort(ref.conf.numpy())).max() < 0.02
                compared += len(xyxy)
    assert compared >= 8


def test_yolo_second_pass_runs_on_stills_only():
    from redact.detect.yolo import YoloDetector

    det = YoloDetector.__new__(YoloDetector)  # no weights: the passes are what is tested
    det.still_fine_scale = 1.33
    scales = []

    def at(frames, scale, floor=0.0, close=False):
        scales.append(scale)
        boxes = [[0, 0, 10, 10]] if len(scales) == 1 else [[0, 0, 10, 10.2], [20, 20, 40, 30]]
        return ([Detections.from_lists(boxes, [0.5] * len(boxes), ["plate"] * len(boxes))],
                [np.zeros((0, 4), np.float32)])

    det._detect_at = at
    assert len(det.detect(FRAMES[:1], 1.0)[0]) == 1 and scales == [1.0]
    scales.clear()
    found = det.detect(FRAMES[:1], 1.5, still=True)[0]
    assert scales == [1.5, pytest.approx(1.995)]
    assert len(found) == 2  # the near-duplicate merged, the new plate kept


def test_two_face_models_finding_one_face_give_one_box_spanning_both():
    from tests.conftest import ScriptedDetector

    a = ScriptedDetector({0: [[10, 10, 30, 30], [60, 10, 70, 20]]})
    b = ScriptedDetector({0: [[12, 8, 32, 30]]})
    with DetectorSet([a, b], [], "cpu") as both:
        found = both.start([np.zeros((40, 80, 3), np.uint8)]).result()[0]
    # the shared face once, reaching as far as either box; the face only one model saw kept
    assert sorted(found.xyxy.tolist()) == [[10, 8, 32, 30], [60, 10, 70, 20]]


def test_plate_tiles_reach_the_asked_scale_on_large_frames_only():
    from redact.detect.tiles import tile_grid
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)  # no weights: the tiling is what is tested
    det.size, det.tiles, det.tile_above, det.tile_scale = 800, 2, 2.5, 1.0
    det.still_fine_scale, det.small_frame_scale = 1.0, 1.0
    assert det.tiles_across(2560, 1920, 1.0) == 4
    tiles = tile_grid(2560, 1920, det.tiles_across(2560, 1920, 1.0))
    assert max(max(t.x2 - t.x1, t.y2 - t.y1) for t in tiles) <= 800  # seen at >= 1x
    det.tile_scale = 0.5  # the frame at least at half scale: tiles up to 1600 px
    tiles = tile_grid(2560, 1920, det.tiles_across(2560, 1920, 1.0))
    assert len(tiles) == 4 and max(max(t.x2 - t.x1, t.y2 - t.y1) for t in tiles) <= 1600
    det.tile_scale = 2.0  # at least at 2x: tiles up to 400 px
    tiles = tile_grid(2560, 1920, det.tiles_across(2560, 1920, 1.0))
    assert max(max(t.x2 - t.x1, t.y2 - t.y1) for t in tiles) <= 400
    det.tile_scale = 0.0
    assert det.tiles_across(2560, 1920, 1.0) == 2  # large_frame_tiles alone
    det.tile_scale = 1.0
    calls = []

    def at(frames, scale, floor=0.0, close=False):
        calls.append([f.shape[:2] for f in frames])
        return [Detections.empty() for _ in frames], [np.zeros((0, 4)) for _ in frames]

    det._detect_at = at
    det.detect([np.zeros((1080, 1920, 3), np.uint8)])
    assert len(calls) == 1  # 1080p: under 2.5x the input, no tiles
    calls.clear()
    det.detect([np.zeros((1920, 2560, 3), np.uint8)])
    assert len(calls) == 2 and len(calls[1]) == 12  # the whole frame, then 4x3 tiles


def test_small_frames_get_a_second_enlarged_plate_pass():
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)
    det.size, det.tiles, det.tile_scale, det.still_fine_scale = 800, 0, 0.0, 1.33
    det.small_frame_scale = 2.0
    scales = []

    def at(frames, scale, floor=0.0, close=False):
        scales.append(round(scale * det.size))
        hit = [[0, 0, 10, 10]] if len(scales) == 2 else []  # only the enlarged pass sees it
        return ([Detections.from_lists(hit, [0.5] * len(hit), ["plate"] * len(hit))
                 for _ in frames], [np.zeros((0, 4)) for _ in frames])

    det._detect_at = at
    small = np.zeros((432, 768, 3), np.uint8)
    assert len(det.detect([small])[0]) == 1 and scales == [800, 1536]
    scales.clear()
    det.detect([np.zeros((270, 480, 3), np.uint8)])
    assert scales == [800, 960]
    scales.clear()
    det.detect([np.zeros((720, 1280, 3), np.uint8)])  # not smaller than the input
    assert scales == [800]
    scales.clear()
    det.detect([small], 1.5, still=True)  # stills have their own second pass
    assert scales == [1200, 1596]


def test_small_video_frames_get_the_closer_look_only_around_candidates():
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)
    det.size, det.tiles, det.tile_scale, det.still_fine_scale = 800, 0, 0.0, 1.33
    det.small_frame_scale, det.max_upscale, det.closer_threshold = 2.0, 1.0, 0.01
    calls = []

    def at(frames, scale, floor=0.0, close=False):
        calls.append(([f.shape[:2] for f in frames], round(scale * det.size), floor, close))
        if len(calls) == 1:  # the whole frame: nothing over the threshold, one faint hint
            return [Detections.empty()], [np.array([[300, 200, 320, 210]], np.float32)]
        hit = [[54, 59, 74, 69]]  # in window pixels
        return ([Detections.from_lists(hit, [0.5], ["plate"]) for _ in frames],
                [np.zeros((0, 4)) for _ in frames])

    det._detect_at = at
    found = det.detect([np.zeros((360, 640, 3), np.uint8)])[0]
    # the whole frame at its own size (not enlarged to 800), asked for its faint boxes too;
    # then one 128 px window around the hint, enlarged twice, by the whole-frame pass's
    # model (the int8 twin on video), not the vehicle crops' float one
    assert calls == [([(360, 640)], 640, 0.01, False), ([(128, 128)], 256, 0.0, False)]
    assert found.xyxy.tolist() == [[300.0, 200.0, 320.0, 210.0]]  # back in frame pixels
    calls.clear()
    det.detect([np.zeros((360, 640, 3), np.uint8)], still=True)  # stills: the whole frame
    assert [c[1] for c in calls] == [800, 1064]
    # the closer look's hints: the unsure boxes, best first; a box over the threshold is
    # found already
    det.class_category, det.thresholds = {0: "plate"}, {"plate": 0.15}
    boxes = np.array([[0, 0, 9, 9], [10, 10, 19, 19], [20, 20, 29, 29]], np.float32)
    hints = det._unsure(boxes, np.array([0.5, 0.02, 0.1], np.float32), np.zeros(3, int))
    assert hints.tolist() == [[20, 20, 29, 29], [10, 10, 19, 19]]


def test_the_vehicle_finder_looks_less_often_while_it_sees_no_vehicle():
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)
    looked = []
    vehicles = iter([[], [], [[0, 0, 50, 30]], [], [], []])

    class Finder:
        def find(self, frame):
            looked.append(True)
            return np.array(next(vehicles), np.float32).reshape(-1, 4)

    det.vehicles = Finder()
    memory: dict = {}
    seen = [len(det._find_vehicles(np.zeros((8, 8, 3), np.uint8), memory)) for _ in range(9)]
    # looks, skips twice, looks, skips twice, looks (a vehicle: the next is looked at), looks
    assert seen == [0, 0, 0, 0, 0, 0, 1, 0, 0] and len(looked) == 4
    assert len(det._find_vehicles(np.zeros((8, 8, 3), np.uint8), None)) == 0
    assert len(looked) == 5  # without a video's memory (stills) it always looks


def test_plate_pass_settings_are_validated():
    from redact.config import Config
    from redact.errors import ConfigError

    with pytest.raises(ConfigError, match=r"plate\.tile_scale"):
        Config(plate_tile_scale=5.0)
    with pytest.raises(ConfigError, match=r"plate\.small_frame_scale"):
        Config(plate_small_frame_scale=0.5)
    assert Config(plate_tile_scale=0).plate.tile_scale == 0


@pytest.mark.models
def test_an_unwritable_model_folder_derives_the_onnx_graph_into_temp(tmp_path, monkeypatch):
    """Cluster nodes may mount the model folder read-only: the graph goes to local temp."""
    import tempfile

    from redact.detect.yolo_onnx import export_onnx
    from redact.models import ModelStore

    store = ModelStore()
    spec = store.specs()["fastanpr-plate"]
    weights = store.ensure(spec)
    blocked = tmp_path / "models"
    blocked.write_text("a file where the folder should be")  # mkdir fails, even for root
    monkeypatch.setenv("REDACT_MODEL_DIR", str(blocked))
    (tmp_path / "local").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "local"))
    graph = export_onnx(weights, spec.sha256)
    assert graph.parent == tmp_path / "local" / "redact-derived" and graph.is_file()


class WithCandidate:
    """One box over the threshold and one ``CANDIDATE`` box under it, on every frame."""

    categories = ("plate",)

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        sure = Detections.from_lists([[0, 0, 4, 2]], [0.9], ["plate"])
        low = Detections.from_lists([[5, 5, 9, 7]], [0.08], ["plate"], source=CANDIDATE)
        return [Detections.concat([sure, low]) for _ in frames]


@pytest.mark.parametrize("detectors", [1, 2])
def test_candidates_reach_only_a_caller_that_asks_for_them(detectors):
    """Stills, the second look and tracking-off never ask: they must never see a box under
    the threshold (it would be painted, or flagged, on its own)."""
    found = DetectorSet([WithCandidate()] * detectors, [], "cpu").detect(FRAMES)
    assert all(set(d.source) == {"detected"} for d in found)
    with DetectorSet([WithCandidate()] * detectors, [], "cpu") as both:
        found = both.start(FRAMES, candidates=True).result()
    assert all(set(d.source) == {CANDIDATE, "detected"} for d in found)


def test_yolo_candidates_never_suppress_a_box_over_the_threshold():
    from redact.detect.yolo import YoloDetector

    det = object.__new__(YoloDetector)
    det.categories, det.class_category = ("plate",), {0: "plate"}
    det.thresholds, det.continue_threshold = {"plate": 0.15}, 0.05
    det.size, det.tiles, det.tile_above, det.tile_scale = 800, 0, 0.0, 1.0
    det.still_fine_scale, det.small_frame_scale = 1.0, 1.0
    kept = det._keep(np.array([[0, 0, 10, 10], [50, 50, 60, 60], [90, 90, 99, 99]], np.float32),
                     np.array([0.6, 0.08, 0.01], np.float32), np.array([0, 0, 0]))
    assert kept.source.tolist() == ["detected", CANDIDATE]  # 0.01: under both, dropped
    calls = []

    def at(frames, scale, floor=0.0, close=False):
        # whole frame: a weak, larger twin of the plate a tile finds surely, and a weak box
        # right on the whole-frame plate; tiles: the sure plate
        calls.append(len(frames))
        none = [np.zeros((0, 4)) for _ in frames]
        if len(calls) == 1:
            return [Detections.concat([
                Detections.from_lists([[100, 100, 160, 130]], [0.5], ["plate"]),
                Detections.from_lists([[101, 100, 160, 131], [10, 10, 70, 40]], [0.1, 0.1],
                                      ["plate", "plate"], source=CANDIDATE)])], none
        return [Detections.from_lists([[12, 10, 70, 40]], [0.9], ["plate"])
                if i == 0 else Detections.empty() for i in range(len(frames))], none

    det._detect_at = at
    found = det.detect([np.zeros((1920, 2560, 3), np.uint8)])[0]
    assert sorted(found.source) == ["detected", "detected"]  # both candidates add nothing
    assert len(calls) == 2


@pytest.mark.parametrize("tracking", [True, False])
def test_a_lone_candidate_is_never_painted(tmp_path, tracking):
    import json

    from redact.batch.runner import FileRunner
    from redact.config import load_settings
    from tests.conftest import make_clip

    src = make_clip(tmp_path / "c.mp4", width=64, height=48, n=6)
    runner = FileRunner(load_settings(overrides={"detect_every": 1, "verify_output": "off",
                                                 "tracking": tracking,
                                                 "accept_recall_loss": not tracking},
                                      override_source="api"))
    runner.use_detectors(DetectorSet([WithCandidate()], [], "cpu"))
    # tracking off forces a second look; one that finds nothing (no real model).
    runner.second_look_detectors = lambda _config: DetectorSet([], [], "cpu")
    result = runner.run(src, tmp_path / "out" / "c.mp4")
    assert result.status == "ok", result.error
    audit = json.loads(Path(result.audit).read_text())
    boxes = [r["box"] for entry in audit["regions"] for r in entry["regions"]]
    assert boxes and all(b[0] < 5 for b in boxes), boxes  # only the sure box, on every frame


@pytest.mark.models
def test_small_people_in_a_still_get_their_heads_painted_but_never_on_video():
    """A crowd photo whose far-off heads (1-3 px) no face model resolves: the COCO person
    model still finds those people, and on a still their head ends are faces."""
    import cv2

    from redact.config import Config
    from redact.models import ModelStore
    from redact.render.paint import render_boxes
    from tests.conftest import shared_data

    image = cv2.imread(str(shared_data("faces") / "images" / "mask_maksssksksss64.jpg"))
    heads = [[207, 38, 208, 40], [216, 37, 218, 39], [243, 34, 246, 37]]  # annotated faces
    config = Config(categories=("face",), face_model="mb3-centernet-coco",
                    face_second_model=None, face_person_model=None)
    person = DetectorSet.from_config(config, ModelStore())
    still = person.detect([image], 1.5, still=True)[0]
    assert len(still) and set(still.category) == {"face"}
    assert max(still.xyxy[:, 3] - still.xyxy[:, 1]) <= 0.3 * 80 + 1e-3  # heads, small people
    grown = render_boxes(still, config, image.shape[1], image.shape[0]).xyxy  # as painted
    for x1, y1, x2, y2 in heads:
        assert any(b[0] <= x1 and b[1] <= y1 and b[2] >= x2 and b[3] >= y2 for b in grown)
    assert not len(person.detect([image])[0])  # a video frame: never
    # in the default face set, beside CenterFace and YuNet
    default = DetectorSet.from_config(Config(categories=("face",)), ModelStore())
    assert [m.name for m in default.models] == ["centerface", "yunet", "mb3-centernet-coco"]


def test_the_person_model_costs_nothing_on_video_frames():
    from redact.detect.coco import CocoCenterNetDetector

    det = object.__new__(CocoCenterNetDetector)
    det.categories, det.person_max_height = ("face",), 80

    def never(frame):
        raise AssertionError("the model ran on a video frame")

    det._detect = never
    assert [len(d) for d in det.detect(FRAMES)] == [0, 0]


def square_view_detector(square_views: bool):
    """The COCO detector (screens only) with its graph replaced: on the whole 640x480 photo
    a tv at 0.3; on each 480x480 square, a laptop box reaching past the tv's (IoU ≥ 0.3 with
    it) and a phone far from any screen of the whole photo, both at 0.12."""
    from redact.detect.coco import COCO80, CocoCenterNetDetector

    det = object.__new__(CocoCenterNetDetector)
    det.categories, det.people, det.person_max_height = ("screen",), (), 80
    det.thresholds = {"screen": 0.1}
    det.class_category = {COCO80.index(n): "screen" for n in ("tv", "laptop", "cell phone")}
    det.square_views = square_views
    calls = []

    def raw(frame):
        calls.append(frame.shape[:2])
        if frame.shape[1] == 640:  # the whole photo
            return (np.array([[200, 100, 400, 250]], np.float32), np.array([0.3], np.float32),
                    np.array([COCO80.index("tv")]))
        # a square: the left one starts at x 0, the right one at 160 (square_tiles)
        left = int(frame[0, 0, 0] == 0)
        shift = 0 if left else 160
        boxes = np.array([[120 - shift, 100, 400 - shift, 330],
                          [20 - shift + 160 * (1 - left), 400, 60 - shift + 160 * (1 - left),
                           460]], np.float32)
        return (boxes, np.array([0.12, 0.12], np.float32),
                np.array([COCO80.index("laptop"), COCO80.index("cell phone")]))

    det._raw = raw
    return det, calls


def test_the_second_screen_model_looks_at_squares_of_a_still_where_it_found_a_screen():
    """Issue 18: the COCO graph stretches a photo to its square input; squares of the photo
    find a laptop beside a tv scored under the threshold on the stretched photo. Only boxes
    that touch a screen of the whole photo count (a lone square-view phone does not), and
    only on stills."""
    photo = np.zeros((480, 640, 3), np.uint8)
    photo[:, 160:] = 1  # tells the fake graph which square it is shown
    det, calls = square_view_detector(True)
    found = det.detect([photo], still=True)[0]
    assert calls == [(480, 640), (480, 480), (480, 480)]
    assert [120, 100, 400, 330] in found.xyxy.tolist()  # the laptop, from the left square
    assert not any(b[1] >= 400 for b in found.xyxy.tolist())  # never the lone phone
    calls.clear()
    assert len(det.detect([photo])[0]) == 1 and calls == [(480, 640)]  # video: whole only
    off, calls = square_view_detector(False)
    assert off.detect([photo], still=True)[0].xyxy.tolist() == [[200, 100, 400, 250]]
    assert calls == [(480, 640)]


def test_square_views_are_on_by_default_and_reach_the_coco_detector():
    from redact.config import Config
    from redact.detect.base import backend_settings

    assert Config().screen.second_square_views
    assert backend_settings("coco-centernet", Config(), ["screen"])["square_views"]
    off = Config(screen_second_square_views=False)
    assert not backend_settings("coco-centernet", off, ["screen"])["square_views"]


def test_nms_keeps_what_opencv_keeps():
    """The one NMS (also YOLO's ONNX path) keeps the boxes OpenCV's NMSBoxes keeps."""
    import cv2

    from redact.detect.detections import nms

    rng = np.random.default_rng(7)
    for _ in range(20):
        xy = rng.uniform(0, 200, (60, 2)).astype(np.float32)
        wh = rng.uniform(5, 60, (60, 2)).astype(np.float32)
        score = rng.uniform(0.3, 1.0, 60).astype(np.float32)
        ours = nms(np.concatenate([xy, xy + wh], axis=1), score, 0.5)
        theirs = cv2.dnn.NMSBoxes(np.concatenate([xy, wh], axis=1).tolist(), score.tolist(),
                                  0.0, 0.5)
        assert sorted(ours.tolist()) == sorted(np.asarray(theirs).reshape(-1).tolist())
        assert list(score[ours]) == sorted(score[ours], reverse=True)


def test_onnx_sessions_do_not_spin(monkeypatch):
    """Every ONNX session comes from one factory that turns ORT's busy-waiting off."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from redact.detect.onnx_session import make_session

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    seen = []
    real = ort.InferenceSession

    def spy(source, options, providers):
        seen.append((options.get_session_config_entry("session.intra_op.allow_spinning"),
                     options.intra_op_num_threads, providers))
        return real(source, options, providers=providers)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    session = make_session(model.SerializeToString(), threads=1)
    assert session.run(None, {"x": np.array([2.0], np.float32)})[0].tolist() == [2.0]
    assert seen == [("0", 1, ["CPUExecutionProvider"])]


class Boxes:
    """Scripted screen boxes ``(xyxy, score)``, the same on every frame."""

    categories = ("screen",)

    def __init__(self, *boxes) -> None:
        self.boxes = boxes

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        dets = Detections.from_lists([b for b, _ in self.boxes], [s for _, s in self.boxes],
                                     ["screen"] * len(self.boxes))
        return [dets for _ in frames]


SCREEN_FRAME = [np.zeros((100, 200, 3), np.uint8)]


def test_a_screen_box_under_the_alone_bar_needs_the_other_model_to_agree():
    ours = Boxes(([0, 0, 40, 40], 0.5), ([100, 10, 140, 50], 0.5), ([150, 50, 190, 90], 0.97))
    coco = Boxes(([4, 2, 42, 40], 0.12))
    found = DetectorSet([ours, coco], [], "cpu", {"screen": [0.95, 0.0]}).detect(SCREEN_FRAME)[0]
    # the agreed box (fused with the other model's), the lone box over the bar; the lone box
    # under the bar is gone; the other model's box stands alone whatever our model says
    assert sorted(found.xyxy.tolist()) == [[0, 0, 42, 40], [150, 50, 190, 90]]
    alone = DetectorSet([Boxes(([0, 0, 10, 10], 0.5)), coco], [], "cpu",
                        {"screen": [0.95, 0.0]}).detect(SCREEN_FRAME)[0]
    assert alone.xyxy.tolist() == [[4, 2, 42, 40]]


def test_an_unconfirmed_screen_box_is_a_candidate_for_the_tracker_only():
    ours, coco = Boxes(([100, 10, 140, 50], 0.5)), Boxes(([4, 2, 42, 40], 0.12))
    with DetectorSet([ours, coco], [], "cpu", {"screen": [0.95, 0.0]}) as both:
        found = both.start(SCREEN_FRAME, candidates=True).result()[0]
    assert sorted(zip(found.source, found.xyxy.tolist(), strict=True)) == [
        (CANDIDATE, [100, 10, 140, 50]), ("detected", [4, 2, 42, 40])]


def test_agreement_bars_come_from_the_screen_section_and_need_two_screen_models():
    from redact.config import Config
    from redact.detect.base import agreement_bars

    both = Config(categories=("face", "plate", "screen"))
    names = ["centerface", "fastanpr-plate", "screens-yolov8n", "yunet", "mb3-centernet-coco"]
    assert agreement_bars(both, names) == {
        "screen": [0.0, 0.0, both.screen.alone_threshold, 0.0, 0.0]}
    assert agreement_bars(Config(), names) == {}  # screens not asked for
    one = Config(categories=("screen",), screen_second_model="none", accept_recall_loss=True)
    assert agreement_bars(one, names) == {}  # nothing to agree with: the threshold decides


def test_video_frames_are_not_enlarged_beyond_max_upscale():
    import numpy as np

    from redact.detect.centerface import CenterFaceDetector

    det = CenterFaceDetector.__new__(CenterFaceDetector)
    det.size, det.coarse_size, det.max_upscale = 960, 480, 1.0
    small, large = np.zeros((360, 640, 3), np.uint8), np.zeros((1080, 1920, 3), np.uint8)
    assert det._fine_size(small, 1.0, still=False) == 640  # one pass at its own size
    assert det._fine_size(np.zeros((270, 480, 3), np.uint8), 1.0, still=False) == 480
    assert det._fine_size(large, 1.0, still=False) == 960
    assert det._fine_size(small, 1.5, still=True) == 1440  # stills keep their enlargement
    det.max_upscale = 4.0
    assert det._fine_size(small, 1.0, still=False) == 960


def test_a_subset_of_detections_is_the_same_boxes_read_only():
    d = Detections.from_lists([[0, 0, 10, 10], [5, 5, 20, 30]], [0.9, 0.3], ["face", "plate"])
    sub = d[np.array([False, True])]
    assert sub.xyxy.tolist() == [[5, 5, 20, 30]] and sub.category.tolist() == ["plate"]
    assert not sub.xyxy.flags.writeable and not sub.score.flags.writeable
    assert d[1].xyxy.shape == (1, 4) and len(d[0:1]) == 1 and len(d[[1, 0]]) == 2


def test_a_batch_is_split_across_the_cores_and_joined_in_order(monkeypatch):
    import redact.detect.onnx_session as onnx_session
    from redact.detect import base

    class Session:  # records each call's batch; outputs keyed by the inputs
        def __init__(self, provider="CPUExecutionProvider"):
            self.calls = []
            self.provider = provider

        def get_providers(self):
            return [self.provider, "CPUExecutionProvider"]

        def run(self, _names, feeds):
            (batch,) = feeds.values()
            self.calls.append(len(batch))
            return [batch * 2, batch[:, :1] + 1]

    batch = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    monkeypatch.setattr(base, "_cpu_threads", 0)
    monkeypatch.setattr(base.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    session = Session()
    doubled, first = onnx_session.run_batch(session, "x", batch)
    assert sorted(session.calls) == [2, 3]  # two calls side by side, one per core
    assert doubled.tolist() == (batch * 2).tolist()
    assert first.tolist() == (batch[:, :1] + 1).tolist()
    session = Session("CUDAExecutionProvider")  # a GPU session gets the batch whole
    onnx_session.run_batch(session, "x", batch)
    assert session.calls == [5]
    # one thread per model call by default; under a cap (batch worker processes) the cap,
    # and the batch in one call
    assert base.op_threads() == 1
    monkeypatch.setattr(base, "_cpu_threads", 3)
    session = Session()
    onnx_session.run_batch(session, "x", batch)
    assert session.calls == [5] and base.op_threads() == 3


def _centerface_head(yaw_nose_x: float) -> tuple[np.ndarray, ...]:
    """One 40x40-px face peak at cell (10, 10) of a 32x32 stride-4 grid; eyes at 0.3 and
    0.7 of its width, the nose at ``yaw_nose_x`` of it."""
    heat = np.zeros((32, 32), np.float32)
    heat[10, 10] = 0.9
    scale = np.full((2, 32, 32), np.log(40 / 4), np.float32)
    offset = np.zeros((2, 32, 32), np.float32)
    lms = np.full((10, 32, 32), 0.5, np.float32)
    lms[1], lms[3], lms[5] = 0.3, 0.7, yaw_nose_x
    return heat, scale, offset, lms


def test_centerface_widens_a_turned_face_toward_its_far_cheek():
    """The nose left of the eyes' midpoint (a face turned to the picture's left): its far
    cheek and ear lie right of the features the model boxes, so the box reaches right."""
    from redact.detect.centerface import decode

    heat, scale, offset, lms = _centerface_head(0.3 + 0.4 * 0.2)  # yaw -0.3 eye distances
    plain, _ = decode(heat, scale, offset, 0.5)
    turned, _ = decode(heat, scale, offset, 0.5, landmarks=lms, turn_reach=0.5)
    x1, y1, x2, y2 = plain[0]
    assert turned[0].tolist() == pytest.approx([x1, y1, x2 + 0.5 * 0.2 * 40, y2], abs=1e-4)
    heat, scale, offset, lms = _centerface_head(0.5)  # frontal: as the model boxed it
    assert decode(heat, scale, offset, 0.5, landmarks=lms, turn_reach=0.5)[0].tolist() \
        == plain.tolist()


def test_yunet_widens_a_turned_face_toward_its_far_cheek():
    from redact.detect.yunet import YuNetDetector

    class Net:  # OpenCV's FaceDetectorYN, scripted: x y w h, 5 landmarks (x, y), score
        def setInputSize(self, size):
            pass

        def detect(self, image):
            frontal = [100, 100, 50, 60, 115, 120, 135, 120, 125, 135, 117, 145, 133, 145, 0.9]
            # facing right: nose right of the eyes' midpoint by 0.5 eye distances
            turned = [300, 100, 50, 60, 315, 120, 335, 120, 335, 135, 320, 145, 336, 145, 0.9]
            return 1, np.array([frontal, turned], np.float32)

    det = object.__new__(YuNetDetector)
    det.net, det._input, det.threshold, det.turn_reach = Net(), (640, 480), 0.5, 0.5
    got = det._detect_at(np.zeros((480, 640, 3), np.uint8), 640).xyxy.tolist()
    assert got[0] == [100, 100, 150, 160]  # frontal: as boxed
    assert got[1] == pytest.approx([300 - 0.5 * 0.4 * 50, 100, 350, 160])  # reaches left
