"""Containers: the streams a file holds, which one we redact, and whether the file is complete.

Shared by the decoder (``redact.io.decode``) and the encoder (``redact.io.encode``). The
completeness checks read what each container declares (MP4 sample table, Matroska durations,
AVI headers) and compare it with what was actually decoded.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from redact.errors import InputError

# Frames short of the declared end that still count as complete (container durations are
# rounded, and the last frame's duration is a guess).
TRUNCATION_TOLERANCE_FRAMES = 2
UNCHECKED = "completeness could not be checked: the container declares no frame count or duration"


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


class StreamEnds:
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


def check_complete(container, vstream, name: str, decoded: int, video_end: float,
                    any_end: float, frame_s: float) -> str | None:
    """Raise ``InputError`` when the video stops short of what the container declares; return
    a note for the audit when it declares nothing to compare with."""
    fmt = container.format.name
    slack = TRUNCATION_TOLERANCE_FRAMES * frame_s + 1e-3

    def truncated(detail: str) -> InputError:
        return InputError(f"{name}: {detail}; the file is truncated or damaged: use a complete "
                          "copy (re-export it, or copy it again)")

    def short_of(declared_s: float, end: float, what: str) -> None:
        if end + slack < declared_s:
            raise truncated(f"{what} at {end:.2f} s of the declared {declared_s:.2f} s")

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
            return short_of(tagged, video_end, "the video ends")
        if container.duration:
            return short_of(container.duration / 1_000_000, any_end, "the streams end")
        if _mkv_clusters_complete(Path(container.name)) is False:
            raise truncated("the last Matroska cluster is cut short")
        return UNCHECKED + " (Matroska without a duration, as written live)"
    if fmt == "avi":
        declared_s = _avi_declared_end(Path(container.name), vstream.index)
        if declared_s:
            return short_of(declared_s, video_end, "the video ends")
        return UNCHECKED + " (AVI header holds no length)"
    if fmt == "flv":
        # FLV's muxers write the length into the onMetaData script tag at the end (a file
        # written live has none, or 0).
        declared_s = _flv_declared_duration(Path(container.name))
        if declared_s:
            return short_of(declared_s, any_end, "the streams end")
        return UNCHECKED + " (FLV without a duration)"
    if fmt == "mpegts":
        # A transport stream declares no length, but it is a run of fixed-size packets: a
        # copy cut anywhere but on a packet boundary ends inside one.
        if _ts_packets_whole(Path(container.name)) is False:
            raise truncated("the last MPEG-TS packet is cut short")
        return UNCHECKED + " (MPEG-TS)"
    return UNCHECKED + f" ({fmt})"


def _flv_declared_duration(path: Path) -> float | None:
    r"""The ``duration`` (seconds) in an FLV's onMetaData tag, or None when it has none.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     flv = Path(d) / "a.flv"
    ...     _ = flv.write_bytes(b"FLV\x01\x05" + bytes(8) + b"\x02\x00\x0aonMetaData\x08"
    ...                         + bytes(4) + b"\x00\x08duration\x00" + struct.pack(">d", 2.5))
    ...     _flv_declared_duration(flv)
    2.5
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)
    except OSError:
        return None
    if head[:3] != b"FLV":
        return None
    at = head.find(b"\x00\x08duration\x00")  # AMF0: the key, then a number marker
    if at < 0 or at + 19 > len(head):
        return None
    (value,) = struct.unpack(">d", head[at + 11:at + 19])
    return value if value > 0 and math.isfinite(value) else None


def _ts_packets_whole(path: Path) -> bool | None:
    """Whether an MPEG-TS file is whole 188-byte packets (192 in .m2ts: a 4-byte timestamp
    first), the last one starting with its sync byte; None when the layout is not
    recognised.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ts = Path(d) / "a.ts"
    ...     _ = ts.write_bytes((b"\x47" + bytes(187)) * 3)
    ...     whole = _ts_packets_whole(ts)
    ...     _ = ts.write_bytes((b"\x47" + bytes(187)) * 3 + b"\x47" + bytes(40))
    ...     whole, _ts_packets_whole(ts)
    (True, False)
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(2 * 192 + 1)
            for packet, sync in ((188, 0), (192, 4)):
                if len(head) > packet + sync and head[sync] == head[packet + sync] == 0x47:
                    break
            else:
                return None
            if size % packet:
                return False
            fh.seek(size - packet + sync)
            return fh.read(1) == b"\x47"
    except OSError:
        return None


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
