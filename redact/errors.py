"""The small error hierarchy every stage raises.

Each message says what went wrong *and* what to do next; the CLI prints ``str(err)`` as one
line. Errors also inherit the builtin a Python caller would expect (``InputError`` is a
``ValueError``), so library users can catch either.
"""

from __future__ import annotations

import errno
from pathlib import Path


class RedactError(Exception):
    """Base class: a problem the tool understands and can explain in one line."""

    #: Exit code the CLI uses when this error ends a whole command (not a single file).
    exit_code = 1

    def __str__(self) -> str:
        # One line, always: multi-line messages from FFmpeg or ONNX Runtime would break the
        # summary table and the ``--json`` "error" field.
        return " ".join(super().__str__().split())


class InputError(RedactError, ValueError):
    """An input file cannot be redacted as it is (not media, empty, corrupt, truncated)."""


class ConfigError(RedactError, ValueError):
    """Settings, a preset or a plan are invalid. Raised before any file is touched."""

    exit_code = 2


class ModelError(RedactError, RuntimeError):
    """A model is missing, fails its sha256 check, or cannot be fetched."""


class StageError(RedactError, RuntimeError):
    """A pipeline stage (decode, detect, render, encode) failed part-way through a file."""


class DiskFullError(RedactError, OSError):
    """The output device ran out of space (or quota) while an output was written."""

    @classmethod
    def writing(cls, folder: Path, code: int = errno.ENOSPC) -> DiskFullError:
        what = "disk quota exceeded" if code == errno.EDQUOT else "no space left on device"
        err = cls(f"{what} while writing to {folder}; free space or choose another output "
                  "folder")
        err.errno = code
        return err


def disk_full(exc: BaseException, folder: Path) -> DiskFullError | None:
    """``exc`` as a one-line ``DiskFullError`` when it is ENOSPC/EDQUOT, else None."""
    if isinstance(exc, DiskFullError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError.writing(folder, exc.errno)
    return None


class SetupError(RedactError, RuntimeError):
    """Models or the device cannot be loaded. Raised once, before any file is touched."""

    exit_code = 2


class LockError(RedactError, RuntimeError):
    """Another run holds the output folder."""

    exit_code = 3
