"""The personal-data finder: transcript words → suggested audio ranges, each with its reason.

Recall first. It suggests spoken digit sequences (phone, social security, date of birth,
plate and house numbers, as words: "five five five one two"), dates, street addresses,
e-mail addresses ("... at gmail dot com"), names (a clerk's ``--names`` file and the shipped
first-name list), and a short window after a cue ("my name is", "date of birth", "phone") even
when the recogniser garbled what followed. Ranges are padded by ``pad_s`` and merged.
It never returns the words, only times and reasons.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import redact.speech.words as W
from redact.speech.transcript import Transcript, Word

GAP_S = 0.8  # number words closer than this belong to one sequence
# Where ordinary speech resumes after a cue: this many words in a row, each heard with at least
# this confidence and no longer than this (Whisper stretches a word over what it could not
# make out).
ORDINARY_RUN, ORDINARY_CONF, ORDINARY_MAX_S = 3, 0.5, 0.8
# A word longer than this has taken in a pause (Whisper's word times); a word lasts about
# LETTER_S a letter, within WORD_S..WORD_MAX_S (finder ``_unstretch``).
STRETCH_S, WORD_S, WORD_MAX_S, LETTER_S = 0.45, 0.2, 0.5, 0.07
# Chosen by benchmarks/speech.py on its tune half (Whisper tiny.en): padding after a range
# and the gap under which two ranges are joined. The run's settings (``audio_pii_pad_s``,
# ``audio_pii_cue_s``) set the padding before and the cue window; padding after is never
# less than this (redact/batch/speech.py).
PAD_AFTER_S, BRIDGE_S = 0.3, 0.6


@dataclass(frozen=True)
class FinderSettings:
    pad_s: float = 0.25       # added before every range (and after, unless pad_after_s)
    pad_after_s: float | None = None  # added after every range; None: pad_s
    cue_s: float = 1.5        # muted after a cue word
    min_run: int = 2          # number words that make a digit sequence
    bridge_s: float = 0.0     # ranges closer than this are joined
    shipped_names: bool = True

    def __post_init__(self) -> None:
        if not (0 <= self.pad_s <= 5 and 0 <= self.cue_s <= 10 and self.min_run >= 1
                and 0 <= self.bridge_s <= 5 and 0 <= (self.pad_after_s or 0) <= 5):
            raise ValueError("finder settings: pad_s 0..5, cue_s 0..10, min_run >= 1, "
                             "bridge_s 0..5, pad_after_s 0..5")


@dataclass(frozen=True)
class Suggestion:
    start: float
    end: float
    reason: str

    def __post_init__(self) -> None:
        if not (0 <= self.start < self.end):
            raise ValueError(f"suggestion needs 0 <= start < end, got {self.start}..{self.end}")


Hit = tuple[float, float, str]


def _runs(words: Sequence[Word], member) -> list[tuple[int, int]]:
    """Index ranges [i, j) of consecutive words for which ``member(i)`` holds, gaps < GAP_S."""
    out, i = [], 0
    while i < len(words):
        if not member(i):
            i += 1
            continue
        j = i + 1
        while j < len(words) and member(j) and words[j].start - words[j - 1].end < GAP_S:
            j += 1
        out.append((i, j))
        i = j
    return out


def _numbers(words: Sequence[Word], cfg: FinderSettings) -> list[Hit]:
    """Digit sequences; letters count inside one that has a digit (plates); a month or an
    ordinal beside numbers makes a date; a street word after a number an address."""
    text = [w.text for w in words]

    def member(i: int) -> bool:
        t = text[i]
        return t in W.NUMBERS or t in W.ORDINALS or t in W.MONTHS or (
            W.spelled(t) and any(x in W.NUMBERS for x in text[max(0, i - 2):i + 3])) or (
            # "free zero eight", "for one two": a digit misheard as its homophone, between
            # or beside number words.
            t in W.DIGIT_SOUNDALIKES and any(x in W.NUMBERS for x in text[max(0, i - 1):i + 2]))

    hits: list[Hit] = []
    for i, j in _runs(words, member):
        run = text[i:j]
        numeric = sum(t in W.NUMBERS for t in run)
        if any(t in W.MONTHS for t in run) and (numeric or any(t in W.ORDINALS for t in run)):
            hits.append((words[i].start, words[j - 1].end, "date"))
        elif numeric >= cfg.min_run:
            kind = "plate or id number" if any(W.spelled(t) for t in run) else "digit sequence"
            hits.append((words[i].start, words[j - 1].end, kind))
        elif numeric and j < len(words) and text[j] in W.STREET:
            hits.append((words[i].start, words[j].end, "street address"))
    return hits


def _addresses_and_mail(words: Sequence[Word]) -> list[Hit]:
    """Street words with up to three words before them; an e-mail address: ``at … dot com``,
    a mail host, or a lone ``com`` (Whisper runs an address together: "jsmithatgmail com"),
    with up to five words before it, less the lead-in ("e-mail me at")."""
    hits: list[Hit] = []
    text = [w.text for w in words]
    for k, t in enumerate(text):
        if t in W.STREET:
            i = max(0, k - 3)
            hits.append((words[i].start, words[min(k + 1, len(words) - 1)].end, "street address"))
        if (t in W.TLDS and k and text[k - 1] == "dot") or t in W.MAIL_HOSTS or (
                t in W.BARE_TLDS and k) or any(h in t for h in W.MAIL_HOSTS):
            i = max(0, k - 5)
            while i < k and text[i] in W.MAIL_LEAD_IN:
                i += 1
            hits.append((words[i].start, words[k].end, "e-mail address"))
    return hits


def _names(words: Sequence[Word], names: frozenset[str], cfg: FinderSettings) -> list[Hit]:
    shipped = W.shipped_first_names() if cfg.shipped_names else frozenset()
    hits: list[Hit] = []
    for k, w in enumerate(words):
        t = W.fold(w.text)
        if t in names or t in shipped:
            # The word after a first name is often the surname.
            end = words[k + 1].end if k + 1 < len(words) and \
                words[k + 1].start - w.end < 0.3 else w.end
            hits.append((w.start, end, "name (names file)" if t in names else "first name"))
    return hits


def _ordinary(w: Word, names: frozenset[str]) -> bool:
    """A word the recogniser is sure of that is no personal data on its own: where ordinary
    speech resumes after a cue."""
    t = w.text
    return (w.conf >= ORDINARY_CONF and w.end - w.start <= ORDINARY_MAX_S and t not in W.NUMBERS
            and t not in W.ORDINALS and t not in W.MONTHS and not W.spelled(t)
            and t not in W.STREET and t not in W.MAIL_WORDS and W.fold(t) not in names
            and W.fold(t) not in W.shipped_first_names())


def _cue_at(text: Sequence[str], i: int) -> bool:
    return any(tuple(text[i:i + len(cue)]) == cue for cue in W.CUES)


def _cues(words: Sequence[Word], names: frozenset[str], cfg: FinderSettings) -> list[Hit]:
    """``cue_s`` after a cue, cut short where ordinary speech plainly resumes: a run of
    ``ORDINARY_RUN`` ordinary words (``_ordinary``) that starts after the first two words of
    what follows the cue (a name). A misheard stretch (unsure, overlong or missing words)
    stays muted to the end of the window: recall first."""
    hits: list[Hit] = []
    if cfg.cue_s <= 0:
        return hits
    text = [w.text for w in words]
    for k in range(len(words)):
        for cue, reason in W.CUES.items():
            if tuple(text[k:k + len(cue)]) != cue:
                continue
            j = k + len(cue)
            end = words[j - 1].end
            while j < len(words) and text[j] in W.CUE_LINKS:
                j += 1
            stop = end + cfg.cue_s
            # The window opens where what the cue announces begins, after "is", "me at":
            # those words are no personal data.
            if j < len(words) and j > k + len(cue):
                end = min(max(end, words[j].start), stop)
            for i in range(j, len(words)):
                if words[i].start >= stop:
                    break
                if i > j and _cue_at(text, i):  # the next cue: this one's datum has ended
                    stop = max(end, words[i].start)
                    break
                run = words[i:i + ORDINARY_RUN]
                if i >= j + 2 and len(run) == ORDINARY_RUN and all(
                        _ordinary(w, names) for w in run):
                    stop = max(words[i - 1].end, words[i].start)
                    break
            if stop > end:
                hits.append((end, stop, reason))
    return hits


def find_personal_data(transcript: Transcript, names: frozenset[str] = frozenset(),
                       settings: FinderSettings | None = None) -> list[Suggestion]:
    """Suggested ranges over ``transcript`` (per audio stream, then merged across streams:
    a range mutes every stream).

    >>> from redact.speech.transcript import Word as Wd
    >>> t = Transcript(tuple(Wd(x, i * 0.5, i * 0.5 + 0.4) for i, x in enumerate(
    ...     "call me on five five five one two".split())))
    >>> find_personal_data(t, settings=FinderSettings(pad_s=0.1, cue_s=0))
    [Suggestion(start=1.4, end=4.0, reason='digit sequence')]
    """
    cfg = settings or FinderSettings()
    folded = frozenset(W.fold(n) for n in names)
    hits: list[Hit] = []
    for stream in sorted({w.stream for w in transcript.words}):
        words = [w for w in transcript.words if w.stream == stream]
        starts = [w.start for w in words]
        found = _numbers(words, cfg) + _addresses_and_mail(words) + _names(words, folded, cfg)
        hits += [_unstretch(h, words, starts) for h in found]
        # No padding before a cue window: it opens at the best guess of where the datum
        # starts, and the datum's own hits carry the padding (merge subtracts pad_s from
        # every start).
        hits += [(a + cfg.pad_s, b, r) for a, b, r in
                 (_unstretch(h, words, starts) for h in _cues(words, folded, cfg))]
    return merge(hits, cfg.pad_s, cfg.bridge_s, cfg.pad_after_s)


def _unstretch(hit: Hit, words: Sequence[Word], starts: Sequence[float]) -> Hit:
    """Whisper gives a pause to the word before it: "is" stretched over 0.8 s, the first digit
    after it placed late. A hit right after such a word starts where that word would have
    ended (by its length in letters) when that is earlier.

    >>> from redact.speech.transcript import Word as Wd
    >>> ws = [Wd("is", 1.0, 1.9), Wd("five", 1.9, 2.2), Wd("six", 2.2, 2.5)]
    >>> _unstretch((1.9, 2.5, "digit sequence"), ws, [w.start for w in ws])
    (1.2, 2.5, 'digit sequence')
    """
    start, end, reason = hit
    i = bisect.bisect_left(starts, start - 1e-6) - 1
    if i >= 0:
        w = words[i]
        if w.end - w.start > STRETCH_S and w.end >= start - 0.1:
            start = min(start, w.start + min(WORD_MAX_S, max(WORD_S, LETTER_S * len(w.text))))
    return start, end, reason


def merge(hits: Sequence[Hit], pad_s: float, bridge_s: float = 0.0,
          pad_after_s: float | None = None) -> list[Suggestion]:
    """Padded hits, overlapping ones merged, and so are two closer than ``bridge_s``: a sliver
    of sound left between two muted ranges is of no use to anyone and often holds the digit
    the recogniser split a number at."""
    out: list[list] = []
    for start, end, reason in sorted(hits):
        start, end = max(0.0, start - pad_s), end + (pad_s if pad_after_s is None else pad_after_s)
        if out and start <= out[-1][1] + bridge_s:
            out[-1][1] = max(out[-1][1], end)
            if reason not in out[-1][2]:
                out[-1][2].append(reason)
        else:
            out.append([start, end, [reason]])
    return [Suggestion(round(s, 3), round(e, 3), ", ".join(r)) for s, e, r in out]
