""""Always redact this person": a track a reviewer marks, grouped with the face, head and
person tracks that overlap it in time and space, becomes manual items of the plan.

Decision: resolved in the review app, not at render. The group's boxes, frame by frame (the
smallest box holding all of the group's boxes on that frame), become manual items with
``source: "always_redact"`` and a note naming the tracks; the grouped tracks are set to be
redacted (``exclude: false``). So the renderer, the audit (``plan_edits`` lists each manual item
with its extent) and the review page need nothing new, and what the reviewer saw is what is
painted. A gap of more than ``MAX_GAP`` frames with none of the group's boxes starts a new item
(no box is drawn across a long absence, where the person may not be).
"""

from __future__ import annotations

from typing import Any

PEOPLE = ("face", "head", "person")
MAX_GAP = 12  # frames: shorter absences are bridged by the item's linear motion
OVERLAP = 0.5  # intersection over the smaller box: a face inside its person box groups


def _overlap(a: list, b: list) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / small if small > 0 else 0.0


def track_boxes(doc: dict[str, Any]) -> dict[int, dict[int, list]]:
    """Each track's box on each frame (its first region there)."""
    out: dict[int, dict[int, list]] = {}
    for entry in doc.get("frames", []):
        for r in entry.get("regions", []):
            if r.get("track", -1) >= 0:
                out.setdefault(r["track"], {}).setdefault(entry["frame"], r["box"])
    return out


def person_group(doc: dict[str, Any], track: int) -> list[int]:
    """``track`` and every face/head/person track linked to it, directly or through another,
    by boxes overlapping (``OVERLAP``) on at least one shared frame."""
    cats = {t.get("id"): t.get("category") for t in doc.get("tracks", [])}
    boxes = track_boxes(doc)
    group, todo = {track}, [track]
    while todo:
        a = todo.pop()
        for b, bb in boxes.items():
            if b in group or cats.get(b) not in PEOPLE:
                continue
            shared = boxes.get(a, {}).keys() & bb.keys()
            if any(_overlap(boxes[a][f], bb[f]) >= OVERLAP for f in shared):
                group.add(b)
                todo.append(b)
    return sorted(group)


def always_items(doc: dict[str, Any], group: list[int]) -> list[dict[str, Any]]:
    """The manual items covering ``group`` on every frame any of its tracks has a box."""
    boxes = track_boxes(doc)
    union: dict[int, list[float]] = {}
    for t in group:
        for f, b in boxes.get(t, {}).items():
            u = union.get(f)
            union[f] = list(b) if u is None else [min(u[0], b[0]), min(u[1], b[1]),
                                                  max(u[2], b[2]), max(u[3], b[3])]
    runs: list[list[int]] = []
    for f in sorted(union):
        if runs and f - runs[-1][-1] <= MAX_GAP:
            runs[-1].append(f)
        else:
            runs.append([f])
    category = _category(doc, group)
    note = "always redact: tracks " + ", ".join(f"#{t}" for t in group)
    return [{"category": category, "source": "always_redact", "note": note,
             "keyframes": [{"frame": f, "box": union[f]} for f in run]} for run in runs]


def _category(doc: dict[str, Any], group: list[int]) -> str:
    cats = {t.get("id"): t.get("category") for t in doc.get("tracks", [])}
    present = {cats.get(t) for t in group}
    for c in ("person", "head", "face"):
        if c in present:
            return c
    return "face"


def apply_always(doc: dict[str, Any], track: Any) -> None:
    """Mark ``track``'s person as always redacted, in place (``doc`` is already a copy)."""
    ids = {t.get("id") for t in doc.get("tracks", [])}
    if isinstance(track, bool) or track not in ids:
        raise ValueError(f"plan has no track {track!r}")
    group = person_group(doc, track)
    for t in doc.get("tracks", []):
        if t.get("id") in group:
            t["exclude"] = False
    note = "always redact: tracks " + ", ".join(f"#{t}" for t in group)
    manual = [m for m in doc.get("manual", []) if not (
        isinstance(m, dict) and m.get("source") == "always_redact" and m.get("note") == note)]
    doc["manual"] = manual + always_items(doc, group)
