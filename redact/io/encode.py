"""Encode with PyAV: libx264 video (VP9 for WebM, which cannot hold H.264) at the input's size
and timestamps (so variable frame rate survives), audio stream-copied, into a temporary path
that ``redact.io.atomic`` renames into place.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path
from typing import Any

from redact.errors import StageError, disk_full
from redact.io import MUXERS
from redact.io.containers import is_attached_picture, main_video_stream
from redact.io.decode import Frame

# .m2ts gets the 192-byte packets of Blu-ray and camcorders from its name (the temporary name
# ends in it too).
FASTSTART = {"movflags": "+faststart"}
MUXER_OPTIONS = {"mp4": FASTSTART, "mov": FASTSTART, "3gp": FASTSTART, "3g2": FASTSTART}


def _av():
    import av

    return av


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
        self.format = MUXERS.get(final_suffix.lower(), "mp4")
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
        options = dict(MUXER_OPTIONS.get(self.format, {}))
        if self.format in ("matroska", "webm"):
            # Trap: Matroska's muxer writes random segment and track UIDs (and its own
            # version) unless told to be bit-exact; a rendered plan could then never match the
            # bytes of `run`. The source's own tags are still copied below when kept.
            options["fflags"] = "+bitexact"
        try:
            self.out = av.open(str(self.path), "w", format=self.format, options=options)
        except OSError as exc:
            raise _write_failed(exc, self.path) from None
        if self.keep_metadata:
            self.out.metadata.update(self.source.metadata)
        self.vstream = self._add_video(main_video_stream(self.source), first_rotation)
        self._add_audio()
        self._note_dropped()
        for packet in self.pending_audio:
            self._mux_audio(packet)
        self.pending_audio.clear()

    def _add_video(self, src_v, first_rotation: int):
        """The output video stream: the input's size, time base, colour and rotation."""
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
        vs.options = self._codec_options(webm)
        for attr in ("color_range", "colorspace", "color_primaries", "color_trc"):
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                setattr(vs.codec_context, attr, getattr(ctx, attr))
        if src_v.sample_aspect_ratio:
            vs.sample_aspect_ratio = src_v.sample_aspect_ratio
        if first_rotation:
            vs.set_display_rotation(first_rotation)
        if src_v.language:
            vs.metadata["language"] = src_v.language
        return vs

    def _codec_options(self, webm: bool) -> dict[str, str]:
        if webm:
            vp9_crf = min(63, round(self.crf * 63 / 51))  # same place on VP9's 0-63 scale
            self._warnings.append(f"WebM output: video encoded as VP9 (crf {vp9_crf}); "
                                  "the x264 preset does not apply")
            return {"crf": str(vp9_crf), "b": "0", "row-mt": "1", "deadline": "good",
                    "cpu-used": "4"}
        # Trap: x264's macroblock tree made identical frames encode to different bytes from
        # run to run (about half of all runs on small clips, even single-threaded, with or
        # without a frame rate hint); without it the output is a pure function of the input,
        # so a resumed batch or a re-render can be checked by hash.
        options = {"crf": str(self.crf), "preset": self.preset, "x264-params": "mbtree=0"}
        if self.format == "avi":
            # Trap: AVI stores frames in decode order with no pts of their own, so
            # B-frames would shift every timestamp; x264 without them keeps them exact.
            options["bf"] = "0"
        return options

    def _add_audio(self) -> None:
        """Each audio stream copied as is, or re-encoded where the plan has audio ranges."""
        av = _av()
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
                raise StageError(
                    f"cannot copy audio stream {a.index} ({a.codec_context.name}) into "
                    f"{self.format}: {exc}; convert the audio losslessly first, keeping the "
                    f"video as it is (ffmpeg -i IN -map 0 -c:v copy -c:a flac OUT.mkv), and "
                    f"redact that") from None
            if a.language:
                oa.metadata["language"] = a.language
            self.audio_map[a.index] = oa
        if self.audio_ranges and not self.source.streams.audio:
            self._warnings.append("the plan has audio ranges but the input has no audio")

    def _note_dropped(self) -> None:
        dropped = [s for s in self.source.streams if s.type not in ("video", "audio")]
        if dropped:
            kinds = ", ".join(f"#{s.index} {s.type}" for s in dropped)
            self._warnings.append(f"streams not copied (may hold telemetry/GPS): {kinds}")
        pictures = [s for s in self.source.streams.video if is_attached_picture(s)]
        if pictures:
            kinds = ", ".join(f"#{s.index}" for s in pictures)
            self._warnings.append(f"attached pictures (cover art/thumbnails) dropped, as they "
                                  f"may show unredacted content: {kinds}")

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
