"""From analysis to a sealed ``RedactionPlan`` (a video's frames, or a still as one frame)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redact.plan.model import SCHEMA, FrameEntry, RedactionPlan
from redact.plan.seal import sealed


def build_plan(*, input_path: Path, input_sha: str, settings: dict[str, Any], models: list,
               frames: Iterable[dict[str, Any] | FrameEntry], frame_count: int,
               tracks: list[dict],
               warnings: list[str] | None = None,
               audio: Iterable[dict[str, Any]] = (),
               frames_sha256: str | None = None) -> RedactionPlan:
    """``frames``: each frame with regions, in order, as ``FramePlan.to_record()`` or already
    a ``FrameEntry`` (kept as it is, not copied);
    ``audio``: suggested ranges (editable, so outside the seal); ``frames_sha256``: the
    frames' hash, taken as they were painted, when ``frames`` was not kept (the plan then
    holds none: ``redact run`` writes no plan file, only its seal)."""
    plan = RedactionPlan.model_validate({
        "schema": SCHEMA,
        "input": {"path": str(input_path), "sha256": input_sha, "frames": frame_count},
        "settings": settings,
        "models": [m.to_dict() for m in models],
        "tracks": tracks,
        "warnings": list(warnings or []),
        "frames": list(frames),
        "audio": list(audio),
    }, strict=False)  # our own values: lists for tuples are fine here
    return sealed(plan, frames_sha256)
