"""Append-only, hash-chained journal (JSON lines) with optional Ed25519 signatures.

Each entry carries ``prev`` (sha256 of the previous line's bytes) and ``hash`` (sha256 of its
own canonical JSON without ``hash`` and ``signature``), so deleting, reordering or editing any
entry breaks the chain. With a signing key, ``signature`` is the Ed25519 signature over that
same canonical JSON and ``key_id`` the sha256 of the raw public key.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redact.errors import ConfigError

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k not in ("hash", "signature")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def load_private_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"signing key {path}: cannot load it ({exc}); make one with "
                          "`redact keys generate DIR`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"public key {path}: cannot load it ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"public key {path} is not an Ed25519 key")
    return key


def raw_public(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key) -> str:
    return hashlib.sha256(raw_public(public_key)).hexdigest()


def generate_keys(folder: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / "redact-signing.key", folder / "redact-signing.pub"
    if private.exists():
        raise ConfigError(f"{private} already exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def who() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"user": user, "host": platform.node()}


class Journal:
    """Appends entries; the previous hash is re-read under a file lock on every append."""

    def __init__(self, path: Path, signing_key=None) -> None:
        self.path = Path(path)
        self.key = signing_key

    def _tail(self) -> tuple[str, int]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return GENESIS, 0
        with open(self.path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = min(size, 1 << 16)
            while True:
                fh.seek(size - block)
                chunk = fh.read(block)
                lines = chunk.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or block == size:
                    last = lines[-1]
                    break
                block = min(size, block * 4)
        entry = json.loads(last)
        return line_hash(last), int(entry.get("seq", 0))

    def sign(self, data: bytes) -> str | None:
        return self.key.sign(data).hex() if self.key is not None else None

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        from redact import __version__

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                prev, seq = self._tail()
                entry: dict[str, Any] = {
                    "seq": seq + 1, "prev": prev, "event": event,
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    **who(), "tool_version": __version__, **fields,
                }
                if self.key is not None:
                    entry["key_id"] = key_id(self.key.public_key())
                body = canonical(entry)
                entry["hash"] = hashlib.sha256(body).hexdigest()
                if self.key is not None:
                    entry["signature"] = self.sign(body)
                fh.write(json.dumps(entry, sort_keys=True).encode() + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry
