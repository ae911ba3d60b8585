"""``redact audit verify``: check a journal's chain, its signatures, and the release folder it
vouches for, wherever that folder now is.

The journal names outputs and audit records relative to the release folder, so a copy of the
folder (on a records portal, on a disk handed to a court) is checked against its own files,
not against the machine it was made on. Every file in the folder must be covered by an entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from redact.audit.journal import GENESIS, canonical, key_id, line_hash
from redact.io.atomic import TMP_MARK
from redact.io.hashing import sha256_file

# Files a release folder may hold that no journal entry vouches for: our own state and the
# report, which `redact report` rebuilds from the records at any time.
META_DIR = ".redact"
UNCOVERED_OK = {"report.html", "report.csv"}


@dataclass
class Verification:
    journal: Path
    entries: int = 0
    files_checked: int = 0
    signed: int = 0
    signatures_checked: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def find_journal(path: Path) -> Path:
    path = Path(path)
    if path.is_dir():
        return path / META_DIR / "journal.jsonl"
    return path


def verify(path: Path, public_key=None) -> Verification:
    journal = find_journal(path)
    root = journal.parent.parent
    result = Verification(journal, signatures_checked=public_key is not None)
    if not journal.is_file():
        result.problems.append(f"{journal}: journal not found")
        return result
    lines = journal.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    prev, expected_seq, first_key, first_signed = GENESIS, 1, None, None
    unsigned_before_signed = 0
    latest: dict[str, dict] = {}
    out_dirs: list[str] = []
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
            first_signed = first_signed or n
            problem = _check_signature(entry, body, public_key, first_key)
            first_key = first_key or entry.get("key_id")
            if problem:
                result.problems.append(f"{where}: {problem}")
        elif public_key is not None:
            result.problems.append(f"{where}: not signed, but a public key was given")
        elif first_signed is not None:
            result.problems.append(f"{where}: not signed, but the journal was signed from line "
                                   f"{first_signed} (signatures stripped, or an unsigned run "
                                   "appended to a signed release)")
        else:
            unsigned_before_signed += 1
        prev = line_hash(line)
        expected_seq = (entry.get("seq") or expected_seq) + 1
        if entry.get("event") == "run_start" and entry.get("out_dir"):
            out_dirs.append(entry["out_dir"])
        if entry.get("event") == "file" and entry.get("status") == "ok" and entry.get("output"):
            latest[entry["output"]["path"]] = entry
    _signature_notes(result, public_key, unsigned_before_signed)
    covered: set[Path] = set()
    for entry in latest.values():
        result.files_checked += 1
        _check_files(entry, root, out_dirs, result, covered)
    _check_uncovered(root, covered, result)
    return result


def _signature_notes(result: Verification, public_key, unsigned_before: int) -> None:
    if result.signed == 0:
        result.notes.append("the journal is not signed: its chain shows edits, but anyone able "
                            "to rewrite the whole file could have; sign runs with --sign-key")
    elif public_key is None:
        result.notes.append(f"signatures NOT checked: {result.signed} signed entries, but no "
                            "--public-key was given (only that they share one key was checked)")
    if result.signed and unsigned_before:
        result.notes.append(f"{unsigned_before} entries before the first signed one are not "
                            "signed")


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


def resolve(recorded: str, root: Path, out_dirs: list[str]) -> Path | None:
    """A journal path inside the release folder ``root`` (as given now, wherever it is).
    Journals written before paths became relative hold absolute paths: those are taken
    relative to the output folder their run recorded."""
    path = Path(recorded)
    if not path.is_absolute():
        return None if ".." in path.parts else root / path
    for out_dir in reversed(out_dirs):
        try:
            return root / path.relative_to(out_dir)
        except ValueError:
            continue
    return None


def _check_files(entry: dict, root: Path, out_dirs: list[str], result: Verification,
                 covered: set[Path]) -> None:
    paths: dict[str, Path] = {}
    for role in ("output", "audit"):
        info = entry.get(role)
        if not info:
            continue
        path = resolve(str(info.get("path", "")), root, out_dirs)
        if path is None:
            result.problems.append(f"{role} {info.get('path')}: outside the release folder")
            continue
        paths[role] = path
        covered.add(path.resolve())
        shown = path.relative_to(root).as_posix()
        if not path.is_file():
            result.problems.append(f"{role} {shown}: missing")
        elif sha256_file(path) != info.get("sha256"):
            result.problems.append(f"{role} {shown}: sha256 differs from the journal "
                                   "(modified after the run)")
    audit_path = paths.get("audit")
    if audit_path is not None and audit_path.is_file():
        try:
            record = json.loads(audit_path.read_text(encoding="utf-8"))
            if record["output"]["sha256"] != entry["output"]["sha256"]:
                result.problems.append(f"audit {audit_path.relative_to(root).as_posix()}: "
                                       "output sha256 does not match the journal")
        except (ValueError, KeyError, TypeError):
            result.problems.append(f"audit {audit_path.relative_to(root).as_posix()}: "
                                   "unreadable or missing output.sha256")


def _check_uncovered(root: Path, covered: set[Path], result: Verification) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel.parts[0] == META_DIR or TMP_MARK in path.name or rel.as_posix() in UNCOVERED_OK:
            continue
        if path.resolve() not in covered:
            result.problems.append(f"{rel.as_posix()}: not covered by any journal entry "
                                   "(added after the run, or not made by redact)")
