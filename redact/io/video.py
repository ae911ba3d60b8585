"""Decode and encode with PyAV, keeping every frame's pts/time_base.

The reader yields ``Frame``s (BGR pixels plus their original timestamp) and hands audio
packets to a callback untouched; the writer re-encodes video with libx264 at the same size and
timestamps (so variable frame rate survives) and stream-copies audio.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from redact.errors import InputError, StageError

FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``time`` is seconds from pts; the encoder reuses ``pts``/``time_base``.

    ``pixels`` is our own copy of the picture, in ``pixel_format``: "yuv420p" (planar, shape
    (h*3/2, w), the common case, painted and encoded without any colour conversion) or "bgr24"
    (odd sizes, which 4:2:0 cannot hold). Detectors get BGR from ``bgr()``.
    """

    index: int
    pts: int
    time_base: Fraction
    pixels: np.ndarray
    pixel_format: str = "bgr24"
    rotation: int = 0

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        h, w = self.pixels.shape[:2]
        return (w, h * 2 // 3) if self.pixel_format == "yuv420p" else (w, h)

    def bgr(self) -> np.ndarray:
        if self.pixel_format == "bgr24":
            return self.pixels
        import cv2

        return cv2.cvtColor(self.pixels, cv2.COLOR_YUV2BGR_I420)


def _av():
    import av

    return av


def open_input(path: Path):
    """Open a video container or raise a one-line ``InputError`` saying what is wrong."""
    av = _av()
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise InputError(f"{path.name}: not a readable video ({exc.strerror or exc}); "
                         "check the file is complete and really a video") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path.name}: contains no video stream")
    return container


def describe_streams(container) -> list[dict[str, Any]]:
    out = []
    for s in container.streams:
        entry: dict[str, Any] = {"index": s.index, "type": s.type,
                                 "codec": s.codec_context.name if s.codec_context else None,
                                 "time_base": str(s.time_base) if s.time_base else None,
                                 "frames": int(s.frames or 0)}
        if s.type == "video":
            entry.update(width=s.codec_context.width, height=s.codec_context.height,
                         average_rate=str(s.average_rate) if s.average_rate else None,
                         pix_fmt=s.codec_context.pix_fmt)
        elif s.type == "audio":
            entry.update(sample_rate=s.codec_context.sample_rate,
                         channels=s.codec_context.channels)
        out.append(entry)
    return out


def iter_frames(container, on_audio: Callable[[Any], None]) -> Iterator[Frame]:
    """Demux once: decode the first video stream, pass audio packets to ``on_audio``.

    Raises ``InputError`` for undecodable data and for truncated files (fewer frames decoded
    than the container declares): fail closed rather than release a silently shortened video.
    """
    av = _av()
    vstream = container.streams.video[0]
    vstream.thread_type = "AUTO"
    audio = list(container.streams.audio)
    time_base = vstream.time_base or Fraction(1, 90000)
    step = _frame_step(vstream, time_base)
    index, last_pts = 0, None
    try:
        for packet in container.demux(vstream, *audio):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    on_audio(packet)
                continue
            for vframe in packet.decode():
                pts = vframe.pts
                if pts is None:  # some AVI/raw streams carry no pts: continue the cadence
                    pts = 0 if last_pts is None else last_pts + step
                if last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1  # the encoder needs strictly increasing pts
                last_pts = pts
                # Trap: the decoder keeps its output as reference pictures, so we never
                # paint into its buffers; to_ndarray gives us a private copy.
                fmt = "yuv420p" if vframe.width % 2 == 0 and vframe.height % 2 == 0 \
                    else "bgr24"
                yield Frame(index, pts, time_base, vframe.to_ndarray(format=fmt), fmt,
                            int(vframe.rotation or 0))
                index += 1
    except av.FFmpegError as exc:
        raise InputError(f"{Path(container.name).name}: decoding failed at frame {index} "
                         f"({exc.strerror or exc}); the file is corrupt or truncated") from None
    # Only the MP4/MOV sample table counts real frames; AVI counts dropped-frame placeholders.
    declared = int(vstream.frames or 0) if "mp4" in container.format.name else 0
    if index == 0:
        raise InputError(f"{Path(container.name).name}: no video frame could be decoded")
    if declared and index < declared:
        raise InputError(f"{Path(container.name).name}: decoded {index} of {declared} declared "
                         "frames; the file is truncated or damaged")


def _frame_step(vstream, time_base: Fraction) -> int:
    rate = vstream.average_rate or vstream.guessed_rate or Fraction(30)
    return max(1, round(1 / (rate * time_base)))


