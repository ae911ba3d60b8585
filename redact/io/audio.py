"""Audio redaction: re-encode one audio stream with silence or a 1 kHz tone over given ranges.

Only files whose plan has ``audio`` ranges come here; every other output keeps its audio
stream-copied, bit for bit. The stream is decoded packet by packet (never held whole), samples
whose time falls inside a range are replaced, and the result is encoded as AAC at the input's
sample rate and channel layout, with the input's timestamps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from redact.errors import StageError

BLEEP_HZ = 1000.0
BLEEP_LEVEL = 0.25  # of full scale: clearly a bleep, not painful
AAC_FRAME = 1024
AAC_BITRATE = 192_000


class Range(Protocol):
    start: float
    end: float
    mode: str


def apply_ranges(samples: np.ndarray, t0: float, rate: int, ranges: Sequence[Range]) -> None:
    """Replace, in place, the samples of ``samples`` (channels, n) that fall in ``ranges``;
    sample i is at ``t0 + i / rate`` seconds.

    >>> x = np.ones((1, 10), np.float32)
    >>> apply_ranges(x, 0.0, 10, [type("R", (), {"start": 0.2, "end": 0.5, "mode": "mute"})])
    >>> x[0].tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    n = samples.shape[1]
    t = t0 + np.arange(n) / rate
    for r in ranges:
        inside = (t >= r.start) & (t < r.end)
        if not inside.any():
            continue
        if r.mode == "bleep":
            samples[:, inside] = (BLEEP_LEVEL * np.sin(2 * np.pi * BLEEP_HZ * t[inside])
                                  ).astype(samples.dtype)
        else:
            samples[:, inside] = 0


class AudioRangeEncoder:
    """Decode ``source`` packets, blank ``ranges``, encode AAC into ``out`` (a PyAV output
    container still accepting streams)."""

    def __init__(self, out, source, ranges: Sequence[Range]) -> None:
        import av

        self.out = out
        self.source = source
        self.ranges = list(ranges)
        ctx = source.codec_context
        self.rate = int(ctx.sample_rate or 0)
        if self.rate <= 0:
            raise StageError(f"audio stream {source.index}: unknown sample rate; cannot mute "
                             "ranges in it")
        self.layout = ctx.layout.name
        try:
            self.stream = out.add_stream("aac", rate=self.rate)
        except (ValueError, av.FFmpegError) as exc:
            raise StageError(f"cannot re-encode audio stream {source.index} as AAC: {exc}"
                             ) from None
        self.stream.layout = self.layout
        self.stream.format = "fltp"
        self.stream.bit_rate = AAC_BITRATE
        self.stream.time_base = Fraction(1, self.rate)
        if source.language:
            self.stream.metadata["language"] = source.language
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        self.buffer: list[np.ndarray] = []
        self.buffered = 0
        self.next_pts: int | None = None  # in samples; pts of buffer[0]'s first sample
        self.samples_changed = 0

    def push(self, packet: Any) -> None:
        if not packet.size:
            return
        with self._errors():
            for frame in self.source.decode(packet):
                self._take(frame)
            self._encode_full()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        import av

        try:
            yield
        except av.FFmpegError as exc:
            if isinstance(exc, OSError) and exc.errno is not None and exc.errno != 22:
                raise  # disk errors: the writer reports them with the output's name
            # Fail closed: no output rather than audio that may still hold the range.
            raise StageError(f"audio stream {self.source.index}: cannot mute ranges "
                             f"({exc})") from None

    def _take(self, frame) -> None:
        for f in self.resampler.resample(frame):
            data = np.array(f.to_ndarray(), dtype=np.float32, copy=True)
            if f.pts is not None and f.time_base is not None:
                start = round(float(f.pts * f.time_base) * self.rate)
            else:
                start = (self.next_pts or 0) + self.buffered
            if self.next_pts is None:
                self.next_pts = start
            before = data.copy()
            apply_ranges(data, start / self.rate, self.rate, self.ranges)
            self.samples_changed += int((before != data).any(axis=0).sum())
            self.buffer.append(data)
            self.buffered += data.shape[1]

    def _encode_full(self, final: bool = False) -> None:
        import av

        if not self.buffer:
            if final:
                self._mux(self.stream.encode(None))
            return
        data = np.concatenate(self.buffer, axis=1)
        used = 0
        while data.shape[1] - used >= AAC_FRAME or (final and used < data.shape[1]):
            chunk = np.ascontiguousarray(data[:, used:used + AAC_FRAME])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = self.next_pts
            frame.time_base = Fraction(1, self.rate)
            self._mux(self.stream.encode(frame))
            self.next_pts += chunk.shape[1]
            used += chunk.shape[1]
        rest = data[:, used:]
        self.buffer = [rest] if rest.shape[1] else []
        self.buffered = rest.shape[1]
        if final:
            self._mux(self.stream.encode(None))

    def _mux(self, packets) -> None:
        for packet in packets:
            self.out.mux(packet)

    def flush(self) -> None:
        with self._errors():
            for frame in self.source.decode(None):
                self._take(frame)
            self._encode_full(final=True)
