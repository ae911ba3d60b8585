"""Decode with PyAV, keeping every frame's pts/time_base.

The reader yields ``Frame``s (pixels plus their original timestamp) and hands audio packets to a
callback untouched. It refuses what it cannot redact faithfully (several camera views, frames
over 8K UHD, damaged or truncated files) with a one-line ``InputError``. ``frame_stamps`` numbers
and times the frames exactly as ``iter_frames`` does, without converting any pixels, for readers
that only need the timeline (the review page).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np

from redact.errors import InputError
from redact.io.containers import (
    InputVideo,
    StreamEnds,
    check_complete,
    is_attached_picture,
    main_video_stream,
)

# Largest frame we decode: 8K UHD. Every buffered frame is held in memory (about 50 MB each at
# this size), so bigger pictures are refused before the first one is decoded.
MAX_SIDE = 8192
MAX_PIXELS = 7680 * 4320

T = TypeVar("T")


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


class FrameStamp(NamedTuple):
    """Where one frame sits on the timeline, numbered and timed as ``iter_frames`` does."""

    index: int
    pts: int
    time: float
    rotation: int


def _av():
    import av

    return av


def open_input(path: Path) -> InputVideo:
    """Open a video container or raise a one-line ``InputError`` saying what is wrong."""
    av = _av()
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    try:
        container = av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise InputError(f"{path.name}: not a readable video ({exc.strerror or exc}); "
                         "check the file is complete and really a video") from None
    try:
        return InputVideo(container, path, _check_streams(container, path))
    except BaseException:
        container.close()
        raise


def _check_streams(container, path: Path):
    videos = [s for s in container.streams.video if not is_attached_picture(s)]
    if not videos:
        what = "only audio" if container.streams.audio else "no picture"
        raise InputError(f"{path.name}: contains no video stream ({what}); redact works on "
                         "video and still images, there is nothing here for it to redact")
    if len(videos) > 1:
        # Trap: PyAV and FFmpeg tools pick the first video stream and silently drop the rest,
        # so a second camera view would vanish from the release (or, copied, go unredacted).
        order = list(container.streams.video)
        views = ", ".join(f"0:v:{order.index(s)}" for s in videos)
        raise InputError(f"{path.name}: holds {len(videos)} video streams (several camera "
                         f"views: {views}); redact one view per file: extract each first, e.g. "
                         f"ffmpeg -i {path.name} -map 0:v:{order.index(videos[1])} -map 0:a? "
                         f"-c copy view1{path.suffix}, then redact each file")
    ctx = videos[0].codec_context
    _check_size(path.name, ctx.width or 0, ctx.height or 0)
    return videos[0]


def _check_size(name: str, width: int, height: int) -> None:
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise InputError(f"{name}: frames are {width}x{height}, larger than redact handles "
                         f"(8K UHD: at most {MAX_SIDE} px a side and {MAX_PIXELS / 1e6:.1f} "
                         f"megapixels); scale a copy down first, e.g. ffmpeg -i {name} -vf "
                         "scale=3840:-2 smaller.mp4, and redact that")


def _frame_step(vstream, time_base: Fraction) -> int:
    rate = vstream.average_rate or vstream.guessed_rate or Fraction(30)
    return max(1, round(1 / (rate * time_base)))


class _Timeline:
    """Numbers the decoded frames and gives each the pts the encoder will reuse."""

    def __init__(self, container, vstream) -> None:
        self.time_base = vstream.time_base or Fraction(1, 90000)
        self.step = _frame_step(vstream, self.time_base)
        self.count = 0
        self.first: int | None = None
        self.last: int | None = None
        self.size: tuple[int, int] | None = None
        self.discarded = 0
        self.ends = StreamEnds()
        self.last_dts: dict[int, int] = {}  # per stream: the latest decode time seen
        # Trap: AVI has no timestamps, only chunk positions (dts). FFmpeg guesses H.264 pts
        # there as dts + 1 frame, which would shift every frame; the k-th displayed frame is at
        # the k-th position instead (empty chunks, i.e. dropped frames, leave gaps that we keep).
        self.positions: deque[int] | None = deque() if container.format.name == "avi" else None

    def add_packet(self, packet) -> None:
        if self.positions is not None and packet.dts is not None and packet.size:
            self.positions.append(packet.dts)
        if getattr(packet, "is_discard", False):
            self.discarded += 1  # before the start of an MP4 edit list: decoded, never shown

    def pts_of(self, vframe) -> int:
        pts = self.positions.popleft() if self.positions else vframe.pts
        if pts is None:  # some AVI/raw streams carry no pts: continue the cadence
            pts = 0 if self.last is None else self.last + self.step
        if self.last is not None and pts <= self.last:
            pts = self.last + 1  # the encoder needs strictly increasing pts
        self.first = pts if self.first is None else self.first
        self.last = pts
        return pts

    def check(self, name: str, vframe) -> None:
        """Refuse a frame whose size differs from the first one's, or that is damaged."""
        size = (vframe.width, vframe.height)
        if self.size is None:
            _check_size(name, *size)
            self.size = size
        elif size != self.size:
            raise InputError(f"{name}: the picture size changes at frame {self.count} "
                             f"({self.size[0]}x{self.size[1]} to {size[0]}x{size[1]}); "
                             "split the file where the size changes and redact each part")
        if getattr(vframe, "is_corrupt", False):
            raise InputError(f"{name}: frame {self.count} is damaged (corrupt data the decoder "
                             "had to guess); re-export the file from the camera or evidence "
                             "system and redact that copy")


