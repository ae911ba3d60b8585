"""The seal of a plan's analysed part, and the sealed copy kept beside the plans.

The analysed part is everything the tool produced: schema, input, settings, models, tracks (less
their ``exclude`` and ``style``), warnings, frames, and the audio ranges the speech finder
suggested (less a reviewer's ``decision`` and ``mode``: a suggestion is rejected, never
deleted). Each part is hashed on its canonical JSON
(sorted keys, no spaces), and the seal is the hash of those part hashes, so a changed part can
be named without the original at hand. The seal alone proves nothing against someone who
recomputes it: its journal entry (signed when signing) is the anchor, and the sealed copy in
``.redact/sealed/<seal>.json`` is what edits are listed against.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from redact.io.atomic import write_bytes_atomic
from redact.io.hashing import sha256_bytes
from redact.plan.model import FrameEntry, RedactionPlan, Seal

PARTS = ("schema", "input", "settings", "models", "tracks", "warnings", "frames", "suggested")
TRACK_EDITABLE = ("exclude", "style")
SEALED_DIR = Path(".redact") / "sealed"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def analysed_part(plan: RedactionPlan) -> dict[str, Any]:
    data = plan.model_dump(mode="json", by_alias=True,
                           include=set(PARTS) - {"schema", "suggested"})
    data["schema"] = plan.schema_
    data["suggested"] = [{"start": a.start, "end": a.end, "reason": a.reason}
                         for a in plan.audio if a.source == "suggested"]
    data["tracks"] = [{k: v for k, v in t.items() if k not in TRACK_EDITABLE}
                      for t in data["tracks"]]
    return {k: data[k] for k in PARTS}


def seal_of_part(part: dict[str, Any], frames_sha256: str | None = None) -> Seal:
    """The seal of ``part``; ``frames_sha256``: the frames' hash, already taken (a
    ``FramesDigest``), for a part whose frames were not kept."""
    hashes = {k: frames_sha256 if k == "frames" and frames_sha256
              else sha256_bytes(canonical(part[k])) for k in PARTS}
    return Seal(sha256=sha256_bytes(canonical(hashes)), parts=hashes)


def compute_seal(plan: RedactionPlan, frames_sha256: str | None = None) -> Seal:
    return seal_of_part(analysed_part(plan), frames_sha256)


def sealed(plan: RedactionPlan, frames_sha256: str | None = None) -> RedactionPlan:
    """``plan`` with its seal set from its analysed part (its frames' hash given, when the
    frames were hashed as they were painted and not kept: ``redact run`` on a long video)."""
    return plan.model_copy(update={"seal": compute_seal(plan, frames_sha256)})


class FramesDigest:
    """The seal's hash of a plan's ``frames``, taken one frame at a time: the bytes hashed
    are those of the whole list's canonical JSON, which is its items' canonical JSON
    between brackets and commas, so nothing has to be held.

    >>> from redact.plan.model import FrameEntry
    >>> entries = [FrameEntry(frame=i, pts=i, time=i / 25) for i in range(3)]
    >>> digest = FramesDigest()
    >>> for entry in entries:
    ...     digest.add(entry)
    >>> digest.hexdigest() == sha256_bytes(canonical([e.model_dump(mode="json", by_alias=True)
    ...                                               for e in entries]))
    True
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._count = 0

    def add(self, entry: FrameEntry) -> None:
        data = canonical(entry.model_dump(mode="json", by_alias=True))
        self._hash.update(b"," + data if self._count else data)
        self._count += 1

    def hexdigest(self) -> str:
        done = self._hash.copy()
        done.update(b"]")
        return done.hexdigest()


def store_sealed(plan: RedactionPlan, folder: Path) -> Path:
    """Keep the analysed part under ``folder/.redact/sealed/<seal>.json`` (content-addressed:
    the name is the hash of what it holds, so a changed copy gives itself away)."""
    assert plan.seal is not None
    path = Path(folder) / SEALED_DIR / f"{plan.seal.sha256}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, canonical(analysed_part(plan)))
    return path


def find_sealed(plan_path: Path, seal: str) -> dict[str, Any] | None:
    """The sealed analysed part named ``seal``, from the nearest ``.redact/sealed`` at or above
    the plan's folder, or None when there is none or it no longer hashes to its name."""
    if not seal or not all(c in "0123456789abcdef" for c in seal):
        return None
    for folder in Path(plan_path).resolve().parents:
        path = folder / SEALED_DIR / f"{seal}.json"
        if path.is_file():
            try:
                part = json.loads(path.read_text(encoding="utf-8"))
                if set(part) == set(PARTS) and seal_of_part(part).sha256 == seal:
                    return part
            except (OSError, ValueError):
                return None
            return None
    return None
