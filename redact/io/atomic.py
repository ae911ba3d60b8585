"""Outputs appear under their final name only when complete.

Writers get a temporary sibling path (same folder, so ``os.replace`` is an atomic rename on
one filesystem). A killed run leaves at most a ``.redact-tmp`` file, never a partial output
under the real name; ``sweep_temporaries`` removes such leftovers on the next run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redact.errors import disk_full

TMP_MARK = ".redact-tmp"


def temp_path_for(final: Path) -> Path:
    # Keep the real extension last: PyAV and OpenCV pick the format from it.
    return final.with_name(f".{final.stem}.{uuid.uuid4().hex[:8]}{TMP_MARK}{final.suffix}")


@contextmanager
def atomic_output(final: Path) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, else delete it.

    A full disk anywhere in the block (or in the rename) becomes a one-line ``DiskFullError``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final)
    try:
        try:
            yield tmp
            os.replace(tmp, final)
        except OSError as exc:
            full = disk_full(exc, final.parent)
            if full is None:
                raise
            raise full from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(final: Path, data: bytes) -> None:
    with atomic_output(final) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def copy_atomic(src: Path, final: Path) -> None:
    """Copy ``src`` to ``final`` so that ``final`` is either absent/old or the whole copy."""
    with atomic_output(final) as tmp:
        shutil.copyfile(src, tmp)


def sweep_temporaries(folder: Path) -> list[Path]:
    removed = []
    if folder.is_dir():
        for path in folder.rglob(f".*{TMP_MARK}*"):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed
