"""Audio ranges in a plan: silence or a 1 kHz tone exactly over them, the rest unchanged
(measured on decoded samples; AAC re-encoding keeps the rest within a small tolerance)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import av
import numpy as np
import pytest

from redact.batch.runner import plan_file
from redact.errors import ConfigError
from redact.plan.model import load_plan, parse_plan
from tests.conftest import encode_audio, make_clip

RATE = 44100
EDGE = 0.03  # seconds either side of a range edge left out: AAC's transform window (~23 ms)


def with_audio(video: Path, dst: Path, seconds: float, *, rate: int = RATE,
               layout: str = "stereo") -> Path:
    """``video``'s video stream copied, plus a speech-like AAC track (tones + noise)."""
    rng = np.random.default_rng(7)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    voice = (0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
             + 0.1 * np.sin(2 * np.pi * 1330 * t) + 0.03 * rng.standard_normal(n))
    channels = 2 if layout == "stereo" else 1
    samples = np.stack([voice * (1 - 0.3 * c) for c in range(channels)]).astype(np.float32)
    with av.open(str(video)) as src, av.open(str(dst), "w", format="mp4") as out:
        vin = src.streams.video[0]
        vout = out.add_stream_from_template(vin)
        a = out.add_stream("aac", rate=rate)
        a.layout = layout
        for packet in src.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            out.mux(packet)
        mux_audio(out, a, samples, rate, layout)
    return dst


def mux_audio(out, stream, samples: np.ndarray, rate: int, layout: str) -> None:
    """Encode ``samples`` (channels, n) float32 into ``stream`` of ``out``, 1024 at a time."""
    encode_audio(out, stream, samples, rate, layout, 1024)


