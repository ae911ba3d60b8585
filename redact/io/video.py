"""Decode and encode with PyAV, keeping every frame's pts/time_base.

The reader yields ``Frame``s (BGR pixels plus their original timestamp) and hands audio
packets to a callback untouched; the writer re-encodes video with libx264 (VP9 for WebM, which
cannot hold H.264) at the same size and timestamps (so variable frame rate survives) and
stream-copies audio. The reader refuses what it cannot redact faithfully (several camera views,
frames over 8K UHD, damaged or truncated files) with a one-line ``InputError``.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from redact.errors import InputError, StageError, disk_full

FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi",
           ".webm": "webm"}
# Largest frame we decode: 8K UHD. Every buffered frame is held in memory (about 50 MB each at
# this size), so bigger pictures are refused before the first one is decoded.
MAX_SIDE = 8192
MAX_PIXELS = 7680 * 4320
# Frames short of the declared end that still count as complete (container durations are
# rounded, and the last frame's duration is a guess).
TRUNCATION_TOLERANCE_FRAMES = 2
UNCHECKED = "completeness could not be checked: the container declares no frame count or duration"


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


class InputVideo:
    """An open input container, the video stream we redact, and notes for the audit.

    Attribute access falls through to the PyAV container (``streams``, ``metadata``, ``close``
    ...). ``notes`` collects what the reader found that a reviewer should know (for example
    that completeness could not be checked); the ``VideoWriter`` reports them with its own
    warnings.
    """

    def __init__(self, container, path: Path, video) -> None:
        self._container = container
        self.path = path
        self.video = video
        self.notes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)


def is_attached_picture(stream) -> bool:
    """Cover art or timed thumbnails: stills beside the video, not a camera view."""
    disposition = getattr(stream, "disposition", None)
    # AV_DISPOSITION_ATTACHED_PIC | AV_DISPOSITION_TIMED_THUMBNAILS
    return bool(disposition is not None and int(disposition) & (0x400 | 0x800))


def main_video_stream(container):
    """The one video stream we redact (cover art / thumbnails are attached pictures, not video)."""
    if isinstance(container, InputVideo):
        return container.video
    return next(s for s in container.streams.video if not is_attached_picture(s))


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
            if is_attached_picture(s):
                entry["attached_picture"] = True
        elif s.type == "audio":
            entry.update(sample_rate=s.codec_context.sample_rate,
                         channels=s.codec_context.channels)
        out.append(entry)
    return out


def iter_frames(container, on_audio: Callable[[Any], None]) -> Iterator[Frame]:
    """Demux once: decode the main video stream, pass audio packets to ``on_audio``.

    Raises ``InputError`` for undecodable or damaged data and for truncated files (the video
    ends before the container says it does): fail closed rather than release a silently
    shortened video. When the container declares nothing to check against, a note says so.
    """
    av = _av()
    name = Path(container.name).name
    vstream = main_video_stream(container)
    vstream.thread_type = "AUTO"
    time_base = vstream.time_base or Fraction(1, 90000)
    step = _frame_step(vstream, time_base)
    index, last_pts, first_pts, size, discarded = 0, None, None, None, 0
    ends = _Ends()
    # Trap: AVI has no timestamps, only chunk positions (dts). FFmpeg guesses H.264 pts there
    # as dts + 1 frame, which would shift every frame; the k-th displayed frame is at the
    # k-th position instead (empty chunks, i.e. dropped frames, leave gaps that we keep).
    positions: deque[int] | None = deque() if container.format.name == "avi" else None
    try:
        # Demux every stream (the others are dropped) so the end of the longest one is known.
        for packet in container.demux():
            ends.add(packet)
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    on_audio(packet)
                continue
            if packet.stream.index != vstream.index:
                continue
            if positions is not None and packet.dts is not None and packet.size:
                positions.append(packet.dts)
            if getattr(packet, "is_discard", False):
                discarded += 1  # before the start of an MP4 edit list: decoded, never shown
            for vframe in packet.decode():
                if size is None:
                    size = (vframe.width, vframe.height)
                    _check_size(name, *size)
                elif (vframe.width, vframe.height) != size:
                    raise InputError(f"{name}: the picture size changes at frame {index} "
                                     f"({size[0]}x{size[1]} to {vframe.width}x{vframe.height}); "
                                     "split the file where the size changes and redact each "
                                     "part")
                if getattr(vframe, "is_corrupt", False):
                    raise InputError(f"{name}: frame {index} is damaged (corrupt data the "
                                     "decoder had to guess); re-export the file from the "
                                     "camera or evidence system and redact that copy")
                pts = positions.popleft() if positions else vframe.pts
                if pts is None:  # some AVI/raw streams carry no pts: continue the cadence
                    pts = 0 if last_pts is None else last_pts + step
                if last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1  # the encoder needs strictly increasing pts
                first_pts = pts if first_pts is None else first_pts
                last_pts = pts
                # Trap: the decoder keeps its output as reference pictures, so we never
                # paint into its buffers; to_ndarray gives us a private copy.
                fmt = "yuv420p" if vframe.width % 2 == 0 and vframe.height % 2 == 0 \
                    else "bgr24"
                yield Frame(index, pts, time_base, vframe.to_ndarray(format=fmt), fmt,
                            int(vframe.rotation or 0))
                index += 1
    except av.FFmpegError as exc:
        raise InputError(f"{name}: decoding failed at frame {index} "
                         f"({exc.strerror or exc}); the file is corrupt or truncated") from None
    if index == 0:
        raise InputError(f"{name}: no video frame could be decoded (the video stream is empty "
                         "or unreadable); check the export from the camera system")
    observed = float((last_pts - first_pts) * time_base) / (index - 1) if index > 1 else 0.0
    frame_s = max(observed, float(step * time_base))
    # A long last frame (variable frame rate) is only known from its packet's duration.
    video_end = max(float(last_pts * time_base) + frame_s, ends.by_stream.get(vstream.index, 0))
    note = _check_complete(container, vstream, name, index + discarded, video_end,
                           ends.any_end, frame_s)
    if discarded and isinstance(container, InputVideo):
        container.notes.append(f"{discarded} frames before the start of the edit list (not "
                               "shown by players) were not encoded")
    if note and isinstance(container, InputVideo):
        container.notes.append(note)


class _Ends:
    """Where the demuxed streams end, in seconds (pts + duration of their last packets)."""

    def __init__(self) -> None:
        self.any_end = 0.0
        self.by_stream: dict[int, float] = {}

    def add(self, packet) -> None:
        if packet.pts is None or packet.time_base is None:
            return
        end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
        self.any_end = max(self.any_end, end)
        index = packet.stream.index
        self.by_stream[index] = max(self.by_stream.get(index, 0.0), end)


def _check_complete(container, vstream, name: str, decoded: int, video_end: float,
                    any_end: float, frame_s: float) -> str | None:
    """Raise ``InputError`` when the video stops short of what the container declares; return
    a note for the audit when it declares nothing to compare with."""
    fmt = container.format.name
    slack = TRUNCATION_TOLERANCE_FRAMES * frame_s + 1e-3

    def truncated(detail: str) -> InputError:
        return InputError(f"{name}: {detail}; the file is truncated or damaged: use a complete "
                          "copy (re-export it, or copy it again)")

    if "mp4" in fmt or "mov" in fmt:
        # The sample table counts every frame. A fragmented MP4 (empty moov) declares none.
        declared = int(vstream.frames or 0)
        if not declared:
            if _mp4_boxes_complete(Path(container.name)) is False:
                raise truncated("the last MP4 box is cut short")
            return UNCHECKED + " (fragmented MP4)"
        if decoded < declared:
            raise truncated(f"decoded {decoded} of {declared} declared frames")
        return None
    if "matroska" in fmt or "webm" in fmt:
        # Matroska declares the Segment duration (longest stream) and, from FFmpeg/mkvmerge
        # muxers, a DURATION tag per track; both are written before the clusters.
        tagged = _parse_duration_tag(vstream.metadata.get("DURATION"))
        if tagged is not None:
            if video_end + slack < tagged:
                raise truncated(f"the video ends at {video_end:.2f} s of the declared "
                                f"{tagged:.2f} s")
            return None
        if container.duration:
            declared_s = container.duration / 1_000_000
            if any_end + slack < declared_s:
                raise truncated(f"the streams end at {any_end:.2f} s of the declared "
                                f"{declared_s:.2f} s")
            return None
        if _mkv_clusters_complete(Path(container.name)) is False:
            raise truncated("the last Matroska cluster is cut short")
        return UNCHECKED + " (Matroska without a duration, as written live)"
    if fmt == "avi":
        declared_s = _avi_declared_end(Path(container.name), vstream.index)
        if declared_s:
            if video_end + slack < declared_s:
                raise truncated(f"the video ends at {video_end:.2f} s of the declared "
                                f"{declared_s:.2f} s")
            return None
        return UNCHECKED + " (AVI header holds no length)"
    return UNCHECKED + f" ({fmt})"


def _mp4_boxes_complete(path: Path) -> bool | None:
    """Whether the top-level MP4 boxes end exactly at the end of the file (None: unknown).

    A file cut short almost always ends inside a box (a fragment's ``mdat``)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            pos = 0
            while pos < size:
                fh.seek(pos)
                head = fh.read(16)
                if len(head) < 8:
                    return False
                length = struct.unpack(">I", head[:4])[0]
                if length == 1:  # 64-bit size follows the type
                    if len(head) < 16:
                        return False
                    length = struct.unpack(">Q", head[8:16])[0]
                elif length == 0:  # the box runs to the end of the file
                    return True
                if length < 8:
                    return None
                pos += length
            return pos == size
    except OSError:
        return None


def _ebml_number(head: bytes, pos: int, *, is_id: bool) -> tuple[int | None, int]:
    """One EBML variable-length number at ``pos``: (value or None if unknown, next pos)."""
    if pos >= len(head) or head[pos] == 0:
        raise ValueError("not EBML")
    length = 9 - head[pos].bit_length()
    if pos + length > len(head):
        raise ValueError("cut short")
    value = int.from_bytes(head[pos:pos + length], "big")
    if is_id:
        return value, pos + length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), pos + length


