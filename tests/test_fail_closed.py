"""Fail closed by construction: every combination of temporal settings covers every frame of
an object that is visible throughout, detection sees the displayed picture, and the API
cannot encode without a source of regions."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from redact.batch.runner import FileRunner, redact_paths
from redact.config import load_settings
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections
from redact.errors import ConfigError
from tests.conftest import frame_image, make_clip, read_video, shared_data

W, H, SQ = 96, 64, 12


def square_at(i: int, n: int) -> tuple[int, int, int, int]:
    """The object's true box in frame i: it crosses the whole frame diagonally in the clip."""
    t = i / max(n - 1, 1)
    x = round(4 + (W - SQ - 8) * t)
    y = round(4 + (H - SQ - 8) * t)
    return x, y, x + SQ, y + SQ


def square_clip(path: Path, fps: int, seconds: float, rotation: int = 0) -> Path:
    """A white square crossing a dim textured background (too dark for ``BrightDetector``),
    so paint shows wherever it lands."""
    n = max(2, round(fps * seconds))
    tb = Fraction(1, fps * 100)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.time_base = vs.codec_context.time_base = tb
        if rotation:
            vs.set_display_rotation(rotation)
        for i in range(n):
            img = frame_image(i, W, H) // 3
            x1, y1, x2, y2 = square_at(i, n)
            img[y1:y2, x1:x2] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i * 100, tb
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


class BrightDetector:
    """Finds the bright square by its pixels: a detector that sees the object whenever it is
    shown a frame. Records the shape of every picture it was given."""

    categories = ("face",)

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        out = []
        for img in frames:
            self.shapes.append(img.shape)
            ys, xs = np.nonzero(img.max(axis=2) > 160)
            boxes = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]] if len(xs) else []
            out.append(Detections.from_lists(boxes, [0.9] * len(boxes), ["face"] * len(boxes)))
        return out


def runner_for(detector, **overrides) -> FileRunner:
    # The matrix covers strides and tracking off too: accepted recall losses, each of which
    # forces a second look over every frame (here one that finds nothing: no real model).
    overrides.setdefault("accept_recall_loss", True)
    runner = FileRunner(load_settings(overrides=overrides, override_source="api"))
    runner.use_detectors(DetectorSet([detector], [], "cpu"))
    runner.second_look_detectors = lambda _config: DetectorSet([], [], "cpu")
    return runner


def painted_masks(audit_path: str, frames: int, width: int, height: int) -> np.ndarray:
    record = json.loads(Path(audit_path).read_text())
    masks = np.zeros((frames, height, width), bool)
    for entry in record["regions"]:
        for region in entry["regions"]:
            x1, y1, x2, y2 = (round(v) for v in region["box"])
            masks[entry["frame"], max(y1, 0):y2, max(x1, 0):x2] = True
    return masks


