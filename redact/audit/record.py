"""Build and write the audit record that sits beside each output (``<output>.audit.json``)."""

from __future__ import annotations

import getpass
import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "redact.audit/2"
AUDIT_SUFFIX = ".audit.json"


def audit_path_for(output: Path) -> Path:
    return output.with_name(output.name + AUDIT_SUFFIX)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def file_entry(path: Path, sha256: str, **extra: Any) -> dict[str, Any]:
    return {"path": str(path), "size": path.stat().st_size, "sha256": sha256, **extra}


def build_record(*, settings, plan, painted, device: str, input_entry: dict,
                 output_entry: dict, started: str, frames: dict, warnings: list[str],
                 plan_check=None, second_look: dict | None = None,
                 recall_reductions: list[str] | None = None) -> dict[str, Any]:
    """The record of one output, made from the plan it was rendered from (``plan``), what was
    actually painted (``painted``) and the hashes of input and output."""
    from redact import __version__

    edited = plan_check is not None and not plan_check.intact
    return {
        "schema": SCHEMA,
        "tool": {"name": "redact", "version": __version__, "python": platform.python_version()},
        "run": {"user": _user(), "host": platform.node(), "started": started,
                "finished": now_iso()},
        "status": "ok",
        "verdict": _verdict(edited, second_look),
        "preset": settings.preset,
        "config": settings.describe(),
        # Settings that looked less than the defaults do, accepted by name; the second look
        # then covered every frame.
        "recall_reductions": list(recall_reductions or []),
        "device": device,
        "models": [_model(m) for m in plan.models],
        "input": input_entry,
        "output": output_entry,
        "plan": {"seal": plan.seal.sha256 if plan.seal else None, "approved": plan.approved,
                 "from_file": plan_check is not None, "sealed_intact": not edited,
                 "changed": list(plan_check.changed) if plan_check is not None else [],
                 "journaled": plan_check is not None and plan_check.journal_signed is not None,
                 "journal_signed": bool(plan_check and plan_check.journal_signed)},
        "frames": frames,
        "counts": dict(sorted(painted.counts.items())),
        "regions_by_source": dict(sorted(painted.by_source.items())),
        "frames_with_regions": painted.frames_with_regions,
        "tracks": [t.model_dump(mode="json") for t in plan.tracks],
        "plan_edits": plan.edits + (list(plan_check.edits) if plan_check is not None else []),
        # Every audio range with its reason and status (never the words): suggested by the
        # speech finder, added, accepted or rejected; rejected ones were not muted.
        "audio_ranges": [{"start": a.start, "end": a.end, "mode": a.mode, "source": a.source,
                          "reason": a.reason, "status": a.status,
                          "muted": a.decision != "rejected"} for a in plan.audio],
        # None when the output was not looked at again (verify_output), else its verdict
        "second_look": second_look,
        "warnings": warnings,
        "errors": [],
        "regions": painted.records,
    }


def _verdict(edited: bool, second_look: dict | None) -> str | None:
    """"review" holds the release back (exit 4): the sealed analysis was edited, or the second
    look found something outside the paint."""
    if edited or (second_look or {}).get("verdict") == "review":
        return "review"
    return None if second_look is None else "clean"


def _model(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("name", "kind", "sha256", "license", "source", "categories")}


def write_record(path: Path, record: dict[str, Any]) -> str:
    """Write atomically (a ``Spool`` under "regions" is streamed from disk); returns the
    sha256 of what was written."""
    return write_json_streaming(path, record)


def write_json_streaming(path: Path, doc: dict[str, Any]) -> str:
    """``json.dump`` for a dict whose values may be ``Spool``s (written as arrays); returns
    the sha256 of the bytes written."""
    import hashlib
    import os

    from redact.io.atomic import atomic_output
    from redact.io.spool import Spool

    digest = hashlib.sha256()
    with atomic_output(path) as tmp, open(tmp, "wb") as raw:
        fh = _Hashing(raw, digest)
        fh.write(b"{")
        for i, (key, value) in enumerate(doc.items()):
            fh.write((",\n " if i else "\n ").encode() + json.dumps(key).encode() + b": ")
            if isinstance(value, Spool):
                value.write_json_array(fh)
            else:
                fh.write(json.dumps(value, indent=1).encode())
        fh.write(b"\n}\n")
        raw.flush()
        os.fsync(raw.fileno())
    return digest.hexdigest()


class _Hashing:
    """A write-only file that hashes what passes through it."""

    def __init__(self, fh, digest) -> None:
        self.fh, self.digest = fh, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
