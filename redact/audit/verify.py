"""``redact audit verify``: check a journal's chain, signatures, and the files it vouches for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from redact.audit.journal import GENESIS, canonical, key_id, line_hash
from redact.models.store import sha256_file


@dataclass
class Verification:
    journal: Path
    entries: int = 0
    files_checked: int = 0
    signed: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_journal(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        return path / ".redact" / "journal.jsonl"
    return path


def verify(path: Path, public_key=None) -> Verification:
    journal = find_journal(path)
    result = Verification(journal)
    if not journal.is_file():
        result.problems.append(f"{journal}: journal not found")
        return result
    lines = journal.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    prev, expected_seq, first_key = GENESIS, 1, None
    latest: dict[str, dict] = {}
    for n, line in enumerate(lines, start=1):
        where = f"journal line {n}"
        try:
            entry = json.loads(line)
        except ValueError:
            result.problems.append(f"{where}: not valid JSON (edited or damaged)")
            prev = line_hash(line)
            continue
        result.entries += 1
        if entry.get("prev") != prev:
            result.problems.append(f"{where}: chain broken (prev hash does not match line "
                                   f"{n - 1}); a line was deleted, reordered or edited")
        if entry.get("seq") != expected_seq:
            result.problems.append(f"{where}: sequence {entry.get('seq')} where {expected_seq} "
                                   "was expected (a line was deleted or reordered)")
        body = canonical(entry)
        if entry.get("hash") != hashlib.sha256(body).hexdigest():
            result.problems.append(f"{where}: content does not match its hash (edited)")
        if "signature" in entry:
            result.signed += 1
            problem = _check_signature(entry, body, public_key, first_key)
            first_key = first_key or entry.get("key_id")
            if problem:
                result.problems.append(f"{where}: {problem}")
        elif public_key is not None:
            result.problems.append(f"{where}: not signed, but a public key was given")
        prev = line_hash(line)
        expected_seq = (entry.get("seq") or expected_seq) + 1
        if entry.get("event") == "file" and entry.get("status") == "ok":
            latest[entry["output"]["path"]] = entry
    for entry in latest.values():
        result.files_checked += 1
        _check_files(entry, result)
    return result


def _check_signature(entry: dict, body: bytes, public_key, first_key: str | None) -> str | None:
    from cryptography.exceptions import InvalidSignature

    if public_key is None:
        if first_key and entry.get("key_id") != first_key:
            return "signed with a different key than earlier entries"
        return None  # nothing trusted to check against; key consistency only
    if entry.get("key_id") != key_id(public_key):
        return "signed with another key than the trusted public key"
    try:
        public_key.verify(bytes.fromhex(entry["signature"]), body)
    except (InvalidSignature, ValueError):
        return "signature does not verify"
    return None


def _check_files(entry: dict, result: Verification) -> None:
    for role in ("output", "audit"):
        info = entry.get(role) or {}
        path = Path(info.get("path", ""))
        if not path.is_file():
            result.problems.append(f"{role} {path}: missing")
            continue
        if sha256_file(path) != info.get("sha256"):
            result.problems.append(f"{role} {path}: sha256 differs from the journal "
                                   "(modified after the run)")
    audit_path = Path(entry.get("audit", {}).get("path", ""))
    if audit_path.is_file():
        try:
            record = json.loads(audit_path.read_text(encoding="utf-8"))
            if record["output"]["sha256"] != entry["output"]["sha256"]:
                result.problems.append(f"audit {audit_path}: output sha256 does not match the "
                                       "journal")
        except (ValueError, KeyError, TypeError):
            result.problems.append(f"audit {audit_path}: unreadable or missing output.sha256")