def decode_audio(path: Path) -> tuple[float, int, np.ndarray]:
    """(time of the first sample, sample rate, samples (channels, n)) of the first audio
    stream, placed by their timestamps."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = []
        for frame in c.decode(stream):
            chunks.append((float(frame.pts * frame.time_base),
                           frame.to_ndarray().astype(np.float32).reshape(
                               len(frame.layout.channels), -1)))
    t0 = chunks[0][0]
    total = max(round((t - t0) * rate) + x.shape[1] for t, x in chunks)
    out = np.zeros((chunks[0][1].shape[0], total), np.float32)
    for t, x in chunks:
        i = round((t - t0) * rate)
        out[:, i:i + x.shape[1]] = x
    return t0, rate, out


def segment(audio: tuple[float, int, np.ndarray], start: float, end: float) -> np.ndarray:
    t0, rate, x = audio
    return x[:, max(0, round((start - t0) * rate)):round((end - t0) * rate)]


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.shape[1], b.shape[1])
    return float(np.corrcoef(a[:, :n].ravel(), b[:, :n].ravel())[0, 1])


@pytest.fixture
def clip_and_plan(tmp_path, fake_runner):
    video = make_clip(tmp_path / "silent.mp4", width=64, height=48, n=60)  # 2.4 s at 25 fps
    src = with_audio(video, tmp_path / "v.mp4", 2.4)
    runner = fake_runner({}, margin=0.0)
    plan_path = tmp_path / "v.mp4.plan.json"
    assert plan_file(src, plan_path, runner.settings, runner=runner).status == "ok"
    return src, plan_path, runner


def render_with(tmp_path, clip_and_plan, ranges, name):
    src, plan_path, runner = clip_and_plan
    doc = json.loads(plan_path.read_text())
    doc["audio"] = ranges
    edited = tmp_path / f"{name}.plan.json"
    edited.write_text(json.dumps(doc))
    result = runner.run(src, tmp_path / name / "v.mp4", plan=load_plan(edited))
    assert result.status == "ok", result.error
    return Path(result.output), json.loads(Path(result.audit).read_text())


def test_mute_range_is_silent_and_the_rest_unchanged(tmp_path, clip_and_plan):
    out, audit = render_with(tmp_path, clip_and_plan,
                             [{"start": 0.8, "end": 1.8, "mode": "mute"}], "mute")
    before, after = decode_audio(clip_and_plan[0]), decode_audio(out)
    assert after[1] == RATE and after[2].shape[0] == 2  # same rate and channels
    inside = segment(after, 0.8 + EDGE, 1.8 - EDGE)
    assert rms(segment(before, 0.8 + EDGE, 1.8 - EDGE)) > 0.1  # there was sound to mute
    assert rms(inside) < 1e-3, rms(inside)
    for a, b in ((0.05, 0.8 - EDGE), (1.8 + EDGE, 2.35)):
        x, y = segment(before, a, b), segment(after, a, b)
        assert corr(x, y) > 0.99, (a, b, corr(x, y))
        assert abs(rms(y) / rms(x) - 1) < 0.05, (a, b, rms(x), rms(y))
    assert {"edit": "audio_range", "start": 0.8, "end": 1.8, "mode": "mute"} in \
        audit["plan_edits"]
    assert any("re-encoded as AAC" in w for w in audit["warnings"])


def test_bleep_range_is_a_1khz_tone(tmp_path, clip_and_plan):
    out, _ = render_with(tmp_path, clip_and_plan,
                         [{"start": 0.4, "end": 1.4, "mode": "bleep"}], "bleep")
    after = decode_audio(out)
    tone = segment(after, 0.4 + EDGE, 1.4 - EDGE)[0]
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    peak = np.fft.rfftfreq(len(tone), 1 / RATE)[int(np.argmax(spectrum))]
    assert abs(peak - 1000) < 5, peak
    assert abs(rms(tone[None]) - 0.25 / np.sqrt(2)) < 0.01
    before = decode_audio(clip_and_plan[0])
    assert corr(segment(before, 1.4 + EDGE, 2.35), segment(after, 1.4 + EDGE, 2.35)) > 0.99


def test_without_ranges_audio_is_stream_copied(tmp_path, clip_and_plan):
    out, audit = render_with(tmp_path, clip_and_plan, [], "copy")

    def packets(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]

    assert packets(out) == packets(clip_and_plan[0])
    assert not any("re-encoded" in w for w in audit["warnings"])


BASE = {"schema": "redact.plan/2", "input": {"path": "x.mp4", "sha256": "x", "frames": 1},
        "settings": {},
        "tracks": [], "frames": [], "manual": []}


@pytest.mark.parametrize(("ranges", "message"), [
    ("x", "plan field audio: must be a list"),
    ([5], "plan field audio[0]: must be an object"),
    ([{"start": 1, "end": 1}], "plan field audio[0].end: must be after start"),
    ([{"start": -1, "end": 1}], "plan field audio[0].start: must be a number"),
    ([{"start": 0, "end": "2"}], "plan field audio[0].end: must be a number"),
    ([{"start": 0, "end": 1, "mode": "beep"}], "plan field audio[0].mode: must be one of"),
])
def test_malformed_audio_ranges_are_refused(ranges, message):
    doc = copy.deepcopy(BASE)
    doc["audio"] = ranges
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_plan(doc)


def test_audio_ranges_listed_as_edits():
    doc = copy.deepcopy(BASE)
    doc["audio"] = [{"start": 1, "end": 2.5, "mode": "bleep"}]
    assert parse_plan(doc).edits == [{"edit": "audio_range", "start": 1.0, "end": 2.5,
                                      "mode": "bleep"}]


def test_ranges_on_a_silent_input_are_noted(tmp_path, fake_runner):
    src = make_clip(tmp_path / "v.mp4", n=10)
    runner = fake_runner({}, margin=0.0)
    plan_path = tmp_path / "v.plan.json"
    assert plan_file(src, plan_path, runner.settings, runner=runner).status == "ok"
    doc = json.loads(plan_path.read_text())
    doc["audio"] = [{"start": 0.1, "end": 0.2}]
    plan_path.write_text(json.dumps(doc))
    result = runner.run(src, tmp_path / "o" / "v.mp4", plan=load_plan(plan_path))
    assert result.status == "ok", result.error
    audit = json.loads(Path(result.audit).read_text())
    assert "the plan has audio ranges but the input has no audio" in audit["warnings"]