def _mkv_clusters_complete(path: Path) -> bool | None:
    """Whether a Matroska file written live (Segment of unknown size) ends exactly after its
    last element (None: unknown, e.g. clusters of unknown size too)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            pos, in_segment = 0, False
            while pos < size:
                fh.seek(pos)
                head = fh.read(16)
                try:
                    element, after_id = _ebml_number(head, 0, is_id=True)
                    length, after_size = _ebml_number(head, after_id, is_id=False)
                except ValueError:
                    return False if len(head) < 16 else None
                if element == 0x18538067 and not in_segment:  # Segment: walk its children
                    in_segment = True
                    pos += after_size
                    continue
                if length is None:
                    return None
                pos += after_size + length
            return pos == size
    except OSError:
        return None


def _parse_duration_tag(value: str | None) -> float | None:
    """Matroska's ``DURATION`` tag, "HH:MM:SS.nnnnnnnnn", in seconds.

    >>> _parse_duration_tag("00:01:02.500000000")
    62.5
    """
    if not value:
        return None
    try:
        h, m, sec = value.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _avi_declared_end(path: Path, stream_index: int) -> float | None:
    """End of a stream in seconds from its AVI ``strh`` header (dwStart + dwLength units of
    dwScale/dwRate), which the muxer writes once the recording is finished. An OpenDML file
    (over 1 GB) also counts all its frames in ``dmlh``; some muxers put only the first part's
    count in ``strh``.

    We read it ourselves: FFmpeg replaces it with an estimate when the index at the end of
    the file is missing, which is exactly the truncated case.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"AVI ":
        return None
    found, pos = 0, head.find(b"strh")
    while pos >= 0 and pos + 8 + 36 <= len(head):
        body = head[pos + 8:pos + 8 + 36]
        if found == stream_index:
            scale, rate, start, length = struct.unpack("<4I", body[20:36])
            dmlh = head.find(b"dmlh")
            if dmlh >= 0 and dmlh + 12 <= len(head):
                length = max(length, struct.unpack("<I", head[dmlh + 8:dmlh + 12])[0])
            if not (scale and rate and length):
                return None
            return (start + length) * scale / rate
        found += 1
        pos = head.find(b"strh", pos + 8)
    return None


