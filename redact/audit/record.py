"""Build and write the audit record that sits beside each output (``<output>.audit.json``)."""

from __future__ import annotations

import getpass
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "redact.audit/1"
AUDIT_SUFFIX = ".audit.json"


def audit_path_for(output: Path) -> Path:
    return output.with_name(output.name + AUDIT_SUFFIX)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def file_entry(path: Path, sha256: str, **extra: Any) -> dict[str, Any]:
    return {"path": str(path), "size": path.stat().st_size, "sha256": sha256, **extra}


def build_record(*, settings, models, device: str, input_entry: dict, output_entry: dict,
                 started: str, frames: dict, log, tracks: list, warnings: list[str],
                 plan_edits: list | None = None,
                 second_look: dict | None = None) -> dict[str, Any]:
    from redact import __version__

    return {
        "schema": SCHEMA,
        "tool": {"name": "redact", "version": __version__, "python": platform.python_version()},
        "run": {"user": _user(), "host": platform.node(), "started": started,
                "finished": now_iso()},
        "status": "ok",
        "preset": settings.preset,
        "config": settings.describe(),
        "device": device,
        "models": [{"name": m.name, "kind": m.kind, "sha256": m.sha256, "license": m.license,
                    "source": m.source, "categories": {k: list(v) for k, v in
                                                       m.categories.items()}} for m in models],
        "input": input_entry,
        "output": output_entry,
        "frames": frames,
        "counts": dict(sorted(log.counts.items())),
        "regions_by_source": dict(sorted(log.by_source.items())),
        "frames_with_regions": log.frames_with_regions,
        "tracks": tracks,
        "plan_edits": plan_edits or [],
        # None when the output was not looked at again (verify_output), else its verdict
        "second_look": second_look,
        "warnings": warnings,
        "errors": [],
        "regions": log.frames,
    }


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write atomically; a ``Spool`` under "regions" is streamed from disk."""
    write_json_streaming(path, record)


def write_json_streaming(path: Path, doc: dict[str, Any]) -> None:
    """``json.dump`` for a dict whose values may be ``Spool``s (written as arrays)."""
    import os

    from redact.io.atomic import atomic_output
    from redact.io.spool import Spool

    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        fh.write(b"{")
        for i, (key, value) in enumerate(doc.items()):
            fh.write((",\n " if i else "\n ").encode() + json.dumps(key).encode() + b": ")
            if isinstance(value, Spool):
                value.write_json_array(fh)
            else:
                fh.write(json.dumps(value, indent=1).encode())
        fh.write(b"\n}\n")
        fh.flush()
        os.fsync(fh.fileno())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
