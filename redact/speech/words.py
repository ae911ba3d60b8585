"""Word lists of the personal-data finder: spoken numbers, months, street words, cues, and
the first names (the shipped 1990 US Census list and a clerk's ``--names`` file)."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from redact.errors import ConfigError


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Number words in order (index = value; TENS by tens): how written digits are read out
# (asr.spoken) and what the finder counts as a number.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
DIGITS = frozenset(DIGIT_WORDS) | _set("oh o")
NUMBERS = DIGITS | frozenset(TEENS) | frozenset(TENS[2:]) | _set(
    "hundred thousand double triple")
# Words a recogniser hears for a digit ("free" for three, "for" for four, "or" for oh): read
# as digits only beside number words (finder.py).
DIGIT_SOUNDALIKES = _set("to too for fore free tree ate won or sex sick")
ORDINALS = _set(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth "
    "thirtieth")
MONTHS = _set(
    "january february march april may june july august september october "
                   "november december")
LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz") | _set(
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
STREET = _set(
    "street avenue road drive lane boulevard court place terrace circle "
                   "highway parkway apartment suite st ave")
TLDS = _set(
    "com net org gov edu us")
MAIL_HOSTS = _set(
    "gmail yahoo hotmail outlook aol icloud protonmail comcast")
# Said alone, these end an e-mail address even when the "dot" before them was not heard.
BARE_TLDS = _set("com")
MAIL_WORDS = TLDS | MAIL_HOSTS | _set("at dot")
# Words that lead into an e-mail address and are not part of it.
MAIL_LEAD_IN = _set(
    "email e mail me at is it's to my address send write reach contact you can")
# Between a cue and what it announces ("my name is ...", "date of birth is ...").
CUE_LINKS = _set("is was are it's its of at on me number the a as like um uh er")
# Short words that are not letters spelled out; any other token of at most three letters
# beside a number is read as spelled letters (a plate: "the plate is tvl three zero eight").
SHORT_WORDS = _set(
    "a i an as at be by do go he if in is it me my no of oh ok on or so to up us we ah um uh "
    "and are but can did for get got had has her him his how its let may not now off old one "
    "our out own put ran saw say see she sir the too two was way who why yes yet you all any "
    "day few new ten six big bad car cop man men hey its yep nah huh hmm okay")
# After these the next words are likely personal data even when misheard (cue → reason).
CUES = {("name",): "name", ("named",): "name", ("called",): "name", ("mister",): "name",
        ("missus",): "name", ("miss",): "name", ("birth",): "date of birth",
        ("born",): "date of birth", ("social", "security"): "social security number",
        ("phone",): "phone number", ("number",): "number", ("plate",): "plate number",
        ("license",): "licence number", ("address",): "street address",
        ("live",): "street address", ("email",): "e-mail address",
        ("e", "mail"): "e-mail address"}
# Census first names that are mostly ordinary words in speech: not suggested from the shipped
# list alone (a clerk's names file still names them).
COMMON_WORDS = _set(
    "will may june mark bill art rose guy sue joy hope grace faith frank jack don ray dawn "
    "april august summer buck carol chance chase cliff dale dean earl king les major mason "
    "miles ned pat penny pearl price rich rob rod ruby rusty sandy sky sonny sterling sunny "
    "tad ward wade young an in on so my no be do is it we he me man son said long love way "
    "page day lane see sea al ave christian noble else patience")


def spelled(token: str) -> bool:
    """A token that may be letters spelled out: one letter or NATO word, or up to three
    letters that make no common short word ("tvl", "kxj").

    >>> [spelled(t) for t in ("k", "kilo", "tvl", "the", "fourteen")]
    [True, True, True, False, False]
    """
    return token in LETTERS or (len(token) <= 3 and token.isalpha() and token.isascii()
                                and token not in SHORT_WORDS)


def fold(text: str) -> str:
    """Lower case without accents, so a names file's ``José`` meets the recogniser's ``jose``.

    >>> fold("Zoë Núñez-ÅSE")
    'zoe nunez-ase'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@cache
def shipped_first_names() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "first_names.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(n for n in (x.strip() for x in lines)
                     if n and not n.startswith("#")) - COMMON_WORDS


def load_names_file(path: Path | str) -> frozenset[str]:
    """A clerk's names, one per line (UTF-8; a line may hold first and last name): each word
    of each line, folded. A missing or undecodable file is one line naming it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"names file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"names file {path}: cannot read it as UTF-8 text ({exc})") from None
    out: set[str] = set()
    for line in text.splitlines():
        for token in fold(line).replace("-", " ").replace(",", " ").split():
            token = token.strip(".'\"")
            if token and not token.startswith("#"):
                out.add(token)
    return frozenset(out)
