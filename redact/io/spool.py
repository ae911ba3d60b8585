"""An append-only list of JSON records kept on disk, so per-frame logs of a long video do not
grow memory."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any


class Spool:
    def __init__(self) -> None:
        self._fh: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (lives with the spool)
        self.count = 0

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for raw in self.raw_lines():
            yield json.loads(raw)

    def raw_lines(self) -> Iterator[bytes]:
        self._fh.flush()
        self._fh.seek(0)
        for line in self._fh:
            yield line.rstrip(b"\n")
        self._fh.seek(0, 2)

    def write_json_array(self, out: IO[bytes]) -> None:
        """Write the records as a JSON array without loading them all."""
        out.write(b"[")
        for i, raw in enumerate(self.raw_lines()):
            out.write(b"\n" + (b"," if i else b"") + raw)
        out.write(b"]")

    def close(self) -> None:
        self._fh.close()
