"""Spoken personal data: a word-timed transcript (``asr``), the personal-data finder
(``finder``) over it, and the transcript's files (``transcript``). ``import redact.speech``
imports neither PyAV nor pocketsphinx."""

from redact.speech.finder import Suggestion, find_personal_data
from redact.speech.transcript import Transcript, Word

__all__ = ["Suggestion", "Transcript", "Word", "find_personal_data"]