class VideoWriter:
    """libx264 video at the input's size and timestamps, audio stream-copied, atomic output.

    Opened lazily on the first frame so the display rotation read from that frame can still be
    written into the header.
    """

    def __init__(self, path: Path, final_suffix: str, source, *, crf: int, preset: str,
                 keep_metadata: bool) -> None:
        self.path = path
        self.format = FORMATS.get(final_suffix.lower(), "mp4")
        self.source = source
        self.crf, self.preset, self.keep_metadata = crf, preset, keep_metadata
        self.out = None
        self.vstream = None
        self.audio_map: dict[int, Any] = {}
        self.pending_audio: list[Any] = []
        self.frames_written = 0
        self.warnings: list[str] = []

    def _open(self, first_rotation: int) -> None:
        av = _av()
        src_v = self.source.streams.video[0]
        options = {"movflags": "+faststart"} if self.format in ("mp4", "mov") else {}
        self.out = av.open(str(self.path), "w", format=self.format, options=options)
        if self.keep_metadata:
            self.out.metadata.update(self.source.metadata)
        ctx = src_v.codec_context
        rate = src_v.average_rate or src_v.guessed_rate or Fraction(30)
        vs = self.out.add_stream("libx264", rate=rate)
        vs.width, vs.height = ctx.width, ctx.height
        # x264 cannot code 4:2:0 with an odd width or height; 4:4:4 keeps the exact size.
        odd = ctx.width % 2 or ctx.height % 2
        vs.pix_fmt = "yuv444p" if odd else "yuv420p"
        if odd:
            self.warnings.append("odd frame size: encoded as 4:4:4 to keep the exact resolution")
        elif ctx.pix_fmt not in ("yuv420p", "yuvj420p"):
            # Full-range (yuvj) input keeps its range flag below; deeper or wider formats do not
            # survive, and a reviewer comparing against the original should know why.
            self.warnings.append(f"input pixel format {ctx.pix_fmt} encoded as 8-bit 4:2:0 "
                                 "(yuv420p)")
        # Same time base as the input, so every pts is copied exactly (VFR survives).
        vs.time_base = src_v.time_base
        vs.codec_context.time_base = src_v.time_base
        vs.options = {"crf": str(self.crf), "preset": self.preset}
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                setattr(vs.codec_context, attr, getattr(ctx, attr))
        if src_v.sample_aspect_ratio:
            vs.sample_aspect_ratio = src_v.sample_aspect_ratio
        if first_rotation:
            vs.set_display_rotation(first_rotation)
        if src_v.language:
            vs.metadata["language"] = src_v.language
        self.vstream = vs
        for a in self.source.streams.audio:
            try:
                oa = self.out.add_stream_from_template(a)
            except (ValueError, av.FFmpegError) as exc:
                raise StageError(f"cannot copy audio stream {a.index} ({a.codec_context.name}) "
                                 f"into {self.format}: {exc}") from None
            if a.language:
                oa.metadata["language"] = a.language
            self.audio_map[a.index] = oa
        dropped = [s for s in self.source.streams if s.type not in ("video", "audio")]
        dropped += list(self.source.streams.video[1:])
        if dropped:
            kinds = ", ".join(f"#{s.index} {s.type}" for s in dropped)
            self.warnings.append(f"streams not copied (may hold telemetry/GPS): {kinds}")
        for packet in self.pending_audio:
            self._mux_audio(packet)
        self.pending_audio.clear()

    def write(self, frame: Frame) -> None:
        av = _av()
        if self.out is None:
            self._open(frame.rotation)
        vframe = av.VideoFrame.from_ndarray(frame.pixels, format=frame.pixel_format)
        vframe.pts = frame.pts
        vframe.time_base = frame.time_base
        self._encode(vframe)
        self.frames_written += 1

    def add_audio(self, packet) -> None:
        if self.out is None:
            self.pending_audio.append(packet)
        else:
            self._mux_audio(packet)

    def _mux_audio(self, packet) -> None:
        out_stream = self.audio_map.get(packet.stream.index)
        if out_stream is not None:
            packet.stream = out_stream
            self.out.mux(packet)

    def _encode(self, vframe) -> None:
        av = _av()
        try:
            for packet in self.vstream.encode(vframe):
                self.out.mux(packet)
        except av.FFmpegError as exc:
            raise StageError(f"encoding failed: {exc}") from None

    def close(self) -> None:
        if self.out is None:
            return
        self._encode(None)
        self.out.close()
        self.out = None

    def abort(self) -> None:
        if self.out is not None:
            with contextlib.suppress(Exception):  # the temp file is deleted anyway
                self.out.close()
            self.out = None
