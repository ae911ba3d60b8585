"""Before a stored plan is rendered: is its analysed part still what the tool sealed, and if a
person changed it anyway (with consent, ``--accept-plan-edits``), exactly what changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redact.errors import ConfigError
from redact.plan.model import EDITABLE, RedactionPlan
from redact.plan.seal import PARTS, analysed_part, canonical, find_sealed, seal_of_part

FIELD_NAMES = {"frames": "frames[]", "tracks": "tracks[] (other than exclude and style)",
               "warnings": "warnings[]", "models": "models[]",
               "suggested": "audio[] suggested by the speech finder (reject one, never delete)"}


@dataclass(frozen=True)
class PlanCheck:
    """``changed``: the sealed fields that differ (empty: intact). ``edits``: each change
    listed against the sealed copy (only when changes were accepted)."""

    seal: str
    changed: tuple[str, ...] = ()
    edits: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # The plan batch's journal entry for this seal, beside the plan: None when none was found,
    # else whether that entry is signed.
    journal_signed: bool | None = None

    @property
    def intact(self) -> bool:
        return not self.changed


def check_plan(plan: RedactionPlan, plan_path: Path, *, accept_edits: bool) -> PlanCheck:
    """Refuse (``ConfigError``) a plan whose analysed part changed, naming the fields, unless
    ``accept_edits``; then list every change, which needs the sealed copy beside the plans."""
    part = analysed_part(plan)
    now = seal_of_part(part)
    stated = plan.seal.sha256 if plan.seal is not None else ""
    original = find_sealed(plan_path, stated)
    if plan.seal is not None and now.sha256 == stated:
        if original is None:
            # A seal anyone could have recomputed after an edit: only the sealed copy that
            # `redact plan` kept (and its journal entry) says the tool made this analysis.
            raise ConfigError(
                f"plan {Path(plan_path).name}: its seal {stated[:12]}… is not among the sealed "
                "analyses beside it (.redact/sealed/); it was not made by `redact plan` in "
                "this folder, or it was re-sealed after an edit. Plan the file again, or keep "
                "the plan in the folder it was planned into")
        return PlanCheck(stated)
    changed = _changed_fields(part, original, plan)
    if not accept_edits:
        raise ConfigError(
            f"plan {Path(plan_path).name}: {', '.join(changed)} changed after analysis (the "
            f"seal no longer matches); only {', '.join(EDITABLE)} may be edited. Plan the file "
            "again, or render it anyway with --accept-plan-edits: every change is then listed "
            "in the audit record and the file is held for review (exit 4)")
    if original is None:
        raise ConfigError(
            f"plan {Path(plan_path).name}: {', '.join(changed)} changed after analysis and "
            "the sealed analysis it came from is not beside it (.redact/sealed/); the changes "
            "cannot be listed, so the plan is not rendered")
    return PlanCheck(stated, tuple(changed), tuple(list_edits(original, part)))


def verify_seal(plan: RedactionPlan) -> PlanCheck:
    """For a plan given in memory (no file, so no sealed copy to look up): its analysed part
    must still hash to its seal."""
    now = seal_of_part(analysed_part(plan))
    if plan.seal is None or now.sha256 != plan.seal.sha256:
        changed = _changed_fields(analysed_part(plan), None, plan)
        raise ConfigError(f"plan: {', '.join(changed)} changed after analysis (the seal no "
                          "longer matches); render it from its file with --accept-plan-edits "
                          "to have every change listed")
    return PlanCheck(plan.seal.sha256)


def _changed_fields(part: dict[str, Any], original: dict[str, Any] | None,
                    plan: RedactionPlan) -> list[str]:
    if plan.seal is None:
        return ["seal (the plan carries none)"]
    if original is None:  # name the parts whose hash differs from what the plan states
        now = seal_of_part(part).parts
        names = [k for k in PARTS if plan.seal.parts.get(k) != now[k]]
        return [FIELD_NAMES.get(k, k) for k in names] or ["seal"]
    out: list[str] = []
    for k in PARTS:
        if canonical(part[k]) == canonical(original[k]):
            continue
        if k == "settings":
            now, was = _leaves(part[k]), _leaves(original[k])
            out += [f"settings.{s}" for s in sorted(set(now) | set(was))
                    if now.get(s) != was.get(s)]
        else:
            out.append(FIELD_NAMES.get(k, k))
    return out or ["seal"]


def list_edits(original: dict[str, Any], part: dict[str, Any]) -> list[dict[str, Any]]:
    """Every sealed change: settings (from, to), and regions removed or added per category
    (count and frames)."""
    edits: list[dict[str, Any]] = []
    before, after = _leaves(original["settings"]), _leaves(part["settings"])
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            edits.append({"edit": "analysis_setting", "field": f"settings.{key}",
                          "from": before.get(key), "to": after.get(key)})
    old, new = _regions(original["frames"]), _regions(part["frames"])
    for change, diff in (("removed", old - new), ("added", new - old)):
        per_cat: dict[str, list[int]] = {}
        for (frame, cat, *_rest), n in diff.items():
            per_cat.setdefault(cat, []).extend([frame] * n)
        for cat, frames in sorted(per_cat.items()):
            edits.append({"edit": f"regions_{change}", "field": "frames[]", "category": cat,
                          "count": len(frames), "frames": sorted(set(frames))})
    for k in ("input", "models", "tracks", "warnings", "schema", "suggested"):
        if canonical(original[k]) != canonical(part[k]):
            edits.append({"edit": "analysis_changed", "field": FIELD_NAMES.get(k, k)})
    return edits


def _leaves(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A plan's settings by dotted name: a section's keys as ``face.threshold``.

    >>> _leaves({"margin": 0.2, "face": {"threshold": 0.1}})
    {'margin': 0.2, 'face.threshold': 0.1}
    """
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _regions(frames: list[dict[str, Any]]) -> Counter:
    return Counter((e["frame"], r["category"], tuple(r["box"]), r.get("track"), r.get("source"))
                   for e in frames for r in e.get("regions", []))
