"""What body-camera exports really contain, one tiny file per case, each with its outcome.

Every file either comes out faithful (same frames, timestamps, size, rotation, audio copied,
and painted wherever the scripted detector put a box) or fails with one line saying what to
do. Never an unredacted frame, never fewer frames with status ``ok``.
"""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from redact.io import output_name
from tests.conftest import encode_audio, frame_image, make_clip, read_video

X265 = {"x265-params": "log-level=none"}
NO_BFRAMES = {"bf": "0"}


# ----------------------------------------------------------------------------- file builders
def truncated(path: Path, keep: float = 0.5) -> Path:
    """Keep the first ``keep`` of the file (an interrupted copy or upload)."""
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: int(len(data) * keep)])
    return out


def joined_bytes(path: Path) -> Path:
    """Two copies of a transport stream joined byte for byte (``cat a.ts a.ts``, as DVR
    segments are joined): the clock restarts half-way."""
    out = path.with_name("joined_" + path.name)
    out.write_bytes(path.read_bytes() * 2)
    return out


def cut_inside_packet(path: Path) -> Path:
    """An MPEG-TS copy stopped half-way, 100 bytes into a 188-byte packet (a copy stops at
    any byte; one that stops on a packet boundary cannot be told from a whole file)."""
    data = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[: len(data) // 2 // 188 * 188 + 100])
    return out


def trimmed_copy(src: Path, dst: Path, seconds: float) -> Path:
    """A stream-copy cut starting ``seconds`` in, as ``ffmpeg -ss ... -c copy`` makes it: the
    cut starts at the keyframe before, and an edit list hides the frames before the cut."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        v = inp.streams.video[0]
        stream = out.add_stream_from_template(v)
        shift = int(seconds / v.time_base)
        for packet in inp.demux(v):
            if packet.dts is None:
                continue
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = stream
            out.mux(packet)
    return dst


def avi_cut_before_frame(path: Path, k: int) -> Path:
    """Cut an AVI exactly before its k-th video chunk: every frame left decodes cleanly."""
    data = path.read_bytes()
    movi = data.index(b"movi")
    pos = movi
    for _ in range(k):
        pos = data.index(b"00dc", pos + 4)
    out = path.with_name("cut_" + path.name)
    out.write_bytes(data[:pos])
    return out


def corrupted(path: Path) -> Path:
    """Scramble 200 bytes in the middle of the file (a bad sector, a broken transfer)."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid, mid + 200):
        data[i] ^= 0x5A
    out = path.with_name("bad_" + path.name)
    out.write_bytes(bytes(data))
    return out


def remuxed(src: Path, dst: Path, **options: str) -> Path:
    """Copy every packet into a new container written with muxer ``options``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options=options) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def joined(first: Path, second: Path, dst: Path) -> Path:
    """The video packets of ``second`` appended to those of ``first``, in one stream."""
    with av.open(str(first)) as a, av.open(str(second)) as b, \
            av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(a.streams.video[0])
        offset = 0
        for src in (a, b):
            last = 0
            for packet in src.demux(src.streams.video[0]):
                if packet.dts is None:
                    continue
                last = packet.pts
                packet.pts += offset
                packet.dts += offset
                packet.stream = stream
                out.mux(packet)
            offset += last + 1
    return dst


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable sink: the muxer cannot go back to fill in durations."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.data += b
        return len(b)


def live(path: Path, **kw) -> Path:
    """A file written as a stream (as a camera that lost power mid-recording leaves it)."""
    sink = _Pipe()
    make_clip(path, file=sink, **kw)
    path.write_bytes(bytes(sink.data))
    return path


def subtitles(out, vs) -> Callable[[int | None, object], None]:
    """An ASS subtitle track with one caption per frame (body cameras burn in unit/time)."""
    s = out.add_stream("ass")

    def hook(i: int | None, frame) -> None:
        if i is not None:
            p = av.Packet(f"{i},0,Default,,0,0,0,,unit 12 frame {i}".encode())
            p.stream, p.pts, p.dts, p.duration = s, frame.pts, frame.pts, 40
            p.time_base = frame.time_base
            out.mux(p)

    return hook


def gps_track(out, vs) -> Callable[[int | None, object], None]:
    """A timed-metadata (GoPro MET style) data track, one GPS sample per frame."""
    s = out.add_data_stream("bin_data")

    def hook(i: int | None, frame) -> None:
        if i is not None:
            p = av.Packet(b"GPS5 40.7128 -74.0060")
            p.stream, p.pts, p.dts, p.duration = s, frame.pts, frame.pts, 40
            p.time_base = frame.time_base
            out.mux(p)

    return hook


def wma_track(out, vs) -> Callable[[int | None, object], None]:
    """A Windows Media Audio track (WMV exports of older in-car systems), 0.2 s of silence."""
    s = out.add_stream("wmav2", rate=44100)
    s.layout, s.bit_rate = "stereo", 128000

    def hook(i: int | None, frame) -> None:
        if i is None:
            size = s.codec_context.frame_size
            encode_audio(out, s, np.zeros((2, 8820 // size * size), np.float32), 44100,
                         "stereo", size)

    return hook


def timecode(out, vs) -> None:
    vs.metadata["timecode"] = "10:00:00:00"  # the MP4 muxer adds a tmcd data track


def cover_art(out, vs) -> Callable[[int | None, object], None]:
    """An attached picture (thumbnail/cover art): a still that may show anything."""
    s = out.add_stream("mjpeg")
    s.width, s.height, s.pix_fmt = 32, 32, "yuvj420p"
    s.disposition = av.stream.Disposition.attached_pic

    def hook(i: int | None, frame) -> None:
        if i is None:
            still = av.VideoFrame.from_ndarray(frame_image(0, 32, 32), format="rgb24")
            still = still.reformat(format="yuvj420p")
            still.pts = 0
            for p in s.encode(still) + s.encode():
                out.mux(p)

    return hook


def second_view(out, vs) -> Callable[[int | None, object], None]:
    """A second camera view in the same file."""
    s = out.add_stream("libx264", rate=25)
    s.width, s.height, s.pix_fmt = vs.width, vs.height, "yuv420p"
    s.time_base = vs.time_base

    def hook(i: int | None, frame) -> None:
        for p in s.encode(frame.reformat(format="yuv420p") if frame is not None else None):
            out.mux(p)

    return hook


def add_silence(out) -> None:
    """One silent AAC frame on a new mono stream of the open container ``out``."""
    s = out.add_stream("aac", rate=16000)
    s.layout = "mono"
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                       layout="mono")
    frame.sample_rate = 16000
    for p in [*s.encode(frame), *s.encode()]:
        out.mux(p)


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        add_silence(out)
    return path


def no_frames(path: Path) -> Path:
    """A video stream that holds no picture, beside some audio (an export that failed)."""
    fmt = "matroska" if path.suffix == ".mkv" else "mp4"
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        add_silence(out)
    return path


def text_file(path: Path) -> Path:
    path.write_text("this is not a video\n")
    return path


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of ``width`` x ``height`` (all black), compressed to a few KB."""
    row = b"\0" + b"\0" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def pil_image(path: Path, mode: str, *, orientation: int = 0) -> Path:
    from PIL import Image

    img = Image.fromarray(frame_image(3, 64, 48)).convert(mode)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(path, exif=exif.tobytes() if orientation else b"", quality=95)
    return path


def many_pictures(path: Path) -> Path:
    """Two pictures in one file (a multi-page TIFF or an animated WebP), the second one
    different: redacting the first alone would drop it unseen."""
    from PIL import Image

    first = Image.fromarray(frame_image(3, 64, 48))
    second = Image.fromarray(frame_image(40, 64, 48))
    first.save(path, save_all=True, append_images=[second], duration=100)
    return path


def cv2_image(path: Path, kind: str) -> Path:
    rgb = frame_image(3, 64, 48)
    bgr = rgb[..., ::-1]
    if kind == "png16":
        img = bgr.astype(np.uint16) * 257
    elif kind == "gray16":
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    elif kind == "bgr":
        img = bgr
    elif kind == "rgba":
        # Left half opaque, right half fully transparent over a bright "hidden" picture.
        alpha = np.full((48, 64, 1), 255, np.uint8)
        alpha[:, 32:] = 0
        img = np.concatenate([bgr, alpha], axis=2)
    else:
        raise ValueError(kind)
    cv2.imwrite(str(path), img)
    return path


# ------------------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], Path]  # gets tmp_path, returns the input file
    error: str | None = None  # failed with this in the one-line message; else status ok
    warning: str | None = None  # ok, and the audit warns with this
    rotation: int = 0
    to_the_ms: bool = False  # written as Matroska, which keeps times to the millisecond


def clip(name: str, **kw) -> Callable[[Path], Path]:
    return lambda d: make_clip(d / name, **kw)


VIDEOS = [
    Case("hevc-mp4", clip("a.mp4", codec="libx265", n=6, options=X265)),
    Case("hevc-10bit-mkv", clip("a.mkv", codec="libx265", n=6, pix_fmt="yuv420p10le",
                                options=X265), warning="yuv420p10le"),
    Case("h264-10bit-422-mov", clip("a.mov", n=6, pix_fmt="yuv422p10le"),
         warning="yuv422p10le"),
    Case("mjpeg-avi", clip("a.avi", codec="mjpeg", pix_fmt="yuvj420p", n=8,
                           pts=list(range(8)), time_base=Fraction(1, 25))),
    # AVI marks skipped frames with empty chunks: the gaps must survive as timestamps.
    Case("mjpeg-avi-dropped-frames", clip("a.avi", codec="mjpeg", pix_fmt="yuvj420p",
                                          pts=[0, 1, 2, 5, 6, 9, 10],
                                          time_base=Fraction(1, 25))),
    Case("mjpeg-avi-pcm-audio", clip("a.avi", codec="mjpeg", pix_fmt="yuvj420p", n=8,
                                     pts=list(range(8)), time_base=Fraction(1, 25),
                                     audio=True, audio_codec="pcm_s16le")),
    Case("h264-avi-bframes", clip("a.avi", n=8, pts=list(range(8)),
                                  time_base=Fraction(1, 25))),
    Case("h264-avi-no-bframes", clip("a.avi", n=8, pts=list(range(8)),
                                     time_base=Fraction(1, 25), options=NO_BFRAMES)),
    # In-car and camcorder exports: the muxer's own delay must not shift the copied times.
    Case("mpegts-h264-aac-late-start", clip("a.ts", n=8, audio=True,
                                            pts=[1500 + 40 * i for i in range(8)]),
         warning="(MPEG-TS)"),
    Case("m2ts-h264", clip("a.m2ts", n=6), warning="(MPEG-TS)"),
    Case("3gp-h264-aac", clip("a.3gp", n=6, audio=True)),
    # Read, written as <name>.mkv (their containers do not hold H.264 as players expect).
    Case("mpeg-ps-mpeg2-mp2", clip("a.mpg", codec="mpeg2video", n=8, audio=True,
                                   audio_codec="mp2", pts=list(range(8)),
                                   time_base=Fraction(1, 25)),
         warning="could not be checked", to_the_ms=True),
    Case("flv-h264-aac", clip("a.flv", n=6, audio=True), to_the_ms=True),
    Case("ogg-vp8-opus", clip("a.ogv", codec="libvpx", n=6, audio=True, audio_codec="libopus"),
         to_the_ms=True, warning="could not be checked"),
    Case("mkv-subtitles", clip("a.mkv", n=6, extra=subtitles), warning="streams not copied"),
    Case("mkv-audio-rotated", clip("a.mkv", n=6, audio=True, rotation=90), rotation=90),
    Case("mp4-gps-data-track", clip("a.mp4", n=6, audio=True, extra=gps_track),
         warning="streams not copied"),
    Case("mov-timecode-track", clip("a.mov", n=6, extra=timecode),
         warning="streams not copied"),
    Case("mp4-cover-art", clip("a.mp4", n=6, extra=cover_art), warning="attached pictures"),
    Case("mp4-1-frame", clip("a.mp4", n=1)),
    Case("mkv-1-frame", clip("a.mkv", n=1)),
    Case("avi-1-frame", clip("a.avi", codec="mjpeg", pix_fmt="yuvj420p", pts=[0],
                             time_base=Fraction(1, 25))),
    Case("mp4-0.5fps", clip("a.mp4", pts=[0, 2000, 4000, 6000], rate=Fraction(1, 2))),
    Case("mkv-2fps-vfr", clip("a.mkv", pts=[0, 500, 1000, 2500, 3000], rate=2)),
    # A 3 s pause before the last frame (variable frame rate) is not a truncation.
    Case("mkv-vfr-long-last-frame", clip("a.mkv", pts=[0, 40, 80, 120, 3120])),
    Case("avi-2fps", clip("a.avi", codec="mjpeg", pix_fmt="yuvj420p", n=5, pts=list(range(5)),
                          time_base=Fraction(1, 2), rate=2)),
    Case("webm-vp9-opus", clip("a.webm", codec="libvpx-vp9", n=6, audio=True,
                               audio_codec="libopus"), warning="VP9"),
    Case("webm-vp8-odd-size", clip("a.webm", codec="libvpx", n=4, width=63, height=47,
                                   pix_fmt="yuv420p"), warning="VP9"),
    Case("mp4-edit-list-cut", lambda d: trimmed_copy(make_clip(d / "s.mp4", n=20,
                                                               options={"g": "10"}),
                                                     d / "a.mp4", 0.2),
         warning="5 frames before the start of the edit list"),
    Case("mp4-faststart", lambda d: remuxed(make_clip(d / "s.mp4", n=8), d / "a.mp4",
                                            movflags="+faststart")),
    # Nothing in these declares the length up front: the audit says it could not be checked.
    Case("mkv-live", lambda d: live(d / "a.mkv", n=8), warning="completeness could not be"),
    Case("mp4-fragmented", lambda d: remuxed(make_clip(d / "s.mp4", n=8), d / "a.mp4",
                                             movflags="frag_keyframe+empty_moov"),
         warning="completeness could not be"),
    # Damage inside one picture that the decoder conceals without any error or flag cannot
    # be seen: every frame is still there, at its time, and painted (a known limit).
    Case("mov-hevc-corrupt-concealed", lambda d: corrupted(make_clip(
        d / "a.mov", codec="libx265", n=30, options=X265))),
    Case("avi-mjpeg-corrupt-concealed", lambda d: corrupted(make_clip(
        d / "a.avi", codec="mjpeg", pix_fmt="yuvj420p", n=30, pts=list(range(30)),
        time_base=Fraction(1, 25)))),
    Case("mkv-live-truncated", lambda d: truncated(live(d / "a.mkv", n=30), 0.6),
         error="cluster is cut short"),
    # ---- refused, with what to do
    Case("audio-only", lambda d: audio_only(d / "a.mp4"), error="no video stream"),
    Case("mkv-0-frames", lambda d: no_frames(d / "a.mkv"), error="no video frame"),
    Case("mp4-0-frames", lambda d: no_frames(d / "a.mp4"), error="no video stream"),
    Case("mkv-two-views", clip("a.mkv", n=4, extra=second_view), error="-map 0:v:1"),
    Case("mp4-two-views", clip("a.mp4", n=4, extra=second_view), error="-map 0:v:1"),
    Case("mp4-corrupt", lambda d: corrupted(make_clip(d / "a.mp4", n=30)),
         error="decoding failed"),
    Case("mkv-corrupt", lambda d: corrupted(make_clip(d / "a.mkv", n=30)), error="damaged"),
    Case("webm-corrupt", lambda d: corrupted(make_clip(d / "a.webm", codec="libvpx-vp9",
                                                        n=30)), error="truncated or damaged"),
    Case("mp4-truncated", lambda d: truncated(make_clip(d / "a.mp4", n=45)),
         error="not a readable video"),
    Case("mp4-faststart-truncated",
         lambda d: truncated(remuxed(make_clip(d / "s.mp4", n=45), d / "a.mp4",
                                     movflags="+faststart")), error="truncated"),
    Case("mov-truncated", lambda d: truncated(make_clip(d / "a.mov", n=45)),
         error="not a readable video"),
    Case("mkv-truncated", lambda d: truncated(make_clip(d / "a.mkv", n=45, audio=True), 0.3),
         error="truncated"),
    Case("avi-truncated", lambda d: truncated(make_clip(d / "a.avi", codec="mjpeg",
                                                        pix_fmt="yuvj420p", n=45,
                                                        pts=list(range(45)),
                                                        time_base=Fraction(1, 25))),
         error="truncated"),
    Case("avi-truncated-between-frames", lambda d: avi_cut_before_frame(make_clip(
        d / "a.avi", codec="mjpeg", pix_fmt="yuvj420p", n=45, pts=list(range(45)),
        time_base=Fraction(1, 25)), 20), error="ends at 0.76 s of the declared 1.80 s"),
    Case("mpegts-truncated", lambda d: cut_inside_packet(make_clip(d / "a.ts", n=45,
                                                                   audio=True)),
         error="the last MPEG-TS packet is cut short"),
    # FLV declares its length in the onMetaData tag.
    Case("flv-truncated", lambda d: truncated(make_clip(d / "a.flv", n=45, audio=True), 0.55),
         error="of the declared"),
    Case("mpegts-clock-restarts", lambda d: joined_bytes(make_clip(d / "a.ts", n=30,
                                                                   audio=True)),
         error="clock jumps back from"),
    # Matroska cannot hold WMA: the message says how to convert the audio without loss.
    Case("wmv-wma", clip("a.wmv", codec="wmv2", n=4, extra=wma_track),
         error="convert the audio losslessly first"),
    Case("webm-truncated", lambda d: truncated(make_clip(d / "a.webm", codec="libvpx-vp9",
                                                         n=30)), error="truncated"),
    Case("mp4-fragmented-truncated",
         lambda d: truncated(remuxed(make_clip(d / "s.mp4", n=30, options={"g": "5"}),
                                     d / "a.mp4", movflags="frag_keyframe+empty_moov")),
         error="box is cut short"),
    Case("mkv-mjpeg-size-change", lambda d: joined(
        make_clip(d / "s1.mkv", codec="mjpeg", pix_fmt="yuvj420p", n=3),
        make_clip(d / "s2.mkv", codec="mjpeg", pix_fmt="yuvj420p", n=3, width=32, height=32),
        d / "a.mkv"), error="picture size changes at frame 3"),
    Case("mkv-8200-wide", clip("a.mkv", n=1, width=8200, height=16),
         error="larger than redact handles"),
    Case("text-named-mp4", lambda d: text_file(d / "a.mp4"), error="not a readable video"),
]


def centre_box(width: int, height: int) -> list[float]:
    """A 16 px square in the middle: the same place whichever way the picture is turned."""
    cx, cy = width / 2, height / 2
    return [cx - 8, cy - 8, cx + 8, cy + 8]


def run(fake_runner, src: Path, out: Path, box: list[float], frames: int):
    runner = fake_runner({i: [box] for i in range(frames)}, style="solid", margin=0.0)
    return runner.run(src, out / output_name(src.name))


def times(path: Path) -> list[float]:
    """Display times of the video frames. AVI has only chunk positions (FFmpeg's pts for
    H.264 there is a guess one frame late), so there the positions are the times."""
    if path.suffix != ".avi":
        return read_video(path)["times"]
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return sorted(float(p.dts * v.time_base) for p in c.demux(v) if p.size)


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(*c.streams.audio) if p.size] if c.streams.audio \
            else []


