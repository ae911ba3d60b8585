"""Word lists of the personal-data finder: spoken numbers, months, street words, cues, and
the first names (the shipped 1990 US Census list and a clerk's ``--names`` file)."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from redact.errors import ConfigError


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


DIGITS = _set(
    "zero oh o one two three four five six seven eight nine")
NUMBERS = DIGITS | _set(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
    "thirty forty fifty sixty seventy eighty ninety hundred thousand double triple")
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
    "gmail yahoo hotmail outlook aol icloud")
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
    "page day lane see sea al ave christian noble else")


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
