"""Assisted tracking for ``redact review``: follow one drawn box through the plan's input.

``follow_in_video`` decodes the input with ``redact.io.decode`` (so frame numbers are the
plan's), follows the box forwards from its frame while it streams, keeps the working pictures
of the frames before it (grey, scaled: ``BoxFollower.prepare``) in a bounded buffer, and follows
backwards through them; if the object is still there at the buffer's start it decodes again up
to that point. The result is per-frame boxes, thinned to keyframes between which the linear
motion of a manual item stays within ``KEY_TOLERANCE`` pixels, and where and why each direction
stopped.

``AssistJobs`` runs one such job at a time in a background thread with progress; the review
server turns a finished job into a manual item of the plan (``source: "tracked"``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BUFFER_BYTES = 256 * 1024 * 1024  # working pictures kept for going backwards
KEY_TOLERANCE = 1.5  # pixels: how far linear motion between keyframes may stray


class Cancelled(Exception):
    pass


@dataclass
class Followed:
    """Boxes by frame and where each direction stopped: (frame, why) with ``why`` one of
    ``lost``, ``left the picture``, ``start of video``, ``end of video``; the category of
    the detection the box was tied to (``""``: none) and on how many frames one pulled it."""

    boxes: dict[int, list[float]]
    forward: tuple[int, str] = (0, "")
    backward: tuple[int, str] = (0, "")
    tied: str = ""
    pulled: int = 0

    def keyframes(self, tolerance: float = KEY_TOLERANCE) -> list[dict[str, Any]]:
        frames = sorted(self.boxes)
        keep = thin(frames, [self.boxes[f] for f in frames], tolerance)
        return [{"frame": f, "box": [round(v, 1) for v in self.boxes[f]]} for f in keep]


def thin(frames: list[int], boxes: list[list[float]], tol: float) -> list[int]:
    """The fewest frames (always the first and last) whose linear interpolation stays within
    ``tol`` pixels of every box (greedy: extend each segment as far as it holds)."""
    if len(frames) <= 2:
        return list(frames)
    arr = np.asarray(boxes, np.float64)
    keep, a = [0], 0
    while a < len(frames) - 1:
        b = a + 1
        while b + 1 < len(frames) and _fits(frames, arr, a, b + 1, tol):
            b += 1
        keep.append(b)
        a = b
    return [frames[k] for k in keep]


def _fits(frames: list[int], arr: np.ndarray, a: int, b: int, tol: float) -> bool:
    if frames[b] - frames[a] != b - a:  # a gap in the boxes: keep both ends
        return False
    w = (np.asarray(frames[a:b + 1], np.float64) - frames[a]) / (frames[b] - frames[a])
    line = (1 - w)[:, None] * arr[a] + w[:, None] * arr[b]
    return bool(np.abs(line - arr[a:b + 1]).max() <= tol)


Progress = Callable[[int, int], None]
# Per frame, the detections a followed box may be anchored to: (box, category).
Anchors = dict[int, list[tuple[list[float], str]]]
# The plan's regions that are detections on their own frame; the others (tracked, interpolated,
# padded, carried) are the tracker's guesses and would anchor the box to a guess.
DETECTED = ("detected", "continued")


def plan_anchors(doc: dict[str, Any]) -> Anchors:
    """The detections of a plan document by frame, as anchors for ``follow_in_video``.

    >>> plan_anchors({"frames": [{"frame": 3, "regions": [
    ...     {"category": "face", "box": [1, 2, 3, 4], "source": "detected"},
    ...     {"category": "face", "box": [1, 2, 3, 5], "source": "padded"}]}]})
    {3: [([1.0, 2.0, 3.0, 4.0], 'face')]}
    """
    out: Anchors = {}
    for entry in doc.get("frames", []):
        found = [([float(v) for v in r["box"]], r["category"]) for r in entry.get("regions", ())
                 if r.get("source", "detected") in DETECTED]
        if found:
            out[int(entry["frame"])] = found
    return out


def _frames(path: Path, stop: int | None = None):
    """(index, BGR picture) from the project's decoder, up to index ``stop`` (exclusive)."""
    from redact.io.decode import iter_frames, open_input

    container = open_input(path)
    try:
        for frame in iter_frames(container, lambda _packet: None):
            if stop is not None and frame.index >= stop:
                return
            yield frame.index, frame.bgr()
    finally:
        container.close()


