"""The redaction plan: every track and per-frame region, with why it exists, editable by hand.

Format ``redact.plan/1`` (JSON, documented in README). Edits a reviewer may make:

* ``tracks[i].exclude = true``: do not redact that track (e.g. an officer whose face may be
  released). All of its regions (detected, tracked, interpolated, padded) are dropped.
* ``tracks[i].style = "solid"``: render that track in another style.
* ``manual``: add regions, each either a static ``box`` over ``start_frame``..``end_frame`` or
  ``keyframes`` (``[{"frame", "box"}]``) between which the box moves linearly.
* ``audio``: ranges ``{"start": s, "end": s, "mode": "mute" | "bleep"}`` in seconds on the
  frames' clock (``frames[].time``); rendering re-encodes the audio of that file only.
* ``review``: ``{"approved": true}`` once a reviewer has approved the plan (``redact review``).

Boxes are stored exactly as the tracker produced them (before the margin), so rendering an
unedited plan paints the very same pixels as ``redact run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redact.config import CATEGORIES, STYLES
from redact.detect.detections import Detections
from redact.errors import ConfigError

SCHEMA = "redact.plan/1"
MANUAL_TRACK_BASE = -1000  # manual region k gets track id MANUAL_TRACK_BASE - k
AUDIO_MODES = ("mute", "bleep")


def _err(where: str, what: str) -> ConfigError:
    return ConfigError(f"plan field {where}: {what}")


def _box(value: Any, where: str) -> list[float]:
    if (not isinstance(value, list) or len(value) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise _err(where, "must be [x1, y1, x2, y2] numbers")
    if value[2] < value[0] or value[3] < value[1]:
        raise _err(where, "needs x2 >= x1 and y2 >= y1")
    return [float(v) for v in value]


def _int(obj: dict, key: str, where: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _err(f"{where}.{key}", "must be a whole number >= 0")
    return value


@dataclass(frozen=True)
class ManualRegion:
    category: str
    keyframes: tuple[tuple[int, tuple[float, ...]], ...]  # (frame, box), sorted
    style: str | None = None

    def box_at(self, frame: int) -> np.ndarray | None:
        frames = [f for f, _ in self.keyframes]
        if frame < frames[0] or frame > frames[-1]:
            return None
        for (f0, b0), (f1, b1) in zip(self.keyframes, self.keyframes[1:], strict=False):
            if f0 <= frame <= f1:
                a = 0.0 if f1 == f0 else (frame - f0) / (f1 - f0)
                return (1 - a) * np.array(b0, np.float32) + a * np.array(b1, np.float32)
        return np.array(self.keyframes[0][1], np.float32)


@dataclass(frozen=True)
class AudioRange:
    """Seconds on the frames' clock; ``mode`` "mute" (silence) or "bleep" (1 kHz tone)."""

    start: float
    end: float
    mode: str = "mute"

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "mode": self.mode}


@dataclass(frozen=True)
class Plan:
    data: dict[str, Any]
    frames: dict[int, Detections]
    frame_count: int
    excluded: frozenset[int]
    track_styles: dict[int, str]
    manual: tuple[ManualRegion, ...]
    models: list = field(default_factory=list)
    audio: tuple[AudioRange, ...] = ()

    @property
    def input_sha256(self) -> str:
        return self.data["input"]["sha256"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.data["settings"]

    @property
    def edits(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"edit": "exclude_track", "track": t}
                                     for t in sorted(self.excluded)]
        out += [{"edit": "track_style", "track": t, "style": s}
                for t, s in sorted(self.track_styles.items())]
        for k, m in enumerate(self.manual):
            out.append({"edit": "manual_region", "id": k, "category": m.category,
                        "style": m.style, "keyframes": [{"frame": f, "box": list(b)}
                                                        for f, b in m.keyframes]})
        out += [{"edit": "audio_range", **a.to_dict()} for a in self.audio]
        return out

    def styles(self) -> dict[int, str]:
        styles = dict(self.track_styles)
        for k, m in enumerate(self.manual):
            if m.style:
                styles[MANUAL_TRACK_BASE - k] = m.style
        return styles

    def regions_for(self, index: int) -> Detections:
        base = self.frames.get(index, Detections.empty())
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


def build_plan_document(*, input_path: Path, input_sha: str, settings, models, frames,
                        frame_count: int, tracks: list[dict],
                        warnings: list[str] | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "input": {"path": str(input_path), "sha256": input_sha, "frames": frame_count},
        "settings": settings.config.to_dict(),
        "models": [m.to_dict() for m in models],
        "tracks": [{**t, "exclude": False, "style": None} for t in tracks],
        "manual": [],
        "warnings": list(warnings or []),  # what the reader noticed; not read back
        "frames": frames,
    }


def load_plan(path: Path) -> Plan:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"plan {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"plan {path}: not valid JSON ({exc})") from None
    return parse_plan(data)


