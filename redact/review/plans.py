"""The plans a review server works on: listing, status, and edits that always leave a valid
plan on disk (validated by ``parse_plan`` before an atomic write, with an undo stack)."""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from redact.audit.record import audit_path_for
from redact.errors import ConfigError
from redact.io import output_name
from redact.io.atomic import write_bytes_atomic
from redact.plan.model import parse_plan

PLAN_SUFFIX = ".plan.json"
UNDO_DEPTH = 50
KNOWN_EDITS = ("exclude, style, manual_add, manual_keyframe, manual_delete, manual_tracked, "
               "always_redact, audio_add, audio_delete, audio_decide, approve, undo")


class EditError(ValueError):
    """An edit the plan cannot take; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class PlanFolder:
    """Plans under ``root`` (never outside it); rendered outputs go to ``out_dir``."""

    def __init__(self, root: Path, out_dir: Path) -> None:
        self.root = Path(root).resolve()
        self.out_dir = Path(out_dir).resolve()
        self._undo: dict[Path, list[dict[str, Any]]] = {}
        self._summaries: dict[tuple, dict[str, Any]] = {}
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def resolve(self, rel: str) -> Path:
        """The plan file named ``rel`` (relative to the root). Anything that would leave the
        root (``..``, absolute paths, links pointing out) or is not a plan is not found."""
        if not rel or "\x00" in rel or Path(rel).is_absolute():
            raise EditError(f"no plan {rel!r} in the review folder", 404)
        path = (self.root / rel).resolve()
        if self.root not in path.parents or not path.name.endswith(PLAN_SUFFIX) \
                or not path.is_file():
            raise EditError(f"no plan {rel!r} in the review folder", 404)
        return path

    def plans(self) -> list[Path]:
        return sorted(p for p in self.root.rglob(f"*{PLAN_SUFFIX}")
                      if p.is_file() and ".redact" not in p.relative_to(self.root).parts
                      and self.root in p.resolve().parents)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def load(self, path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EditError(f"{path.name}: not a readable plan ({exc})", 422) from None

    def output_for(self, doc: dict[str, Any]) -> Path:
        return self.out_dir / output_name(Path(str(doc.get("input", {}).get("path", ""))).name)

    def audit_for(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        audit = audit_path_for(self.output_for(doc))
        try:
            return json.loads(audit.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def summary(self, path: Path) -> dict[str, Any]:
        # Parsing a long plan takes seconds (every frame's regions): once per file version.
        st = path.stat()
        key = (path, st.st_mtime_ns, st.st_size)
        if key not in self._summaries:
            self._summaries = {k: v for k, v in self._summaries.items() if k[0] != path}
            self._summaries[key] = self._summary(path)
        entry = dict(self._summaries[key])
        stub = entry.pop("_input", None)
        if stub is None:
            return entry
        audit, output = self.audit_for(stub), self.output_for(stub)
        if audit is not None and output.is_file() and output.stat().st_mtime >= st.st_mtime:
            entry["status"] = [*entry["status"], "rendered"]
            if (audit.get("second_look") or {}).get("verdict") == "review":
                entry["status"].append("flagged")
        return entry

    def _summary(self, path: Path) -> dict[str, Any]:
        entry: dict[str, Any] = {"plan": self.rel(path), "status": [], "error": None}
        try:
            doc = self.load(path)
            plan = parse_plan(doc)
        except (EditError, ConfigError) as exc:
            entry["error"] = str(exc)
            return entry
        tracks = doc.get("tracks", [])
        counts = Counter(str(t.get("category")) for t in tracks if not t.get("exclude"))
        for m in doc.get("manual", []):
            counts[str(m.get("category", "face"))] += 1
        entry.update(
            input=Path(str(doc["input"].get("path", ""))).name, frames=plan.frame_count,
            counts=dict(sorted(counts.items())), tracks=len(tracks),
            excluded=len(plan.excluded), manual=len(plan.manual), audio=len(plan.audio),
        )
        status = ["planned"]
        if doc.get("review", {}).get("approved"):
            status.append("approved")
        entry["status"] = status
        entry["_input"] = {"input": doc["input"]}  # where its output and audit would be
        return entry

    def lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def edit(self, path: Path, op: dict[str, Any]) -> dict[str, Any]:
        """Apply one edit; the plan on disk changes only if the result is a valid plan."""
        with self.lock(path):
            doc = self.load(path)
            stack = self._undo.setdefault(path, [])
            if isinstance(op, dict) and op.get("op") == "undo":
                if not stack:
                    raise EditError("nothing to undo", 409)
                new = stack[-1]
                self._write(path, new)
                stack.pop()
                return new
            new = apply_edit(doc, op)
            try:
                parse_plan(new)
            except ConfigError as exc:
                raise EditError(str(exc), 422) from None
            self._write(path, new)
            stack.append(doc)
            del stack[:-UNDO_DEPTH]
            return new

    def undo_depth(self, path: Path) -> int:
        return len(self._undo.get(path, []))

    @staticmethod
    def _write(path: Path, doc: dict[str, Any]) -> None:
        write_bytes_atomic(path, json.dumps(doc, indent=1).encode("utf-8"))


def _track(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    tid = op.get("track")
    for t in doc.get("tracks", []):
        if t.get("id") == tid and not isinstance(tid, bool):
            return t
    raise EditError(f"plan has no track {tid!r}", 422)


def _index(items: list, op: dict[str, Any], what: str) -> int:
    k = op.get("index")
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(items):
        raise EditError(f"plan has no {what} {k!r}", 422)
    return k


def apply_edit(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """A new plan document with ``op`` applied (``doc`` is left as it was). Any edit other than
    approving withdraws an earlier approval: what was approved is what gets rendered."""
    if not isinstance(op, dict) or not isinstance(op.get("op"), str):
        raise EditError('an edit is a JSON object with "op"', 400)
    new = copy.deepcopy(doc)
    kind = op["op"]
    if kind in ("manual_tracked", "always_redact"):
        _apply_more(new, op)
    elif kind == "exclude":
        _track(new, op)["exclude"] = op.get("value", True)
    elif kind == "style":
        _track(new, op)["style"] = op.get("style")
    elif kind == "manual_add":
        region = {"category": op.get("category", "face"), "keyframes": op.get("keyframes")}
        if op.get("style") is not None:
            region["style"] = op["style"]
        new.setdefault("manual", []).append(region)
    elif kind == "manual_keyframe":
        manual = new.setdefault("manual", [])
        m = manual[_index(manual, op, "manual box")]
        if "keyframes" not in m:  # a static box becomes its two keyframes
            m["keyframes"] = [{"frame": m.pop("start_frame", 0), "box": m.get("box")},
                              {"frame": m.pop("end_frame", 0), "box": m.pop("box", None)}]
        m["keyframes"] = [k for k in m["keyframes"]
                          if not (isinstance(k, dict) and k.get("frame") == op.get("frame"))]
        m["keyframes"].append({"frame": op.get("frame"), "box": op.get("box")})
        m["keyframes"].sort(key=lambda k: k["frame"] if isinstance(k.get("frame"), int) else -1)
    elif kind == "manual_delete":
        manual = new.setdefault("manual", [])
        del manual[_index(manual, op, "manual box")]
    elif kind == "audio_add":
        new.setdefault("audio", []).append(
            {"start": op.get("start"), "end": op.get("end"), "mode": op.get("mode", "mute")})
    elif kind == "audio_delete":
        audio = new.setdefault("audio", [])
        k = _index(audio, op, "audio range")
        if isinstance(audio[k], dict) and audio[k].get("source") == "suggested":
            raise EditError("audio_delete: a suggested range is not deleted but rejected "
                            "(audio_decide), so the audit keeps it", 422)
        del audio[k]
    elif kind == "audio_decide":
        audio = new.setdefault("audio", [])
        item = audio[_index(audio, op, "audio range")]
        if op.get("decision") is None:
            item.pop("decision", None)
        else:
            item["decision"] = op.get("decision")
    elif kind == "approve":
        value = op.get("value", True)
        if not isinstance(value, bool):
            raise EditError("approve: value must be true or false", 422)
        new["review"] = {**new.get("review", {}), "approved": value}
        return new
    else:
        raise EditError(f"unknown edit {kind!r}; known: {KNOWN_EDITS}", 400)
    if new.get("review", {}).get("approved"):
        new["review"] = {**new["review"], "approved": False}
    return new


def _apply_more(new: dict[str, Any], op: dict[str, Any]) -> None:
    """Edits that live beside this module: a tracking run's result, and "always redact"
    (their ``ValueError`` is the edit's message)."""
    from redact.review.always import apply_always
    from redact.review.assist import apply_tracked

    try:
        if op["op"] == "manual_tracked":
            apply_tracked(new, op)
        else:
            apply_always(new, op.get("track"))
    except ValueError as exc:
        raise EditError(str(exc), 422) from None