@pytest.mark.parametrize("case", VIDEOS, ids=[c.id for c in VIDEOS])
def test_video_corpus(tmp_path, fake_runner, case: Case):
    src = case.build(tmp_path)
    before = src.read_bytes()
    out = tmp_path / "out"
    shown = (48, 64) if case.rotation % 180 else (64, 48)
    result = run(fake_runner, src, out, centre_box(*shown), 100)
    assert src.read_bytes() == before  # never write to an input
    if case.error:
        assert result.status == "failed", f"expected {case.error!r}, got ok"
        assert case.error in result.error and "\n" not in result.error, result.error
        assert "internal error" not in result.error
        assert not out.exists() or list(out.iterdir()) == []
        return
    assert result.status == "ok", result.error
    dst = out / output_name(src.name)
    a, b = read_video(src), read_video(dst)
    assert len(b["pts"]) == len(a["pts"]) == result.frames > 0
    assert times(dst) == pytest.approx(times(src), abs=5e-4 if case.to_the_ms else 1e-6)
    assert b["size"] == a["size"]
    assert a["rotation"] == b["rotation"] == case.rotation
    assert b["audio"] == a["audio"] and audio_payloads(dst) == audio_payloads(src)
    w, h = b["size"]
    for i, img in enumerate(b["images"]):  # the scripted box is painted on every frame
        assert img[h // 2 - 6:h // 2 + 6, w // 2 - 6:w // 2 + 6].max() < 40, f"frame {i}"
    warnings = json.loads(Path(result.audit).read_text())["warnings"]
    if case.warning:
        assert any(case.warning in w for w in warnings), warnings
    else:
        assert not any("completeness" in w for w in warnings), warnings


IMAGES = [
    # (id, builder, displayed size or error)
    ("jpeg-exif-rotated", lambda d: pil_image(d / "a.jpg", "RGB", orientation=6), (48, 64)),
    ("jpeg-exif-rotated-270", lambda d: pil_image(d / "a.jpg", "RGB", orientation=8),
     (48, 64)),
    ("jpeg-cmyk", lambda d: pil_image(d / "a.jpg", "CMYK"), (64, 48)),
    ("jpeg-grey", lambda d: pil_image(d / "a.jpg", "L"), (64, 48)),
    ("png-16bit", lambda d: cv2_image(d / "a.png", "png16"), (64, 48)),
    ("png-grey-16bit", lambda d: cv2_image(d / "a.png", "gray16"), (64, 48)),
    ("png-rgba", lambda d: cv2_image(d / "rgba.png", "rgba"), (64, 48)),
    ("png-palette", lambda d: pil_image(d / "a.png", "P"), (64, 48)),
    ("png-huge", lambda d: png_header_only(d / "a.png", 12000, 12000),
     "larger than redact handles"),
    ("tiff-exif-rotated", lambda d: pil_image(d / "a.tif", "RGB", orientation=6), (48, 64)),
    ("tiff-16bit", lambda d: cv2_image(d / "a.tif", "png16"), (64, 48)),
    ("tiff-rgba", lambda d: cv2_image(d / "rgba.tif", "rgba"), (64, 48)),
    ("bmp", lambda d: cv2_image(d / "a.bmp", "bgr"), (64, 48)),
    ("webp-exif-rotated", lambda d: pil_image(d / "a.webp", "RGB", orientation=6), (48, 64)),
    ("tiff-multipage", lambda d: many_pictures(d / "a.tif"), "multi-page TIFF (2 pictures)"),
    ("webp-animated", lambda d: many_pictures(d / "a.webp"), "animated WebP (2 pictures)"),
    ("jpeg-truncated", lambda d: truncated(pil_image(d / "a.jpg", "RGB"), 0.6), "truncated"),
    ("png-truncated", lambda d: truncated(cv2_image(d / "a.png", "png16"), 0.6),
     "not a readable"),
]


def viewer(path: Path) -> np.ndarray:
    """What an image viewer shows (EXIF orientation applied, CMYK converted), as BGR; read
    with PIL for JPEGs, WebPs and 8-bit TIFFs, so the check does not just repeat OpenCV's own
    reading."""
    if path.suffix not in (".jpg", ".webp", ".tif") or path.stem == "rgba":
        return cv2.imread(str(path), cv2.IMREAD_COLOR)
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))[..., ::-1]