def _numbered(container, vstream, name: str, timeline: _Timeline,
              on_audio: Callable[[Any], None], make: Callable[[int, int, Any], T]
              ) -> Iterator[T]:
    """Demux once: yield ``make(index, pts, decoded frame)`` for each frame of ``vstream``,
    audio packets to ``on_audio``; ``InputError`` for undecodable data."""
    av = _av()
    try:
        # Demux every stream (the others are dropped) so the end of the longest one is known.
        for packet in container.demux():
            timeline.ends.add(packet)
            _check_restart(name, packet, timeline.last_dts)
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    on_audio(packet)
                continue
            if packet.stream.index != vstream.index:
                continue
            timeline.add_packet(packet)
            for vframe in packet.decode():
                timeline.check(name, vframe)
                yield make(timeline.count, timeline.pts_of(vframe), vframe)
                timeline.count += 1
    except av.FFmpegError as exc:
        raise InputError(f"{name}: decoding failed at frame {timeline.count} "
                         f"({exc.strerror or exc}); the file is corrupt or truncated") from None


# Backward steps of a stream's decode time up to this are left to the encoder's nudge (pts_of);
# more is a clock that restarted.
RESTART_S = 0.5


def _check_restart(name: str, packet, last_dts: dict[int, int]) -> None:
    """Refuse a stream whose decode time jumps back: recordings joined byte for byte (MPEG-TS
    segments of in-car and body-camera systems, ``cat a.ts b.ts``) restart their clock, and
    the frames after the restart would be squeezed onto the last time before it, the audio
    unwritable. Splitting at the restart gives two files redact handles as they are."""
    if packet.dts is None or packet.time_base is None:
        return
    index = packet.stream.index
    last = last_dts.get(index)
    last_dts[index] = packet.dts if last is None else max(last, packet.dts)
    if last is not None and float((last - packet.dts) * packet.time_base) > RESTART_S:
        at, to = float(last * packet.time_base), float(packet.dts * packet.time_base)
        raise InputError(f"{name}: the {packet.stream.type} clock jumps back from {at:.2f} s "
                         f"to {to:.2f} s (recordings joined into one file); split the file "
                         "where the time restarts, or export each recording on its own, and "
                         "redact each part")


def _finish(container, vstream, name: str, timeline: _Timeline) -> None:
    """After the last frame: refuse an empty or truncated video, note what the audit should
    know (frames before an edit list, completeness that could not be checked)."""
    index, first_pts, last_pts = timeline.count, timeline.first, timeline.last
    if index == 0 or first_pts is None or last_pts is None:
        raise InputError(f"{name}: no video frame could be decoded (the video stream is empty "
                         "or unreadable); check the export from the camera system")
    time_base = timeline.time_base
    observed = float((last_pts - first_pts) * time_base) / (index - 1) if index > 1 else 0.0
    frame_s = max(observed, float(timeline.step * time_base))
    # A long last frame (variable frame rate) is only known from its packet's duration.
    video_end = max(float(last_pts * time_base) + frame_s,
                    timeline.ends.by_stream.get(vstream.index, 0))
    note = check_complete(container, vstream, name, index + timeline.discarded, video_end,
                          timeline.ends.any_end, frame_s)
    if timeline.discarded and isinstance(container, InputVideo):
        container.notes.append(f"{timeline.discarded} frames before the start of the edit list "
                               "(not shown by players) were not encoded")
    if note and isinstance(container, InputVideo):
        container.notes.append(note)


def iter_frames(container, on_audio: Callable[[Any], None]) -> Iterator[Frame]:
    """Demux once: decode the main video stream, pass audio packets to ``on_audio``.

    Raises ``InputError`` for undecodable or damaged data and for truncated files (the video
    ends before the container says it does): fail closed rather than release a silently
    shortened video. When the container declares nothing to check against, a note says so.
    """
    name = Path(container.name).name
    vstream = main_video_stream(container)
    vstream.thread_type = "AUTO"
    timeline = _Timeline(container, vstream)

    def make(index: int, pts: int, vframe) -> Frame:
        # Trap: the decoder keeps its output as reference pictures, so we never paint into
        # its buffers; to_ndarray gives us a private copy.
        fmt = "yuv420p" if vframe.width % 2 == 0 and vframe.height % 2 == 0 else "bgr24"
        return Frame(index, pts, timeline.time_base, vframe.to_ndarray(format=fmt), fmt,
                     int(vframe.rotation or 0))

    yield from _numbered(container, vstream, name, timeline, on_audio, make)
    _finish(container, vstream, name, timeline)


def frame_stamps(path: Path) -> list[FrameStamp]:
    """Every frame's index, pts, time and rotation, exactly as ``iter_frames`` numbers them
    (same checks, same pts repairs), without converting pixels."""
    container = open_input(path)
    try:
        vstream = main_video_stream(container)
        vstream.thread_type = "AUTO"
        timeline = _Timeline(container, vstream)

        def make(index: int, pts: int, vframe) -> FrameStamp:
            return FrameStamp(index, pts, float(pts * timeline.time_base),
                              int(vframe.rotation or 0))

        stamps = list(_numbered(container, vstream, path.name, timeline,
                                lambda _packet: None, make))
        _finish(container, vstream, path.name, timeline)
    finally:
        container.close()
    return stamps
