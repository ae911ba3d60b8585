"""Dark frames are looked at twice, as recorded and brightened (detect/exposure.py); what either
look finds is redacted, and what is written is the frame as recorded."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from redact.config import Config, load_settings
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections
from redact.detect.exposure import brightness, dark_copies

BOX = [16, 16, 48, 48]


class SeesInTheDark:
    """Finds a face at BOX only on a frame bright enough to see it, as the face models do."""

    categories = ("face",)

    def __init__(self) -> None:
        self.seen: list[float] = []

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        out = []
        for frame in frames:
            self.seen.append(brightness(frame))
            n = int(brightness(frame) > 60)
            out.append(Detections.from_lists([BOX] * n, [0.9] * n, ["face"] * n))
        return out


def test_only_frames_under_the_bar_get_a_brightened_copy():
    dark = np.full((32, 32, 3), 20, np.uint8)
    dark[8:24, 8:24] = 40  # something lighter on a dark wall keeps its contrast, brightened
    day = np.full((32, 32, 3), 120, np.uint8)
    recorded = dark.copy()
    copy, none = dark_copies([dark, day], Config().dark_below)
    assert none is None
    assert 60 < brightness(copy) < 140 and int(copy[16, 16, 0]) > int(copy[0, 0, 0])
    assert dark_copies([dark], 0.0) == [None]  # 0 turns it off
    assert np.array_equal(dark, recorded)  # the frame itself is never changed


class SeesEach:
    """Finds one box on a dark frame and another on a bright one."""

    categories = ("plate",)

    def __init__(self, on_dark: list[float], on_bright: list[float]) -> None:
        self.on_dark, self.on_bright = on_dark, on_bright

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        return [Detections.from_lists([self.on_bright if brightness(f) > 60 else self.on_dark],
                                      [0.9], ["plate"]) for f in frames]


def test_what_either_look_finds_is_kept_and_the_same_object_is_one_box():
    dark = np.full((64, 64, 3), 18, np.uint8)
    apart = DetectorSet([SeesEach([0, 0, 10, 5], [40, 40, 60, 50])], [], "cpu", dark_below=48)
    assert sorted(apart.detect([dark])[0].xyxy.tolist()) == [[0, 0, 10, 5], [40, 40, 60, 50]]
    same = DetectorSet([SeesEach([40, 40, 58, 50], [42, 40, 60, 50])], [], "cpu", dark_below=48)
    assert same.detect([dark])[0].xyxy.tolist() == [[40, 40, 60, 50]]  # fused, reaching both
    with same:  # the threaded path the pipeline takes
        assert same.start([dark, dark]).result()[1].xyxy.tolist() == [[40, 40, 60, 50]]


def test_the_detectors_see_a_dark_frame_lifted_and_the_output_keeps_it_dark(tmp_path):
    from redact.batch.runner import FileRunner

    src, dst = tmp_path / "night.mp4", tmp_path / "out" / "night.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(6):
            image = np.full((64, 64, 3), 18, np.uint8)
            image[20:44, 20:44] = 45  # a face a viewer could brighten and recognise
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    settings = load_settings(overrides={"detect_every": 1, "verify_output": "off"},
                             override_source="api")
    runner = FileRunner(settings)
    detector = SeesInTheDark()
    runner.use_detectors(DetectorSet([detector], [], "cpu",
                                     dark_below=settings.config.dark_below))
    result = runner.run(src, dst)
    assert result.status == "ok", result.error
    assert result.counts.get("face", 0) == 6  # found on every frame, lifted
    assert min(detector.seen) < 30 < 60 < max(detector.seen)  # each frame seen twice
    assert len(detector.seen) == 12
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        for before, after in zip(a.decode(video=0), b.decode(video=0), strict=True):
            x, y = before.to_ndarray(format="gray"), after.to_ndarray(format="gray")
            # written as recorded outside the paint (not lifted), and painted over the face
            assert abs(float(x[:8].mean()) - float(y[:8].mean())) < 3
            assert not np.array_equal(x[20:44, 20:44], y[20:44, 20:44])


def test_unlifted_the_same_detector_finds_nothing_there():
    detector = SeesInTheDark()
    dark = np.full((64, 64, 3), 18, np.uint8)
    assert not len(DetectorSet([detector], [], "cpu").detect([dark])[0])
    assert len(DetectorSet([detector], [], "cpu", dark_below=48.0).detect([dark])[0]) == 1


def test_a_lower_bar_is_a_recall_loss_to_be_accepted():
    from redact.batch.runner import recall_reductions

    assert any("dark_below" in r for r in recall_reductions(Config(dark_below=0)))
    assert not recall_reductions(Config())
