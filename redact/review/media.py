"""What the review page plays: the plan's own input (checked by sha256) when a browser can play
it as is, else a low-resolution H.264 preview made once into a private cache folder; frame
times read from packet timestamps (no decoding); an audio waveform as min/max peaks.

Everything here streams: nothing holds a whole video or audio track in memory.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from redact.io.atomic import atomic_output
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
    import av

    with av.open(str(path)) as c:
        v = next(s for s in c.streams.video if not s.disposition & 0x400) \
            if c.streams.video else None
        if v is None:
            raise MediaError(f"{path.name}: no video stream")
        tb = v.time_base or Fraction(1, 90000)
        pts = sorted(p.pts for p in c.demux(v) if p.pts is not None and p.size)
        ctx = v.codec_context
        fmt = c.format.name
        audio = [s.codec_context.name for s in c.streams.audio]
        playable = (ctx.name in PLAYABLE_CODECS and ctx.pix_fmt in PLAYABLE_PIX
                    and any(f in fmt.split(",") for f in PLAYABLE_FORMATS)
                    and max(ctx.width, ctx.height) <= MAX_PLAYABLE_SIDE
                    and all(a in PLAYABLE_AUDIO for a in audio))
        times = [float(p * tb) for p in pts]
    return {"width": ctx.width, "height": ctx.height, "times": times, "playable": playable,
            "codec": ctx.name, "audio": bool(audio)}


def make_preview(src: Path, dst: Path) -> None:
    """Low-resolution H.264 + AAC with the input's timestamps (so frame times match)."""
    import av

    with av.open(str(src)) as c, atomic_output(dst) as tmp:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        ctx = v.codec_context
        width = min(PREVIEW_WIDTH, ctx.width) // 2 * 2
        height = max(2, round(ctx.height * width / ctx.width) // 2 * 2)
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            vs = out.add_stream("libx264", rate=v.average_rate or Fraction(30))
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.time_base = v.time_base
            vs.codec_context.time_base = v.time_base
            vs.options = {"crf": "28", "preset": "veryfast", "g": str(PREVIEW_GOP), "bf": "0"}
            a_in = c.streams.audio[0] if c.streams.audio else None
            a_out = resampler = None
            if a_in is not None:
                a_out = out.add_stream("aac", rate=a_in.codec_context.sample_rate)
                a_out.layout = a_in.codec_context.layout.name
                resampler = av.AudioResampler(format="fltp", layout=a_out.layout,
                                              rate=a_in.codec_context.sample_rate,
                                              frame_size=a_out.codec_context.frame_size or 1024)
            streams = [v] + ([a_in] if a_in is not None else [])
            last = None
            for packet in c.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is v:
                        if frame.pts is None or (last is not None and frame.pts <= last):
                            continue
                        last = frame.pts
                        small = frame.reformat(width=width, height=height, format="yuv420p")
                        small.pts, small.time_base = frame.pts, v.time_base
                        for p in vs.encode(small):
                            out.mux(p)
                    else:
                        for f in resampler.resample(frame):
                            for p in a_out.encode(f):
                                out.mux(p)
            for p in vs.encode():
                out.mux(p)
            if a_out is not None:
                for f in resampler.resample(None):
                    for p in a_out.encode(f):
                        out.mux(p)
                for p in a_out.encode():
                    out.mux(p)


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