def parse_plan(data: Any) -> Plan:
    if not isinstance(data, dict):
        raise _err("(top)", "must be a JSON object")
    if data.get("schema") != SCHEMA:
        raise _err("schema", f"must be {SCHEMA!r}, got {data.get('schema')!r}")
    inp = data.get("input")
    if not isinstance(inp, dict) or not isinstance(inp.get("sha256"), str):
        raise _err("input.sha256", "missing")
    frame_count = _int(inp, "frames", "input")
    if not isinstance(data.get("settings"), dict):
        raise _err("settings", "must be an object of settings")
    excluded, styles = set(), {}
    for i, track in enumerate(_list(data, "tracks")):
        where = f"tracks[{i}]"
        if not isinstance(track, dict):
            raise _err(where, "must be an object")
        tid = _int(track, "id", where)
        exclude = track.get("exclude", False)
        if not isinstance(exclude, bool):
            raise _err(f"{where}.exclude", "must be true or false")
        if exclude:
            excluded.add(tid)
        style = track.get("style")
        if style is not None:
            if style not in STYLES:
                raise _err(f"{where}.style", f"must be one of {', '.join(STYLES)} or null")
            styles[tid] = style
    manual = tuple(_manual(m, f"manual[{k}]") for k, m in enumerate(_list(data, "manual")))
    frames: dict[int, Detections] = {}
    for i, entry in enumerate(_list(data, "frames")):
        where = f"frames[{i}]"
        if not isinstance(entry, dict):
            raise _err(where, "must be an object")
        index = _int(entry, "frame", where)
        regions = entry.get("regions")
        if not isinstance(regions, list):
            raise _err(f"{where}.regions", "must be a list")
        boxes, scores, cats, sources, tids = [], [], [], [], []
        for j, r in enumerate(regions):
            rw = f"{where}.regions[{j}]"
            if not isinstance(r, dict):
                raise _err(rw, "must be an object")
            boxes.append(_box(r.get("box"), f"{rw}.box"))
            if r.get("category") not in CATEGORIES:
                raise _err(f"{rw}.category", f"must be one of {', '.join(CATEGORIES)}")
            cats.append(r["category"])
            scores.append(float(r.get("score", 1.0)))
            sources.append(str(r.get("source", "detected")))
            tids.append(int(r.get("track", -1)))
        frames[index] = Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores),
                                   np.array(cats, dtype=object), np.array(sources, dtype=object),
                                   np.array(tids, dtype=np.int64))
    from redact.models.registry import _spec

    models = [_spec(m["name"], m) for m in data.get("models", []) if isinstance(m, dict)]
    audio = tuple(_audio(a, f"audio[{k}]") for k, a in enumerate(_list(data, "audio")))
    review = data.get("review", {})
    if not isinstance(review, dict) or not isinstance(review.get("approved", False), bool):
        raise _err("review", 'must be an object like {"approved": true}')
    return Plan(data, frames, frame_count, frozenset(excluded), styles, manual, models,
                audio=audio)


def _list(data: dict, key: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _err(key, "must be a list")
    return value


def _audio(a: Any, where: str) -> AudioRange:
    if not isinstance(a, dict):
        raise _err(where, "must be an object")
    ends = []
    for key in ("start", "end"):
        value = a.get(key)
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not np.isfinite(value) or value < 0):
            raise _err(f"{where}.{key}", "must be a number of seconds >= 0")
        ends.append(float(value))
    if ends[1] <= ends[0]:
        raise _err(f"{where}.end", "must be after start")
    mode = a.get("mode", "mute")
    if mode not in AUDIO_MODES:
        raise _err(f"{where}.mode", f"must be one of {', '.join(AUDIO_MODES)}")
    return AudioRange(ends[0], ends[1], mode)


def _manual(m: Any, where: str) -> ManualRegion:
    if not isinstance(m, dict):
        raise _err(where, "must be an object")
    category = m.get("category", "face")
    if category not in CATEGORIES:
        raise _err(f"{where}.category", f"must be one of {', '.join(CATEGORIES)}")
    style = m.get("style")
    if style is not None and style not in STYLES:
        raise _err(f"{where}.style", f"must be one of {', '.join(STYLES)} or null")
    if "keyframes" in m:
        kfs = m["keyframes"]
        if not isinstance(kfs, list) or not kfs:
            raise _err(f"{where}.keyframes", "must be a non-empty list of {frame, box}")
        keyframes = []
        for k, kf in enumerate(kfs):
            if not isinstance(kf, dict):
                raise _err(f"{where}.keyframes[{k}]", "must be an object")
            keyframes.append((_int(kf, "frame", f"{where}.keyframes[{k}]"),
                              tuple(_box(kf.get("box"), f"{where}.keyframes[{k}].box"))))
        keyframes.sort()
    else:
        start, end = _int(m, "start_frame", where), _int(m, "end_frame", where)
        if end < start:
            raise _err(f"{where}.end_frame", "must be >= start_frame")
        box = tuple(_box(m.get("box"), f"{where}.box"))
        keyframes = [(start, box), (end, box)]
    return ManualRegion(category, tuple(keyframes), style)
