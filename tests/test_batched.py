"""Batched detection (``detect_batch``: N detected frames per detector call) gives the same
regions as one frame per call, so a GPU run differs from a CPU run only in the device."""

from __future__ import annotations

import numpy as np
import pytest

from redact.config import load_settings
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections
from redact.io.hashing import sha256_file
from tests.conftest import make_clip, shared_data


class ContentDetector:
    """A box that depends on the pixels it is given, so a result handed to the wrong frame
    (or a rotation applied twice) shows up; records the size of each call."""

    categories = ("face",)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        self.calls.append(len(frames))
        out = []
        for frame in frames:
            h, w = frame.shape[:2]
            v = float(frame[: h // 2, : w // 3].mean()) / 255.0  # not symmetric under rotation
            box = [w * 0.1 * v, h * 0.2, w * (0.3 + 0.5 * v), h * 0.6]
            out.append(Detections.from_lists([box], [0.5 + 0.4 * v], ["face"]))
        return out


def plan_of(clip, **overrides) -> tuple[list[dict], ContentDetector]:
    from redact.batch.video import redact_video

    overrides.setdefault("verify_output", "off")
    config = load_settings(overrides=overrides, override_source="api").config
    detector = ContentDetector()
    outcome = redact_video(clip, None, clip.suffix, config, DetectorSet([detector], [], "cpu"))
    return list(outcome.plan_frames), detector


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("rotation", [0, 90])
def test_batched_plan_equals_unbatched(tmp_path, every, rotation):
    clip = make_clip(tmp_path / "c.mp4", width=64, height=48, n=23, rotation=rotation)
    one, single = plan_of(clip, detect_every=every)
    assert set(single.calls) == {1}
    for n in (2, 4, 7):
        many, batched = plan_of(clip, detect_every=every, detect_batch=n)
        assert many == one, f"detect_batch={n} changed the plan"
        assert max(batched.calls) == n and sum(batched.calls) == sum(single.calls)
        assert len(batched.calls) < len(single.calls)


def test_batched_output_is_byte_identical(tmp_path, fake_runner):
    clip = make_clip(tmp_path / "in.mp4", width=64, height=48, n=17)
    script = {i: [[4 + i, 4, 30 + i, 30]] for i in range(17)}
    outs = []
    for n in (1, 5):
        runner = fake_runner(script, detect_batch=n)
        result = runner.run(clip, tmp_path / f"out{n}" / "in.mp4")
        assert result.status == "ok", result.error
        outs.append(sha256_file(tmp_path / f"out{n}" / "in.mp4"))
    assert outs[0] == outs[1]


def test_detect_batch_is_validated_and_not_in_the_digest():
    from redact.config import Config
    from redact.errors import ConfigError

    with pytest.raises(ConfigError, match="detect_batch"):
        Config(detect_batch=0)
    assert Config(detect_batch=8).digest() == Config().digest()


def _frames(count: int) -> list[np.ndarray]:
    import av

    videos = shared_data("videos")
    clip = videos / "intel_face-demographics-walking.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent")
    frames = []
    with av.open(str(clip)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 7 == 0:
                frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) == count:
                break
    return frames


@pytest.mark.models
def test_real_detectors_batched_equal_one_by_one():
    """CenterFace (one NCHW batch per input size) and YOLO (ultralytics takes the list)."""
    from redact.models import ModelStore

    frames = _frames(5)
    config = load_settings(overrides={"device": "cpu", "categories": ("face", "plate")}).config
    detectors = DetectorSet.from_config(config, ModelStore(offline=True))
    batched = detectors.detect(frames)
    single = [detectors.detect([f])[0] for f in frames]
    assert sum(len(d) for d in single) > 0, "the clip should have faces"
    for a, b in zip(batched, single, strict=True):
        assert len(a) == len(b)
        order_a, order_b = np.lexsort(a.xyxy.T), np.lexsort(b.xyxy.T)
        np.testing.assert_allclose(a.xyxy[order_a], b.xyxy[order_b], atol=0.05)
        np.testing.assert_allclose(a.score[order_a], b.score[order_b], atol=1e-3)
        assert list(a.category[order_a]) == list(b.category[order_b])


@pytest.mark.models
def test_centerface_in_torch_equals_onnx_runtime():
    """The GPU path without onnxruntime-gpu: the same graph converted to torch (run here on
    the CPU) finds the same faces."""
    pytest.importorskip("onnx2torch", reason="the torch path needs onnx2torch")
    from redact.detect.centerface import _dynamic_model_bytes
    from redact.detect.centerface_torch import TorchSession
    from redact.models import ModelStore

    frames = _frames(3)
    config = load_settings(overrides={"device": "cpu", "categories": ("face",)}).config
    store = ModelStore(offline=True)
    detectors = DetectorSet.from_config(config, store)
    face = detectors.detectors[0]
    ort_found = face.detect(frames)
    face.session = TorchSession(_dynamic_model_bytes(store.ensure(store.specs()["centerface"])),
                                "cpu")
    torch_found = face.detect(frames)
    assert sum(len(d) for d in ort_found) > 0
    for a, b in zip(ort_found, torch_found, strict=True):
        assert len(a) == len(b)
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)
        np.testing.assert_allclose(a.score, b.score, atol=1e-3)