def follow_in_video(path: Path, start: int, box, *, direction: str = "both", total: int = 0,
                    progress: Progress | None = None,
                    cancel: threading.Event | None = None, settings=None,
                    anchors: Anchors | None = None) -> Followed:
    """Follow ``box`` (drawn on frame ``start``) forwards and/or backwards. ``anchors``: the
    detections by frame (``plan_anchors``), which keep the box on a detected object."""
    anchors = anchors or {}
    from redact.track.assist import BoxFollower, working_scale

    out = Followed({start: [float(v) for v in box]})
    tick = _ticker(progress, cancel, total)
    buffer: deque = deque()
    ahead = back = None
    for index, bgr in _frames(path):
        tick()
        if index < start:
            if direction != "forward":
                _keep(buffer, bgr, index, working_scale(np.asarray(box, np.float64), bgr.shape))
            continue
        if index == start:
            first = anchors.get(index, ())
            ahead = BoxFollower(bgr, box, settings, first)
            back = BoxFollower(bgr, box, settings, first)
            if direction == "backward":
                break
            continue
        got = ahead.update(bgr, anchors.get(index, ()))
        if got is None:
            out.forward = (index - 1, _why(ahead, bgr.shape))
            break
        out.boxes[index] = [float(v) for v in got]
    else:
        if ahead is None:
            raise ValueError(f"frame {start} is not in the video ({path.name})")
        out.forward = (max(out.boxes), "end of video")
    assert ahead is not None and back is not None
    out.tied = next((f.tie.category for f in (ahead, back) if f.tie is not None), "")
    if direction == "forward":
        out.backward = (start, "not tracked")
        out.pulled = ahead.pulled
        return out
    out.backward = _backward(path, back, buffer, out.boxes, tick, anchors)
    out.pulled = ahead.pulled + back.pulled
    return out


def _keep(buffer: deque, bgr: np.ndarray, index: int, scale: float) -> None:
    # Stored as they will be read: grey and scaled as the follower scales them.
    from redact.track.assist import working_picture

    img = working_picture(bgr, scale)
    buffer.append((index, img))
    while len(buffer) > 1 and len(buffer) * img.nbytes > BUFFER_BYTES:
        buffer.popleft()


def _backward(path: Path, follower, buffer: deque, boxes: dict, tick,
              anchors: Anchors) -> tuple[int, str]:
    while buffer:
        first = buffer[0][0]
        for index, img in reversed(buffer):
            got = follower.step(img, anchors.get(index, ()))
            if got is None:
                return index + 1, _why(follower, None)
            boxes[index] = [float(v) for v in got]
        buffer.clear()
        if first == 0:
            break
        # Still there at the oldest kept frame: decode again, up to it.
        for index, bgr in _frames(path, first):
            tick()
            _keep(buffer, bgr, index, follower.scale)
    return min(boxes), "start of video"


def _why(follower, shape) -> str:
    from redact.track.assist import inside_fraction

    inside = inside_fraction(follower.box, *follower.size)
    return "left the picture" if inside < follower.settings.min_inside + 0.15 else "lost"


def _ticker(progress: Progress | None, cancel: threading.Event | None, total: int):
    count = [0]

    def tick() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled
        count[0] += 1
        if progress is not None:
            progress(count[0], max(total, count[0]))
    return tick


@dataclass
class AssistJob:
    """One tracking run: state idle | running | ok | failed | cancelled."""

    plan: str = ""
    state: str = "idle"
    frame: int = 0
    done: int = 0
    total: int = 0
    error: str | None = None
    result: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "state": self.state, "frame": self.frame, "done": self.done,
                "total": self.total, "error": self.error, "result": self.result}


class AssistJobs:
    """At most one tracking run at a time (two cores do not track two things well)."""

    def __init__(self) -> None:
        self.job = AssistJob()
        self._lock = threading.Lock()

    def start(self, plan: str, work: Callable[[AssistJob], dict[str, Any]]) -> AssistJob | None:
        with self._lock:
            if self.job.state == "running":
                return None
            job = self.job = AssistJob(plan=plan, state="running")
        threading.Thread(target=self._run, args=(job, work), daemon=True).start()
        return job

    @staticmethod
    def _run(job: AssistJob, work: Callable[[AssistJob], dict[str, Any]]) -> None:
        try:
            job.result = work(job)
            job.state = "ok"
        except Cancelled:
            job.state = "cancelled"
        except Exception as exc:  # shown to the reviewer as one line
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"


def apply_tracked(doc: dict[str, Any], op: dict[str, Any]) -> None:
    """Put a finished tracking run into the plan, in place: a new manual item, or (``index``)
    the item it resumed, whose keyframes inside the newly tracked span are replaced."""
    keys = op.get("keyframes")
    if not isinstance(keys, list) or not keys:
        raise ValueError("manual_tracked: keyframes must be a non-empty list")
    frames = [k.get("frame") for k in keys if isinstance(k, dict)]
    if len(frames) != len(keys) or not all(isinstance(f, int) for f in frames):
        raise ValueError("manual_tracked: every keyframe needs a whole-number frame")
    manual = doc.setdefault("manual", [])
    index = op.get("index")
    if index is None:
        manual.append({"category": op.get("category", "face"), "source": "tracked",
                       "note": op.get("note"), "keyframes": keys})
        return
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(manual):
        raise ValueError(f"plan has no manual box {index!r}")
    item = manual[index]
    lo, hi = min(frames), max(frames)
    old = item.pop("keyframes", None) or [
        {"frame": item.pop("start_frame", 0), "box": item.get("box")},
        {"frame": item.pop("end_frame", 0), "box": item.pop("box", None)}]
    kept = [k for k in old if isinstance(k, dict) and isinstance(k.get("frame"), int)
            and not lo <= k["frame"] <= hi]
    item["keyframes"] = sorted(kept + keys, key=lambda k: k["frame"])
    item["source"], item["note"] = "tracked", op.get("note")