def _frame_step(vstream, time_base: Fraction) -> int:
    rate = vstream.average_rate or vstream.guessed_rate or Fraction(30)
    return max(1, round(1 / (rate * time_base)))


def _write_failed(exc: OSError, path: Path) -> OSError:
    """A full disk as a one-line ``DiskFullError``; any other write error unchanged."""
    return disk_full(exc, path.parent) or exc


class VideoWriter:
    """libx264 video at the input's size and timestamps, audio stream-copied, atomic output.

    Opened lazily on the first frame so the display rotation read from that frame can still be
    written into the header.
    """

    def __init__(self, path: Path, final_suffix: str, source, *, crf: int, preset: str,
                 keep_metadata: bool, audio_ranges: tuple = ()) -> None:
        self.path = path
        # Plan ranges to mute/bleep: with any, audio is re-encoded (redact.io.audio), not copied.
        self.audio_ranges = tuple(audio_ranges)
        self.format = FORMATS.get(final_suffix.lower(), "mp4")
        self.source = source
        self.crf, self.preset, self.keep_metadata = crf, preset, keep_metadata
        self.out = None
        self.vstream = None
        self.audio_map: dict[int, Any] = {}
        self.pending_audio: list[Any] = []
        self.frames_written = 0
        self._warnings: list[str] = []

    @property
    def warnings(self) -> list[str]:
        """What the audit should say about this output, including the reader's notes."""
        return [*getattr(self.source, "notes", []), *self._warnings]

    def _open(self, first_rotation: int) -> None:
        av = _av()
        src_v = main_video_stream(self.source)
        options = {"movflags": "+faststart"} if self.format in ("mp4", "mov") else {}
        try:
            self.out = av.open(str(self.path), "w", format=self.format, options=options)
        except OSError as exc:
            raise _write_failed(exc, self.path) from None
        if self.keep_metadata:
            self.out.metadata.update(self.source.metadata)
        ctx = src_v.codec_context
        rate = src_v.average_rate or src_v.guessed_rate or Fraction(30)
        # WebM cannot hold H.264: VP9 (libvpx, in PyAV's wheel) at a matching quality.
        webm = self.format == "webm"
        vs = self.out.add_stream("libvpx-vp9" if webm else "libx264", rate=rate)
        vs.width, vs.height = ctx.width, ctx.height
        # x264 cannot code 4:2:0 with an odd width or height; 4:4:4 keeps the exact size.
        odd = ctx.width % 2 or ctx.height % 2
        vs.pix_fmt = "yuv444p" if odd else "yuv420p"
        if odd:
            self._warnings.append("odd frame size: encoded as 4:4:4 to keep the exact "
                                  "resolution")
        elif ctx.pix_fmt not in ("yuv420p", "yuvj420p"):
            # Full-range (yuvj) input keeps its range flag below; deeper or wider formats do not
            # survive, and a reviewer comparing against the original should know why.
            self._warnings.append(f"input pixel format {ctx.pix_fmt} encoded as 8-bit 4:2:0 "
                                  "(yuv420p)")
        # Same time base as the input, so every pts is copied exactly (VFR survives).
        vs.time_base = src_v.time_base
        vs.codec_context.time_base = src_v.time_base
        if webm:
            vp9_crf = min(63, round(self.crf * 63 / 51))  # same place on VP9's 0-63 scale
            vs.options = {"crf": str(vp9_crf), "b": "0", "row-mt": "1",
                          "deadline": "good", "cpu-used": "4"}
            self._warnings.append(f"WebM output: video encoded as VP9 (crf {vp9_crf}); "
                                  "the x264 preset does not apply")
        else:
            vs.options = {"crf": str(self.crf), "preset": self.preset}
            if self.format == "avi":
                # Trap: AVI stores frames in decode order with no pts of their own, so
                # B-frames would shift every timestamp; x264 without them keeps them exact.
                vs.options = {**vs.options, "bf": "0"}
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
            if self.audio_ranges:
                if self.format == "webm":
                    raise StageError("audio ranges cannot be written into WebM (no AAC); "
                                     "choose an .mp4 or .mkv output")
                from redact.io.audio import AudioRangeEncoder

                self.audio_map[a.index] = AudioRangeEncoder(self.out, a, self.audio_ranges)
                spans = ", ".join(f"{r.start:g}-{r.end:g} s {r.mode}" for r in self.audio_ranges)
                self._warnings.append(f"audio stream #{a.index} re-encoded as AAC to redact "
                                      f"{spans}")
                continue
            try:
                oa = self.out.add_stream_from_template(a)
            except (ValueError, av.FFmpegError) as exc:
                raise StageError(f"cannot copy audio stream {a.index} ({a.codec_context.name}) "
                                 f"into {self.format}: {exc}") from None
            if a.language:
                oa.metadata["language"] = a.language
            self.audio_map[a.index] = oa
        if self.audio_ranges and not self.source.streams.audio:
            self._warnings.append("the plan has audio ranges but the input has no audio")
        dropped = [s for s in self.source.streams if s.type not in ("video", "audio")]
        if dropped:
            kinds = ", ".join(f"#{s.index} {s.type}" for s in dropped)
            self._warnings.append(f"streams not copied (may hold telemetry/GPS): {kinds}")
        pictures = [s for s in self.source.streams.video if is_attached_picture(s)]
        if pictures:
            kinds = ", ".join(f"#{s.index}" for s in pictures)
            self._warnings.append(f"attached pictures (cover art/thumbnails) dropped, as they "
                                  f"may show unredacted content: {kinds}")
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
            try:
                if hasattr(out_stream, "push"):  # an AudioRangeEncoder
                    out_stream.push(packet)
                    return
                packet.stream = out_stream
                self.out.mux(packet)
            except OSError as exc:
                raise _write_failed(exc, self.path) from None

    def _encode(self, vframe) -> None:
        av = _av()
        try:
            for packet in self.vstream.encode(vframe):
                self.out.mux(packet)
        except av.FFmpegError as exc:
            full = disk_full(exc, self.path.parent)
            if full is not None:
                raise full from None
            raise StageError(f"encoding failed: {exc}") from None

    def close(self) -> None:
        if self.out is None:
            return
        self._encode(None)
        try:
            for encoder in self.audio_map.values():
                if hasattr(encoder, "flush"):
                    encoder.flush()
            self.out.close()
        except OSError as exc:
            raise _write_failed(exc, self.path) from None
        self.out = None

    def abort(self) -> None:
        if self.out is not None:
            with contextlib.suppress(Exception):  # the temp file is deleted anyway
                self.out.close()
            self.out = None
