"""Offline speech recognition with pocketsphinx and the model its wheel ships (registry:
``pocketsphinx-en-us``, verified in place by sha256 before each file).

Every audio stream of a file is transcribed (recall first: a second stream may be the radio),
decoded packet by packet, never held whole: 16 kHz mono 16-bit, cut into utterances at quiet
moments (at most ``MAX_UTT_S`` long). Word times are seconds on the frames' clock: the first
decoded sample of a stream is at its pts, later samples follow at the sample rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from redact.errors import InputError, StageError
from redact.speech.transcript import Transcript, Word

RATE = 16_000
CHUNK = RATE // 10          # 0.1 s
MIN_UTT_S, MAX_UTT_S = 8.0, 25.0
SILENT_PEAK = 4             # of 32767: below this everywhere, the stream is silent
FRAME_S = 0.01              # pocketsphinx frames are 10 ms
MODEL = "pocketsphinx-en-us"


class Recogniser:
    """One pocketsphinx decoder over the verified model folder; reused for every file."""

    def __init__(self, model_dir: Path) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise StageError(f"speech recognition needs pocketsphinx==5.1.1 ({exc}); "
                             "run `pip install pocketsphinx==5.1.1`") from None
        self.decoder = Decoder(hmm=str(model_dir / "en-us"), lm=str(model_dir / "en-us.lm.bin"),
                               dict=str(model_dir / "cmudict-en-us.dict"), loglevel="FATAL")

    def utterance(self, pcm: bytes, t0: float, stream: int) -> list[Word]:
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        words = []
        for seg in d.seg():
            text = seg.word.split("(")[0]
            if text.startswith(("<", "[")) or not text:
                continue
            words.append(Word(text.lower(), round(t0 + seg.start_frame * FRAME_S, 3),
                              round(t0 + (seg.end_frame + 1) * FRAME_S, 3),
                              round(min(1.0, max(0.0, float(seg.prob))), 3), stream))
        return words


def load_recogniser(store: Any) -> Recogniser:
    """The recogniser over the registry's verified model (a ``ModelError`` if it is not)."""
    spec = store.specs()[MODEL]
    return Recogniser(store.ensure(spec))


def _pcm_chunks(path: Path, index: int) -> Iterator[tuple[float | None, np.ndarray]]:
    """(time of the first sample or None, int16 mono samples at RATE) per decoded frame."""
    import av

    with av.open(str(path)) as container:
        stream = next(s for s in container.streams.audio if s.index == index)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    t = float(frame.pts * frame.time_base) if frame.pts is not None else None
                    for f in resampler.resample(frame):
                        yield t, f.to_ndarray().reshape(-1)
                        t = None
            for f in resampler.resample(None):
                yield None, f.to_ndarray().reshape(-1)
        except av.FFmpegError as exc:
            raise StageError(f"{path.name}: audio stream #{index} cannot be decoded for "
                             f"speech recognition ({exc})") from None


def transcribe_stream(rec: Recogniser, path: Path, index: int) -> tuple[list[Word], float, int]:
    """Words of one stream, its duration in seconds and its peak sample."""
    words: list[Word] = []
    t0: float | None = None
    utt: list[np.ndarray] = []
    utt_start, done, peak = 0.0, 0, 0
    for t, pcm in _pcm_chunks(path, index):
        if t0 is None:
            t0 = t or 0.0
            utt_start = t0
        if len(pcm):
            peak = max(peak, int(np.abs(pcm.astype(np.int32)).max()))
        utt.append(pcm)
        done += len(pcm)
        length = sum(len(u) for u in utt) / RATE
        quiet = len(pcm) and float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2))) < 300
        if length >= MAX_UTT_S or (length >= MIN_UTT_S and quiet):
            words += rec.utterance(np.concatenate(utt).tobytes(), utt_start, index)
            utt, utt_start = [], (t0 or 0.0) + done / RATE
    if utt and sum(len(u) for u in utt):
        words += rec.utterance(np.concatenate(utt).tobytes(), utt_start, index)
    return words, done / RATE, peak


def transcribe(path: Path, rec: Recogniser) -> Transcript:
    """Every audio stream of ``path``; a file without audio, or with silent audio, gets a
    note (for the audit), not an error."""
    import av

    try:
        with av.open(str(path)) as container:
            indices = [s.index for s in container.streams.audio]
    except av.FFmpegError as exc:
        raise InputError(f"{path.name}: cannot open for speech recognition ({exc})") from None
    if not indices:
        return Transcript(notes=("no audio stream: nothing to transcribe",))
    words: list[Word] = []
    notes: list[str] = []
    seconds = 0.0
    for index in indices:
        got, secs, peak = transcribe_stream(rec, path, index)
        seconds += secs
        if peak < SILENT_PEAK:
            notes.append(f"audio stream #{index} is silent: nothing to transcribe")
        words += got
    words.sort(key=lambda w: (w.start, w.stream))
    return Transcript(tuple(words), tuple(indices), tuple(notes), round(seconds, 3))
