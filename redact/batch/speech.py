"""The speech half of an analysis (``--audio-pii``): transcribe, find, suggest; and where the
transcript goes. The transcript is written beside a plan (``redact plan``), never into the
release folder; ``transcript_out`` gets the redacted WebVTT only."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redact.config import Config
from redact.io.atomic import write_bytes_atomic
from redact.speech.finder import BRIDGE_S, PAD_AFTER_S, FinderSettings, find_personal_data
from redact.speech.transcript import Transcript, to_webvtt, transcript_path_for
from redact.speech.words import load_names_file


@dataclass(frozen=True)
class SpeechResult:
    transcript: Transcript
    audio: tuple[dict[str, Any], ...] = ()   # plan audio[] items, source "suggested"
    notes: tuple[str, ...] = ()              # for the plan's warnings and the audit
    seconds: float = field(default=0.0, compare=False)


def names_of(config: Config) -> frozenset[str]:
    return load_names_file(config.audio_pii_names) if config.audio_pii_names else frozenset()


def analyse_speech(src: Path, config: Config, recogniser: Any) -> SpeechResult:
    """Transcribe every audio stream of ``src`` and suggest the ranges to mute."""
    from redact.speech.asr import transcribe

    names = names_of(config)  # a bad names file fails before the long part
    t0 = time.monotonic()
    transcript = transcribe(src, recogniser)
    found = find_personal_data(transcript, names, FinderSettings(
        pad_s=config.audio_pii_pad_s, cue_s=config.audio_pii_cue_s,
        pad_after_s=max(config.audio_pii_pad_s, PAD_AFTER_S), bridge_s=BRIDGE_S))
    audio = tuple({"start": s.start, "end": s.end, "mode": "mute", "source": "suggested",
                   "reason": s.reason} for s in found)
    notes = [f"speech: {n}" for n in transcript.notes]
    if transcript.streams:
        notes.append(f"speech: audio stream(s) {', '.join(f'#{i}' for i in transcript.streams)}"
                     f" transcribed ({transcript.seconds:.1f} s of audio, "
                     f"{len(transcript.words)} words); {len(audio)} range(s) suggested")
    if transcript.streams and not transcript.words and not transcript.notes:
        notes.append("speech: no words recognised; nothing suggested")
    return SpeechResult(transcript, audio, tuple(notes), time.monotonic() - t0)


def write_transcript(plan_path: Path, transcript: Transcript) -> Path:
    """Beside the plan: ``<name>.transcript.json`` (personal data: keep it with the plans)."""
    path = transcript_path_for(plan_path)
    write_bytes_atomic(path, json.dumps(transcript.to_json(), indent=1).encode("utf-8"))
    return path


def write_vtt(folder: str | Path, output: Path, transcript: Transcript, plan: Any) -> Path:
    """The redacted transcript of ``output`` (muted words as ``[redacted]``) in ``folder``."""
    path = Path(folder) / f"{output.name}.vtt"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, to_webvtt(transcript, plan.audio_ranges).encode("utf-8"))
    return path
