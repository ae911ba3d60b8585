"""``RedactionPlan``: every region of every frame, with why it exists, and what a person changed.

Format ``redact.plan/2`` (JSON; schema in ``redact/plan/plan.schema.json``, generated from this
module by ``python -m redact.plan.schema``). The analysed part (schema, input, settings, models,
tracks as produced, warnings, frames) is sealed by ``seal.sha256`` (plan/seal.py). A person may
edit only:

* ``tracks[i].exclude = true``: do not redact that track (an officer whose face may be
  released). All of its regions (detected, tracked, interpolated, padded) are dropped.
* ``tracks[i].style``: render that track in another style.
* ``manual``: add regions, each either a static ``box`` over ``start_frame``..``end_frame`` or
  ``keyframes`` (``[{"frame", "box"}]``) between which the box moves linearly.
* ``audio``: ranges ``{"start": s, "end": s, "mode": "mute" | "bleep"}`` in seconds on the
  frames' clock (``frames[].time``); rendering re-encodes the audio of that file only.
* ``review``: ``{"approved": true}`` once a reviewer has approved the plan (``redact review``).

Boxes are stored exactly as the tracker produced them (before the margin), so rendering an
unedited plan paints the very same pixels as ``redact run``. A still is a one-frame plan.
"""

from __future__ import annotations

import itertools
import json
import math
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from redact.detect.detections import Detections
from redact.errors import ConfigError

SCHEMA = "redact.plan/2"
MANUAL_TRACK_BASE = -1000  # manual region k gets track id MANUAL_TRACK_BASE - k
AUDIO_MODES = ("mute", "bleep")
# Kept literal (not imported from config) so the generated JSON Schema lists the values.
Category = Literal["face", "plate", "screen", "text", "head", "person"]
StyleName = Literal["blur", "pixelate", "solid"]


def _box_ok(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    if not all(math.isfinite(v) for v in box):
        raise ValueError("box values must be finite numbers")
    if box[2] < box[0] or box[3] < box[1]:
        raise ValueError("needs x2 >= x1 and y2 >= y1")
    return box


Box = Annotated[tuple[float, float, float, float], AfterValidator(_box_ok)]


class _Part(BaseModel):
    # strict: "yes" is not true and "2" is not a number (plans are validated as JSON text,
    # where arrays are still fine for tuples).
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Region(_Part):
    category: Category
    box: Box = Field(description="[x1, y1, x2, y2] in stored pixels, before the margin")
    score: float = 1.0
    source: str = "detected"
    track: int = -1


class FrameEntry(_Part):
    frame: NonNegativeInt
    pts: int | None = None
    time: float | None = None
    regions: tuple[Region, ...] = ()


class Track(_Part):
    """A track as the tracker produced it, plus the two editable fields."""

    id: NonNegativeInt
    category: Category | None = None
    first_time: float | None = None
    last_time: float | None = None
    first_frame: int | None = None
    last_frame: int | None = None
    frames_detected: int | None = None
    frames_filled: dict[str, int] = Field(default_factory=dict)
    exclude: bool = False
    style: StyleName | None = None


class Keyframe(_Part):
    frame: NonNegativeInt
    box: Box


class ManualItem(_Part):
    """A region a person added: keyframes, or a static box over start_frame..end_frame."""

    category: Category = "face"
    style: StyleName | None = None
    keyframes: tuple[Keyframe, ...] | None = None
    box: Box | None = None
    start_frame: NonNegativeInt | None = None
    end_frame: NonNegativeInt | None = None
    note: str | None = None
    source: Literal["tracked", "always_redact"] | None = Field(
        None, description="how it was made: drawn (absent), tracked (assisted tracking in "
        "redact review, its note says where tracking stopped) or always_redact (a person's "
        "tracks grouped by a reviewer)")

    @model_validator(mode="after")
    def _one_shape(self) -> ManualItem:
        if self.keyframes is not None:
            if not self.keyframes:
                raise ValueError("keyframes must be a non-empty list of {frame, box}")
        elif self.box is None or self.start_frame is None or self.end_frame is None:
            raise ValueError("needs keyframes, or box with start_frame and end_frame")
        return self

    @field_validator("end_frame")
    @classmethod
    def _not_before_start(cls, end: int | None, info: ValidationInfo) -> int | None:
        start = info.data.get("start_frame")
        if end is not None and start is not None and end < start:
            raise ValueError("must be >= start_frame")
        return end

    def key_boxes(self) -> list[tuple[int, tuple[float, ...]]]:
        if self.keyframes is not None:
            return sorted((k.frame, k.box) for k in self.keyframes)
        assert self.box is not None and self.start_frame is not None  # _one_shape
        return [(self.start_frame, self.box), (int(self.end_frame or 0), self.box)]

    def box_at(self, frame: int) -> np.ndarray | None:
        keys = self.key_boxes()
        if frame < keys[0][0] or frame > keys[-1][0]:
            return None
        for (f0, b0), (f1, b1) in itertools.pairwise(keys):
            if f0 <= frame <= f1:
                a = 0.0 if f1 == f0 else (frame - f0) / (f1 - f0)
                return (1 - a) * np.array(b0, np.float32) + a * np.array(b1, np.float32)
        return np.array(keys[0][1], np.float32)


class AudioItem(_Part):
    """Seconds on the frames' clock; ``mode`` "mute" (silence) or "bleep" (1 kHz tone).

    ``source`` "suggested" (the speech finder, with its ``reason``) or "added" (a person);
    ``decision`` a reviewer's "accepted" or "rejected". Every item but a rejected one is
    rendered: recall first."""

    start: float = Field(ge=0, allow_inf_nan=False)
    end: float = Field(ge=0, allow_inf_nan=False)
    mode: Literal["mute", "bleep"] = "mute"
    source: Literal["added", "suggested"] = "added"
    reason: str | None = None
    decision: Literal["accepted", "rejected"] | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: float, info: ValidationInfo) -> float:
        if "start" in info.data and end <= info.data["start"]:
            raise ValueError("must be after start")
        return end

    @property
    def status(self) -> str:
        """What the audit says of it: suggested, added, accepted or rejected."""
        return self.decision or self.source

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "mode": self.mode}
        if self.source != "added" or self.reason or self.decision:
            out.update(source=self.source, reason=self.reason, status=self.status)
        return out


