"""Job state for resumable, idempotent batches: SQLite in ``OUT/.redact/state.sqlite``, plus
an exclusive lock so two runs never work on one output folder at once."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from redact.errors import LockError

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    input TEXT PRIMARY KEY,
    input_size INTEGER, input_mtime_ns INTEGER, input_sha256 TEXT,
    config_hash TEXT, model_hashes TEXT,
    status TEXT, output TEXT, output_sha256 TEXT, audit TEXT, audit_sha256 TEXT,
    error TEXT, started REAL, finished REAL, seconds REAL
);
"""


@dataclass(frozen=True)
class Row:
    input: str
    input_size: int
    input_mtime_ns: int
    input_sha256: str
    config_hash: str
    model_hashes: str
    status: str
    output: str | None
    output_sha256: str | None
    audit: str | None
    audit_sha256: str | None
    error: str | None
    started: float | None
    finished: float | None
    seconds: float | None


class OutputLock:
    """``flock`` on ``OUT/.redact/lock``; the kernel drops it if the process dies (SIGKILL)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "lock"
        self.fh = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115  (held open for the run: it is the lock)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise LockError(f"another redact run holds {self.path.parent.parent} ({holder}); "
                            "wait for it to finish or use another output folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        self.fh = fh

    def release(self) -> None:
        if self.fh is not None:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()
            self.fh = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class StateDB:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path))
        self.conn.executescript(SCHEMA)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.commit()

    def get(self, input_path: str) -> Row | None:
        cur = self.conn.execute("SELECT * FROM files WHERE input = ?", (input_path,))
        values = cur.fetchone()
        return Row(*values) if values else None

    def rows(self) -> list[Row]:
        return [Row(*v) for v in self.conn.execute("SELECT * FROM files ORDER BY input")]

    def put(self, row: Row) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            tuple(row.__dict__.values()))
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()
