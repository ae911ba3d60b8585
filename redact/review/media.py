"""What the review page plays: the plan's own input (checked by sha256) when a browser can play
it as is, else a low-resolution H.264 preview made once into a private cache folder; frame
times from ``redact.io.decode`` (the decoder that numbered the plan's frames, so overlays land on
the frames they were planned for); an audio waveform as min/max peaks.

Everything here streams: nothing holds a whole video or audio track in memory.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from redact.errors import InputError
from redact.io.atomic import atomic_output
from redact.io.containers import main_video_stream
from redact.io.decode import frame_stamps, iter_frames, open_input
from redact.io.hashing import sha256_file

PREVIEW_WIDTH = 854  # 480p-class: enough to see what is painted, small enough to seek fast
PREVIEW_GOP = 12  # frequent keyframes so frame stepping seeks quickly
PLAYABLE_CODECS = {"h264"}
PLAYABLE_FORMATS = ("mp4", "mov")
PLAYABLE_PIX = {"yuv420p", "yuvj420p"}
PLAYABLE_AUDIO = {"aac", "mp3"}
MAX_PLAYABLE_SIDE = 1920
PEAKS = 2000


class MediaError(ValueError):
    pass


class Media:
    """Per-input facts, computed once per (path, size, mtime)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)
        self._memo: dict[tuple, Any] = {}
        self._lock = threading.Lock()
        self._build_locks: dict[str, threading.Lock] = {}

    def _key(self, path: Path, what: str) -> tuple:
        st = path.stat()
        return (what, str(path), st.st_size, st.st_mtime_ns)

    def _memoised(self, path: Path, what: str, make):
        key = self._key(path, what)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = make()
        with self._lock:
            self._memo[key] = value
        return value

    def source(self, doc: dict[str, Any]) -> Path:
        """The plan's input video, only if it is still the very file the plan was made for."""
        path = Path(str(doc.get("input", {}).get("path", "")))
        if not path.is_absolute() or not path.is_file():
            raise MediaError(f"the plan's input {path.name or '(none)'} is not where the plan "
                             "says; review on the machine that made the plan")
        sha = self._memoised(path, "sha", lambda: sha256_file(path))
        if sha != doc["input"]["sha256"]:
            raise MediaError(f"{path.name} has changed since the plan was made (sha256 differs)")
        return path

    def info(self, path: Path) -> dict[str, Any]:
        return self._memoised(path, "info", lambda: _probe(path))

    def playable(self, path: Path) -> Path:
        """A file the browser can play: the input itself, or the cached preview."""
        info = self.info(path)
        if info["playable"]:
            return path
        sha = self._memoised(path, "sha", lambda: sha256_file(path))
        preview = self.cache_dir / f"{sha}.preview.mp4"
        with self._lock:
            lock = self._build_locks.setdefault(sha, threading.Lock())
        with lock:
            if not preview.is_file():
                self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                make_preview(path, preview)
        return preview

    def peaks(self, path: Path) -> dict[str, Any]:
        return self._memoised(path, "peaks", lambda: _peaks(path))


def _probe(path: Path) -> dict[str, Any]:
    try:
        stamps = frame_stamps(path)
        container = open_input(path)
    except InputError as exc:
        raise MediaError(str(exc)) from None
    try:
        ctx = main_video_stream(container).codec_context
        fmt = container.format.name
        audio = [s.codec_context.name for s in container.streams.audio]
    finally:
        container.close()
    playable = (ctx.name in PLAYABLE_CODECS and ctx.pix_fmt in PLAYABLE_PIX
                and any(f in fmt.split(",") for f in PLAYABLE_FORMATS)
                and max(ctx.width, ctx.height) <= MAX_PLAYABLE_SIDE
                and all(a in PLAYABLE_AUDIO for a in audio))
    return {"width": ctx.width, "height": ctx.height, "times": [s.time for s in stamps],
            "frames": [s._asdict() for s in stamps], "playable": playable,
            "codec": ctx.name, "audio": bool(audio)}


def make_preview(src: Path, dst: Path) -> None:
    """Low-resolution H.264 + AAC with the frames and timestamps ``redact.io.decode`` gives
    (so frame times match the plan's)."""
    import av

    try:
        container = open_input(src)
    except InputError as exc:
        raise MediaError(str(exc)) from None
    try:
        with atomic_output(dst) as tmp, \
                av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            _write_preview(container, out)
    except InputError as exc:
        raise MediaError(str(exc)) from None
    finally:
        container.close()


def _write_preview(container, out) -> None:
    import av

    v = main_video_stream(container)
    ctx = v.codec_context
    width = min(PREVIEW_WIDTH, ctx.width) // 2 * 2
    height = max(2, round(ctx.height * width / ctx.width) // 2 * 2)
    vs = out.add_stream("libx264", rate=v.average_rate or Fraction(30))
    vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
    vs.time_base = v.time_base
    vs.codec_context.time_base = v.time_base
    vs.options = {"crf": "28", "preset": "veryfast", "g": str(PREVIEW_GOP), "bf": "0"}
    audio = _PreviewAudio(out, container.streams.audio[0]) if container.streams.audio else None
    for frame in iter_frames(container, audio.add if audio else lambda _packet: None):
        picture = av.VideoFrame.from_ndarray(frame.pixels, format=frame.pixel_format)
        small = picture.reformat(width=width, height=height, format="yuv420p")
        small.pts, small.time_base = frame.pts, frame.time_base
        for p in vs.encode(small):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    if audio is not None:
        audio.flush()


class _PreviewAudio:
    """The first audio stream, decoded and re-encoded as AAC for the browser."""

    def __init__(self, out, a_in) -> None:
        import av

        self.out, self.a_in = out, a_in
        self.a_out = out.add_stream("aac", rate=a_in.codec_context.sample_rate)
        self.a_out.layout = a_in.codec_context.layout.name
        self.resampler = av.AudioResampler(
            format="fltp", layout=self.a_out.layout, rate=a_in.codec_context.sample_rate,
            frame_size=self.a_out.codec_context.frame_size or 1024)

    def add(self, packet) -> None:
        if packet.stream.index != self.a_in.index:
            return
        for frame in packet.decode():
            self._encode(self.resampler.resample(frame))

    def _encode(self, frames) -> None:
        for f in frames:
            for p in self.a_out.encode(f):
                self.out.mux(p)

    def flush(self) -> None:
        self._encode(self.resampler.resample(None))
        for p in self.a_out.encode():
            self.out.mux(p)


def _peaks(path: Path) -> dict[str, Any]:
    """Min/max of the first audio stream in ``PEAKS`` buckets over the video's duration."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return {"start": 0.0, "duration": 0.0, "min": [], "max": []}
        a = c.streams.audio[0]
        duration = float(c.duration or 0) / 1_000_000 or float((a.duration or 0) * a.time_base)
        start = float(c.start_time or 0) / 1_000_000
        lo, hi = np.zeros(PEAKS, np.float32), np.zeros(PEAKS, np.float32)
        rate = a.codec_context.sample_rate
        for frame in c.decode(a):
            x = frame.to_ndarray().astype(np.float32).reshape(len(frame.layout.channels), -1)
            mono = x.mean(axis=0)
            t = float(frame.pts * frame.time_base) - start + np.arange(mono.size) / rate
            idx = np.clip((t / max(duration, 1e-6) * PEAKS).astype(int), 0, PEAKS - 1)
            np.minimum.at(lo, idx, mono)
            np.maximum.at(hi, idx, mono)
    return {"start": start, "duration": duration,
            "min": [round(float(v), 4) for v in lo], "max": [round(float(v), 4) for v in hi]}