class Review(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow", strict=True)
    approved: bool = False


class InputInfo(_Part):
    path: str
    sha256: str
    frames: NonNegativeInt


class Seal(_Part):
    sha256: str = Field(description="sha256 of the part hashes (plan/seal.py)")
    parts: dict[str, str] = Field(description="sha256 of each analysed part")


EDITABLE = ("tracks[].exclude", "tracks[].style", "manual[]", "audio[]", "review")


class RedactionPlan(_Part):
    """The one object between analysis and rendering (and the audit, review and report)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    schema_: Literal["redact.plan/2"] = Field(SCHEMA, alias="schema")
    input: InputInfo
    settings: dict[str, Any]
    models: tuple[dict[str, Any], ...] = ()
    tracks: tuple[Track, ...] = ()
    manual: tuple[ManualItem, ...] = ()
    audio: tuple[AudioItem, ...] = ()
    review: Review | None = None
    warnings: tuple[str, ...] = Field((), description="what the reader noticed; not read back")
    frames: tuple[FrameEntry, ...] = ()
    seal: Seal | None = None

    # --- what the renderer and the audit read -------------------------------------------
    @property
    def input_sha256(self) -> str:
        return self.input.sha256

    @property
    def frame_count(self) -> int:
        return self.input.frames

    @property
    def audio_ranges(self) -> tuple[AudioItem, ...]:
        """The audio ranges to render: all but those a reviewer rejected."""
        return tuple(a for a in self.audio if a.decision != "rejected")

    @property
    def approved(self) -> bool:
        return self.review is not None and self.review.approved

    @cached_property
    def excluded(self) -> frozenset[int]:
        return frozenset(t.id for t in self.tracks if t.exclude)

    @cached_property
    def track_styles(self) -> dict[int, str]:
        return {t.id: t.style for t in self.tracks if t.style is not None}

    @cached_property
    def model_specs(self) -> list:
        from redact.models.registry import _spec

        return [_spec(m["name"], m) for m in self.models if "name" in m]

    @cached_property
    def _by_frame(self) -> dict[int, Detections]:
        out: dict[int, Detections] = {}
        for entry in self.frames:
            rs = entry.regions
            out[entry.frame] = Detections(
                np.array([r.box for r in rs], np.float32).reshape(-1, 4),
                np.array([r.score for r in rs]), np.array([r.category for r in rs], dtype=object),
                np.array([r.source for r in rs], dtype=object),
                np.array([r.track for r in rs], dtype=np.int64))
        return out

    @property
    def edits(self) -> list[dict[str, Any]]:
        """What a person changed in the editable fields, for the audit record."""
        out: list[dict[str, Any]] = [{"edit": "exclude_track", "track": t}
                                     for t in sorted(self.excluded)]
        out += [{"edit": "track_style", "track": t, "style": s}
                for t, s in sorted(self.track_styles.items())]
        for k, m in enumerate(self.manual):
            keys = m.key_boxes()
            out.append({"edit": "manual_region", "id": k, "category": m.category,
                        "style": m.style, "source": m.source or "drawn", "note": m.note,
                        "first_frame": keys[0][0], "last_frame": keys[-1][0],
                        "keyframes": [{"frame": f, "box": list(b)} for f, b in keys]})
        out += [{"edit": "audio_range", **a.to_dict()} for a in self.audio]
        return out

    def styles(self) -> dict[int, str]:
        styles = dict(self.track_styles)
        for k, m in enumerate(self.manual):
            if m.style:
                styles[MANUAL_TRACK_BASE - k] = m.style
        return styles

    def regions_for(self, index: int) -> Detections:
        base = self._by_frame.get(index, Detections.empty())
        if self.excluded and len(base):
            base = base[~np.isin(base.track_id, list(self.excluded))]
        manual = []
        for k, m in enumerate(self.manual):
            box = m.box_at(index)
            if box is not None:
                manual.append(Detections(box[None], np.array([1.0]), np.array([m.category],
                              dtype=object), np.array(["manual"], dtype=object),
                              np.array([MANUAL_TRACK_BASE - k])))
        return Detections.concat([base, *manual])

    def to_json(self) -> dict[str, Any]:
        # No review yet: no "review" key (review/plans.py adds it on approval).
        return self.model_dump(mode="json", by_alias=True,
                               exclude={"review"} if self.review is None else None)


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


_MESSAGES = {
    "list_type": "must be a list", "tuple_type": "must be a list",
    "model_type": "must be an object", "dict_type": "must be an object",
    "model_attributes_type": "must be an object", "bool_type": "must be true or false",
    "int_type": "must be a whole number", "float_type": "must be a number",
    "string_type": "must be text", "missing": "missing",
    "extra_forbidden": "is not a plan field (editable: " + ", ".join(EDITABLE) + ")",
    "too_short": "must be [x1, y1, x2, y2] numbers", "too_long": "must be [x1, y1, x2, y2] numbers",
}


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return "must be one of " + ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be a number >= {ctx.get('ge', ctx.get('gt'))}"
    if kind == "finite_number":
        return "must be a finite number"
    return str(error["msg"]).removeprefix("Value error, ")


def parse_plan(data: Any) -> RedactionPlan:
    """Validate a plan document; the first problem becomes a ``ConfigError`` naming its field."""
    if isinstance(data, dict) and data.get("schema") != SCHEMA:
        old = data.get("schema")
        hint = "; plans of redact.plan/1 carry no seal: plan the file again" \
            if old == "redact.plan/1" else ""
        raise ConfigError(f"plan field schema: must be {SCHEMA!r}, got {old!r}{hint}")
    try:
        return RedactionPlan.model_validate_json(json.dumps(data, allow_nan=False))
    except ValueError as exc:
        if not isinstance(exc, ValidationError):  # NaN or infinity: JSON has neither
            raise ConfigError("plan: every number must be finite (NaN or infinity found)") from None
        first = exc.errors()[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and (
            p.startswith(("function-", "tuple[", "Annotated", "json-or-python")) or p in (
                "str", "int", "float"))))
        raise ConfigError(f"plan field {_where(loc)}: {_message(first)}") from None


def load_plan(path: Path) -> RedactionPlan:
    return read_plan(path)[0]


def read_plan(path: Path) -> tuple[RedactionPlan, str]:
    """The plan at ``path`` and the sha256 of the very bytes it was parsed from."""
    from redact.io.hashing import sha256_bytes

    try:
        blob = Path(path).read_bytes()
        data = json.loads(blob)
    except FileNotFoundError:
        raise ConfigError(f"plan {path} does not exist; give the .plan.json that `redact "
                          "plan` wrote") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"plan {path}: not valid JSON ({exc})") from None
    return parse_plan(data), sha256_bytes(blob)
