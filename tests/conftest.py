"""Shared fixtures: tiny clips built with PyAV, a scripted fake detector, the shared data."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from redact.detect.base import DetectorSet
from redact.detect.detections import Detections

# The start of a child script that must not touch the network: any connection attempt raises
# (tests that run the tool offline, e.g. the CLI run and speech recognition).
REFUSE_NETWORK = r"""
import socket
def refuse(*args, **kwargs):
    raise RuntimeError(f"network access attempted: {args[:2]}")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
socket.create_connection = refuse
"""


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        pytest.skip(f"real data not available: {path} is absent (see ../shared/data/README.md)")
    return path


def frame_image(i: int, width: int, height: int) -> np.ndarray:
    """A textured frame whose content changes with ``i`` (so codecs cannot skip it)."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([(x * 3 + i * 7) % 256, (y * 5 + i * 3) % 256, ((x + y) * 2) % 256], axis=2)
    return img.astype(np.uint8)


def make_clip(path: Path, *, width: int = 64, height: int = 48, pts: list[int] | None = None,
              time_base: Fraction = Fraction(1, 1000), n: int = 10, audio: bool = False,
              rotation: int = 0, metadata: dict | None = None, codec: str = "libx264",
              pix_fmt: str | None = None, rate: Fraction | int = 25,
              options: dict[str, str] | None = None, audio_codec: str = "aac",
              extra: Callable[[Any, Any], Callable[[int | None, Any], None] | None] | None = None,
              file: Any = None) -> Path:
    """Write a small clip. ``pts`` (in ``time_base``) makes variable frame rate.

    ``extra(container, video_stream)`` may add streams before anything is written and return a
    hook called with each (index, frame) after it is encoded and with (None, None) at the end.
    ``file``: write to this file object instead of ``path`` (a non-seekable one makes a "live"
    file whose header never gets its final durations).
    """
    pts = pts if pts is not None else [round(i * 1000 / 25) for i in range(n)]
    fmt = {".mkv": "matroska", ".mov": "mov", ".avi": "avi", ".webm": "webm", ".ts": "mpegts",
           ".m2ts": "mpegts", ".mpg": "mpeg", ".3gp": "3gp", ".flv": "flv",
           ".wmv": "asf", ".ogv": "ogg"}.get(path.suffix, "mp4")
    with av.open(file if file is not None else str(path), "w", format=fmt) as out:
        if metadata:
            out.metadata.update(metadata)
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height = width, height
        vs.pix_fmt = pix_fmt or ("yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p")
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if options:
            vs.options = options
        if rotation:
            vs.set_display_rotation(rotation)
        a_s = None
        if audio:
            a_s = out.add_stream(audio_codec, rate=16000)
            a_s.layout = "mono"
        hook = extra(out, vs) if extra is not None else None
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(frame_image(i, width, height), format="rgb24")
            if pix_fmt:
                frame = frame.reformat(format=pix_fmt)
            frame.pts, frame.time_base = p, time_base
            for packet in vs.encode(frame):
                out.mux(packet)
            if hook is not None:
                hook(i, frame)
        for packet in vs.encode():
            out.mux(packet)
        if hook is not None:
            hook(None, None)
        if a_s is not None:
            total = int(float(pts[-1] * time_base) * 16000) + 1600
            t = np.arange(total) / 16000
            encode_audio(out, a_s, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :],
                         16000, "mono", 1024)
    return path


def encode_audio(out, stream, samples: np.ndarray, rate: int, layout: str, size: int) -> None:
    """Encode planar float ``samples`` (channels, n) into ``stream`` in frames of ``size``,
    then flush it."""
    for start in range(0, samples.shape[1], size):
        chunk = np.ascontiguousarray(samples[:, start:start + size])
        af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        af.sample_rate, af.pts, af.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(af):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def read_video(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        audio = [(s.codec_context.name, s.codec_context.sample_rate) for s in c.streams.audio]
        return {"pts": [f.pts for f in frames], "time_base": v.time_base,
                "times": [float(f.pts * f.time_base) for f in frames],
                "size": (v.codec_context.width, v.codec_context.height),
                "rotation": frames[0].rotation if frames else 0,
                "images": [f.to_ndarray(format="rgb24") for f in frames],
                "audio": audio, "metadata": dict(c.metadata)}


class ScriptedDetector:
    """Returns the boxes scripted for each call, in call order (one call per detected frame)."""

    categories = ("face",)

    def __init__(self, script: dict[int, list[list[float]]] | None = None,
                 fail_at: int | None = None) -> None:
        self.script = script or {}
        self.calls = 0
        self.fail_at = fail_at

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        out = []
        for _ in frames:
            if self.fail_at is not None and self.calls == self.fail_at:
                raise RuntimeError("scripted detector failure")
            boxes = self.script.get(self.calls, [])
            out.append(Detections.from_lists(boxes, [0.9] * len(boxes), ["face"] * len(boxes)))
            self.calls += 1
        return out


def scripted_set(detector: ScriptedDetector) -> DetectorSet:
    return DetectorSet([detector], [], "cpu")


@pytest.fixture
def fake_runner():
    """A FileRunner whose detector is scripted (no model weights needed)."""
    from redact.batch.runner import FileRunner
    from redact.config import load_settings

    def build(script=None, fail_at=None, **overrides):
        # Scripts are indexed by detector call, so detect on every frame unless told otherwise.
        overrides.setdefault("detect_every", 1)
        # The second look would load the real models; tests of it script its detector.
        overrides.setdefault("verify_output", "off")
        runner = FileRunner(load_settings(overrides=overrides, override_source="api"))
        runner.use_detectors(scripted_set(ScriptedDetector(script, fail_at)))
        # Settings that lower recall force a second look over every frame: a scripted one
        # that finds nothing, so no real model is loaded.
        runner.second_look_detectors = lambda _config: scripted_set(ScriptedDetector())
        return runner

    return build
