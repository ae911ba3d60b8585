"""The transcript: words with their times on the frames' clock (seconds, as ``frames[].time``).

It is personal data itself. It is written beside the plan (``<plan>.transcript.json``), never
into the release folder; what may be released is ``to_webvtt`` with the muted words replaced
by ``[redacted]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from redact.errors import ConfigError

TRANSCRIPT_SCHEMA = "redact.transcript/1"
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Word:
    """One recognised word: ``start``/``end`` seconds on the frames' clock, ``conf`` in 0..1,
    ``stream`` the container index of the audio stream it was heard on."""

    text: str
    start: float
    end: float
    conf: float = 1.0
    stream: int = 0

    def __post_init__(self) -> None:
        if not self.text or any(c.isspace() for c in self.text):
            raise ValueError(f"word text must be one non-empty word, got {self.text!r}")
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.start < 0:
            raise ValueError(f"word {self.text!r}: start must be >= 0 and times finite")
        if self.end < self.start:
            raise ValueError(f"word {self.text!r}: end {self.end} is before start {self.start}")


@dataclass(frozen=True)
class Transcript:
    """The words of every transcribed audio stream in time order, and notes for the audit
    (no audio, silent audio) that never contain the words."""

    words: tuple[Word, ...] = ()
    streams: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = field(default=0.0, compare=False)  # audio duration transcribed

    def __post_init__(self) -> None:
        starts = [w.start for w in self.words]
        if starts != sorted(starts):
            raise ValueError("transcript words must be in time order")

    def to_json(self) -> dict[str, Any]:
        return {"schema": TRANSCRIPT_SCHEMA, "streams": list(self.streams),
                "notes": list(self.notes), "seconds": self.seconds,
                "words": [{"text": w.text, "start": w.start, "end": w.end, "conf": w.conf,
                           "stream": w.stream} for w in self.words]}

    @classmethod
    def from_json(cls, data: Any) -> Transcript:
        if not isinstance(data, dict) or data.get("schema") != TRANSCRIPT_SCHEMA:
            raise ConfigError(f"transcript: schema must be {TRANSCRIPT_SCHEMA!r}")
        try:
            words = tuple(Word(**w) for w in data.get("words", []))
            return cls(words, tuple(data.get("streams", [])), tuple(data.get("notes", [])),
                       float(data.get("seconds", 0.0)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"transcript: {exc}") from None


class Span(Protocol):
    start: float
    end: float


def transcript_path_for(plan_path: Path) -> Path:
    """``plans/clip.mp4.plan.json`` → ``plans/clip.mp4.transcript.json``."""
    name = plan_path.name.removesuffix(".plan.json").removesuffix(".json")
    return plan_path.with_name(f"{name}.transcript.json")


def load_transcript(path: Path) -> Transcript | None:
    if not path.is_file():
        return None
    try:
        return Transcript.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the transcript ({exc})") from None


def is_muted(word: Word, spans: Sequence[Span]) -> bool:
    """A word any part of whose middle half is covered by a span counts as muted."""
    a = word.start + (word.end - word.start) / 4
    b = word.end - (word.end - word.start) / 4
    return any(s.start < b and s.end > a for s in spans) or any(
        s.start <= word.start and s.end >= word.end for s in spans)


def _stamp(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def to_webvtt(transcript: Transcript, muted: Sequence[Span], *, per_cue: int = 10) -> str:
    """WebVTT of the transcript with every muted word replaced by ``[redacted]`` (runs of
    them by one), ``per_cue`` words a cue.

    >>> t = Transcript((Word("call", 0.0, 0.3), Word("five", 0.4, 0.7), Word("now", 0.8, 1.0)))
    >>> print(to_webvtt(t, [type("S", (), {"start": 0.35, "end": 0.75})()]).strip())
    WEBVTT
    <BLANKLINE>
    00:00:00.000 --> 00:00:01.000
    call [redacted] now
    """
    out = ["WEBVTT", ""]
    words = list(transcript.words)
    for i in range(0, len(words), per_cue):
        cue = words[i:i + per_cue]
        text: list[str] = []
        for w in cue:
            token = REDACTED if is_muted(w, muted) else w.text
            if not (token == REDACTED and text and text[-1] == REDACTED):
                text.append(token)
        out += [f"{_stamp(cue[0].start)} --> {_stamp(cue[-1].end)}", " ".join(text), ""]
    return "\n".join(out)