@pytest.mark.parametrize(("build", "expect"), [c[1:] for c in IMAGES],
                         ids=[c[0] for c in IMAGES])
def test_image_corpus(tmp_path, fake_runner, build, expect):
    src = build(tmp_path)
    out = tmp_path / "out"
    if isinstance(expect, str):
        result = run(fake_runner, src, out, [0, 0, 4, 4], 1)
        assert result.status == "failed" and expect in result.error, result.error
        assert "\n" not in result.error
        assert not out.exists() or list(out.iterdir()) == []
        return
    w, h = expect
    result = run(fake_runner, src, out, centre_box(w, h), 1)
    assert result.status == "ok", result.error
    img = cv2.imread(str(out / src.name), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint8 and img.shape == (h, w, 3)  # 8-bit BGR, as displayed
    assert img[h // 2 - 6:h // 2 + 6, w // 2 - 6:w // 2 + 6].max() < 40
    shown = viewer(src)
    outside = np.ones((h, w), bool)
    outside[h // 2 - 10:h // 2 + 10, w // 2 - 10:w // 2 + 10] = False
    diff = np.abs(img.astype(int) - shown)[outside].mean()
    if src.stem == "rgba":  # right half fully transparent: flattened onto white
        assert (img[:, 42:] == 255).all()  # the pixels under it are not revealed
        outside[:, 32:] = False
        diff = np.abs(img.astype(int) - shown)[outside].mean()
    assert diff < 4, diff  # outside the box the picture is the original's


# --------------------------------------------------------------------------- full disk
def point_temporaries_at(monkeypatch, target: str) -> None:
    """Make every temporary output a link to ``target`` (/dev/full answers ENOSPC)."""
    from redact.io import atomic

    real = atomic.temp_path_for

    def to_target(final: Path) -> Path:
        tmp = real(final)
        tmp.symlink_to(target)
        return tmp

    monkeypatch.setattr(atomic, "temp_path_for", to_target)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.jpg"])
def test_full_disk_while_writing(tmp_path, fake_runner, monkeypatch, name):
    src = pil_image(tmp_path / name, "RGB") if name.endswith(".jpg") \
        else make_clip(tmp_path / name, n=30, width=320, height=240)
    point_temporaries_at(monkeypatch, "/dev/full")
    out = tmp_path / "out"
    result = fake_runner().run(src, out / name)
    assert result.status == "failed"
    assert result.error == (f"no space left on device while writing to {out}; free space or "
                            "choose another output folder")
    assert list(out.iterdir()) == []


def test_full_disk_at_rename(tmp_path, fake_runner, monkeypatch):
    from redact.io import atomic

    def no_space(*_args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", no_space)
    src = make_clip(tmp_path / "a.mov", n=3)
    out = tmp_path / "out"
    result = fake_runner().run(src, out / "a.mov")
    assert result.status == "failed" and result.error.startswith("no space left on device")
    assert "internal error" not in result.error
    assert list(out.iterdir()) == []


def test_matroska_segment_duration_alone_catches_truncation(tmp_path, fake_runner,
                                                            monkeypatch):
    """Muxers such as mkvmerge write no per-track DURATION tag, only the Segment duration."""
    from redact.io import containers as video

    monkeypatch.setattr(video, "_parse_duration_tag", lambda _value: None)
    src = truncated(make_clip(tmp_path / "a.mkv", n=45, audio=True), 0.3)
    result = fake_runner().run(src, tmp_path / "out" / "a.mkv")
    assert result.status == "failed" and "the streams end at" in result.error, result.error
    full = make_clip(tmp_path / "b.mkv", n=45, audio=True)
    assert fake_runner().run(full, tmp_path / "out" / "b.mkv").status == "ok"


def test_pixel_limit_is_checked_before_decoding(tmp_path, fake_runner, monkeypatch):
    """Frames within the side limit but over the pixel budget are refused up front."""
    from redact.io import decode as video

    monkeypatch.setattr(video, "MAX_PIXELS", 64 * 48 - 1)
    src = make_clip(tmp_path / "a.mp4", n=2)
    result = fake_runner().run(src, tmp_path / "out" / "a.mp4")
    assert result.status == "failed" and "64x48, larger than redact handles" in result.error


def test_webm_is_a_supported_input(tmp_path):
    from redact.batch.collect import collect_jobs

    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "a.webm", codec="libvpx-vp9", n=2)
    jobs, early = collect_jobs([tmp_path / "in"], tmp_path / "out")
    assert [j.src.name for j in jobs] == ["a.webm"] and early == []


def test_containers_redact_cannot_write_come_out_as_matroska(tmp_path):
    """An MPEG program stream is read, and its redacted copy is ``<name>.mkv``; transport
    streams and 3GP keep their container."""
    from redact.batch.collect import collect_jobs

    (tmp_path / "in" / "dvr").mkdir(parents=True)
    for name in ("dvr/a.mpg", "b.ts", "c.3gp", "d.m2ts"):
        (tmp_path / "in" / name).write_bytes(b"x")
    jobs, early = collect_jobs([tmp_path / "in"], tmp_path / "out")
    assert early == []
    assert sorted(j.dst.relative_to(tmp_path / "out").as_posix() for j in jobs) == [
        "b.ts", "c.3gp", "d.m2ts", "dvr/a.mkv"]


def test_pictures_and_videos_redact_cannot_read_fail_instead_of_being_skipped(tmp_path):
    """An iPhone HEIC or a camera's raw file among the footage must not pass for done: it
    fails (the batch exits 1) with what to do; notes and metadata are still just skipped."""
    from redact.batch.collect import collect_jobs

    (tmp_path / "in").mkdir()
    for name in ("IMG_0001.HEIC", "cam.dav", "notes.txt", "a.jpg"):
        (tmp_path / "in" / name).write_bytes(b"x")
    jobs, early = collect_jobs([tmp_path / "in"], tmp_path / "out")
    assert [j.src.name for j in jobs] == ["a.jpg"]
    status = {Path(r.input).name: (r.status, r.error) for r in early}
    assert status["notes.txt"][0] == "skipped"
    for name in ("IMG_0001.HEIC", "cam.dav"):
        assert status[name][0] == "failed" and "convert it to a supported type" in status[name][1]
    _, early = collect_jobs([tmp_path / "in" / "IMG_0001.HEIC"], tmp_path / "out")
    assert early[0].status == "failed" and ".HEIC files are not read" in early[0].error