def uncovered_frames(masks: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> list[int]:
    return [i for i, (x1, y1, x2, y2) in enumerate(boxes)
            if masks[i, y1:y2, x1:x2].mean() < 0.999]


def reach(i: int, n: int, every: int, fps: int) -> tuple[int, int, int, int]:
    """The farthest frame ``i``'s paint may legitimately go: the hull of the square's positions
    over the frames a stride, padding or coasting can carry a box from (``every`` plus half a
    second either side), grown by the carried boxes' growth and the margin, and then some."""
    k = every + round(0.5 * fps) + 1
    boxes = np.array([square_at(j, n) for j in range(max(0, i - k), min(n, i + k + 1))])
    x1, y1 = boxes[:, :2].min(axis=0)
    x2, y2 = boxes[:, 2:].max(axis=0)
    gx, gy = 0.4 * (x2 - x1) + 3, 0.4 * (y2 - y1) + 3
    return (max(0, int(x1 - gx)), max(0, int(y1 - gy)), min(W, int(np.ceil(x2 + gx))),
            min(H, int(np.ceil(y2 + gy))))


def check_pixels(src: Path, dst: Path, n: int, every: int, fps: int) -> int:
    """Decode both: the square is painted over in every frame (nothing of its white is left),
    and outside what any region could reach the picture is the input's. Returns how many
    pixels were checked as untouched (0 when the settings let paint reach everywhere)."""
    before, after = read_video(src)["images"], read_video(dst)["images"]
    assert len(before) == len(after) == n
    checked = 0
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        x1, y1, x2, y2 = square_at(i, n)
        assert a[y1:y2, x1:x2].min() > 160  # the input really shows the square there
        assert b[y1:y2, x1:x2].max() < 120, (i, b[y1:y2, x1:x2].max())
        far = np.ones((H, W), bool)
        rx1, ry1, rx2, ry2 = reach(i, n, every, fps)
        far[ry1:ry2, rx1:rx2] = False
        if far.sum() >= 100:
            diff = np.abs(b[far].astype(int) - a[far]).mean()
            assert diff < 4, (i, diff)  # re-encoding alone differs by about 2
            checked += int(far.sum())
    return checked


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fps")
    return {fps: square_clip(folder / f"sq{fps}.mp4", fps, 3.0 if fps == 2 else 1.5)
            for fps in (2, 30, 60)}


MATRIX = list(itertools.product((True, False), (1, 2, 3, 10, 30), (True, False), (2, 30, 60)))


@pytest.mark.parametrize(("tracking", "every", "padding", "fps"), MATRIX)
def test_every_frame_redacted_for_every_setting(tmp_path, clips, tracking, every, padding,
                                                fps):
    overrides = {"tracking": tracking, "detect_every": every, "style": "solid"}
    if not padding:
        overrides.update(pad_before_s=0.0, pad_after_s=0.0)
    result = runner_for(BrightDetector(), **overrides).run(clips[fps], tmp_path / "o.mp4")
    assert result.status == "ok", result.error
    n = result.frames
    assert n == max(2, round(fps * (3.0 if fps == 2 else 1.5)))
    masks = painted_masks(result.audit, n, W, H)
    assert uncovered_frames(masks, [square_at(i, n) for i in range(n)]) == []
    assert result.output == str(tmp_path / "o.mp4")
    checked = check_pixels(clips[fps], tmp_path / "o.mp4", n, every, fps)
    if every <= 3 and fps >= 30:  # paint may reach only part of each frame
        assert checked > 300 * n


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_detectors_see_the_displayed_picture_and_paint_the_stored_one(tmp_path, rotation):
    src = square_clip(tmp_path / "rot.mp4", 10, 1.0, rotation=rotation)
    detector = BrightDetector()
    result = runner_for(detector, detect_every=1, style="solid").run(src, tmp_path / "o.mp4")
    assert result.status == "ok", result.error
    shown = (W, H) if rotation in (90, -90) else (H, W)
    assert {s[:2] for s in detector.shapes} == {shown}
    masks = painted_masks(result.audit, result.frames, W, H)
    assert uncovered_frames(masks, [square_at(i, result.frames)
                                    for i in range(result.frames)]) == []
    check_pixels(src, tmp_path / "o.mp4", result.frames, 1, 10)  # stored pixels and boxes
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert next(c.decode(video=0)).rotation == (rotation if rotation != 180 else -180)


def test_video_api_refuses_to_encode_without_a_source_of_regions(tmp_path):
    from redact.batch.video import redact_video

    src = make_clip(tmp_path / "a.mp4")
    with pytest.raises(ConfigError, match="needs detectors or a plan"):
        redact_video(src, tmp_path / "o.mp4", ".mp4", load_settings().config, None)
    assert not (tmp_path / "o.mp4").exists()


def test_redact_paths_takes_one_path_as_a_string(tmp_path, monkeypatch):
    src = make_clip(tmp_path / "in" / "a.mp4") if (tmp_path / "in").mkdir() is None else None
    seen = []
    monkeypatch.setattr(FileRunner, "run", lambda self, s, d, **kw: seen.append(s))
    redact_paths(str(src), tmp_path / "out")
    assert seen == [src.resolve()]


@pytest.mark.models
def test_rotated_real_face_redacted_in_every_frame(tmp_path):
    """Real faces, stored sideways in a clip tagged to display upright (rotation 90). In this
    street photo the face model finds all 7 faces of 20 px or more upright and none sideways,
    so only detection on the displayed picture passes."""
    import cv2

    faces = shared_data("faces")
    meta = json.loads((faces / "annotations.json").read_text())
    entry = next(e for e in meta["images"] if e["file"] == "images/mask_maksssksksss3.jpg")
    entry = {**entry, "boxes": [b for b in entry["boxes"]
                                if min(b[2] - b[0], b[3] - b[1]) >= 20]}
    assert len(entry["boxes"]) == 7
    img = cv2.imread(str(faces / entry["file"]))
    h, w = img.shape[:2]
    h, w = h - h % 2, w - w % 2
    img = img[:h, :w]
    stored = np.ascontiguousarray(np.rot90(img, -1))  # displayed = rot90(stored, +1)
    path = tmp_path / "rot.mp4"
    n, tb = 15, Fraction(1, 15)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=15)
        vs.width, vs.height, vs.pix_fmt = h, w, "yuv420p"
        vs.time_base = vs.codec_context.time_base = tb
        vs.set_display_rotation(90)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(stored, format="bgr24")
            frame.pts, frame.time_base = i, tb
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    from redact.batch.runner import FileRunner as Runner

    result = Runner(load_settings()).run(path, tmp_path / "out.mp4")
    assert result.status == "ok", result.error
    masks = painted_masks(result.audit, n, h, w)
    # Each labelled face, turned like the stored picture: displayed (u, v) <- stored (W-v, u).
    stored_boxes = [(h - b[3], b[0], h - b[1], b[2]) for b in entry["boxes"]]
    for x1, y1, x2, y2 in stored_boxes:
        for i in range(n):
            assert masks[i, y1:y2, x1:x2].mean() > 0.9, (i, (x1, y1, x2, y2))
