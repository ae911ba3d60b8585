"""Coverage across the detection stride, whatever the tracker does.

With ``detect_every = N`` the detectors see one frame in N. Tracking settings are in seconds
(coast, gap fill, padding), so whether they bridge the frames in between depends on the frame
rate: at 2 fps a stride of 3 is 1.5 s, longer than any default. ``StrideCover`` closes that gap
by construction: it holds the skipped frames until the next detected frame, then gives every
one of them the boxes of *both* neighbouring detected frames, and for each box matched across
the two (same category, overlapping or near) the box spanning both, which covers any straight
motion between them. A pair the tracker gave one id is one object seen twice: each frame gets
its box interpolated to that frame's time instead (``between``), which follows the motion
rather than painting the whole span of it. The inner stage (tracker or per-frame) still runs
and may add more.
"""

from __future__ import annotations

import numpy as np

from redact.detect.detections import Detections, iou_matrix
from redact.track.slots import Slot, TemporalStage
from redact.track.tracker import alike_size, between

SOURCE = "carried"
GROW = 0.15  # each carried box grows by this fraction of its size per side


def _grow(xyxy: np.ndarray, frac: float) -> np.ndarray:
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return xyxy + np.concatenate([wh, wh], axis=1) * frac * np.array([-1, -1, 1, 1], np.float32)


def _match(a: Detections, b: Detections) -> list[tuple[int, int]]:
    """Greedy pairs (i in a, j in b) of one category whose centres lie within 3 box sizes,
    and which overlap or are about one size (the tracker's ``MAX_SCALE``); boxes of one track
    pair first (a box near another object's would span both)."""
    pairs: list[tuple[int, int]] = []
    if not len(a) or not len(b):
        return pairs
    ca = (a.xyxy[:, :2] + a.xyxy[:, 2:]) / 2
    cb = (b.xyxy[:, :2] + b.xyxy[:, 2:]) / 2
    size = np.maximum((a.xyxy[:, 2:] - a.xyxy[:, :2]).max(axis=1)[:, None],
                      (b.xyxy[:, 2:] - b.xyxy[:, :2]).max(axis=1)[None, :])
    dist = np.linalg.norm(ca[:, None] - cb[None], axis=2) / np.maximum(size, 1.0)
    dist[a.category[:, None] != b.category[None, :]] = np.inf
    # Trap: "within 3 sizes" measured by the larger box let a 119 px face (a mouth seen as a
    # face) and a 27 px one 330 px above it, each a different thing, be spanned: a 208x511 px
    # box painted on a wide-angle frame. Apart and of unlike size, each is carried alone.
    dist[(iou_matrix(a.xyxy, b.xyxy) <= 0) & ~alike_size(a.xyxy, b.xyxy)] = np.inf
    tracked = (a.track_id[:, None] == b.track_id[None, :]) & (a.track_id[:, None] >= 0)
    dist = np.where(tracked & (dist < 3.0), dist - 3.0, dist)
    while dist.size and np.isfinite(dist.min()) and dist.min() < 3.0:
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        pairs.append((int(i), int(j)))
        dist[i, :] = np.inf
        dist[:, j] = np.inf
    return pairs


def carried(before: Detections | None, after: Detections | None,
            a: float | None = None) -> Detections:
    """Regions for a frame between two detected frames (either side may be absent), a
    fraction ``a`` of the way from one to the other (None: anywhere between).

    >>> a = Detections.from_lists([[0, 0, 10, 10]], [0.9], ["face"])
    >>> b = Detections.from_lists([[20, 0, 30, 10]], [0.8], ["face"])
    >>> [r["source"] for r in carried(a, b).to_records()]
    ['carried', 'carried', 'carried']
    >>> carried(a, b).xyxy[-1].tolist()  # the box spanning both, grown by GROW per side
    [-4.5, -1.5, 34.5, 11.5]
    >>> same = np.array([7])  # one track: the box where it is at a = 0.5, not both ends
    >>> carried(a.replace(track_id=same), b.replace(track_id=same), 0.5).xyxy.tolist()
    [[7.5, -2.5, 22.5, 12.5]]
    """
    before = before if before is not None else Detections.empty()
    after = after if after is not None else Detections.empty()
    pairs = _match(before, after)
    i, j = (np.array(v, np.int64) for v in zip(*pairs, strict=True)) if pairs else (
        np.zeros(0, np.int64), np.zeros(0, np.int64))
    same = (before.track_id[i] == after.track_id[j]) & (before.track_id[i] >= 0)
    followed = same if a is not None else np.zeros(len(i), bool)
    parts = []
    for side, paired in ((before, i[followed]), (after, j[followed])):
        rest = np.setdiff1d(np.arange(len(side)), paired)
        if len(rest):
            parts.append(side[rest].replace(xyxy=_grow(side.xyxy[rest], GROW),
                                            source=np.full(len(rest), SOURCE, dtype=object)))
    if followed.any():
        assert a is not None
        fi, fj = i[followed], j[followed]
        boxes = np.stack([between(before.xyxy[p], after.xyxy[q], a)
                          for p, q in zip(fi, fj, strict=True)])
        # ``between`` already grows by what the motion leaves uncertain; the tracker paints
        # the same box when it bridges the gap, so the two add no area.
        parts.append(before[fi].replace(xyxy=boxes,
                                        score=np.minimum(before.score[fi], after.score[fj]),
                                        source=np.full(len(fi), SOURCE, dtype=object)))
    i, j = i[~followed], j[~followed]
    if len(i):
        span = np.concatenate([np.minimum(before.xyxy[i, :2], after.xyxy[j, :2]),
                               np.maximum(before.xyxy[i, 2:], after.xyxy[j, 2:])], axis=1)
        parts.append(Detections(_grow(span, GROW), np.minimum(before.score[i], after.score[j]),
                                before.category[i], np.full(len(i), SOURCE, dtype=object),
                                # Two tracks' boxes: the span is the earlier one's, so it
                                # goes if that track is never confirmed (tracker.py).
                                np.where(before.track_id[i] >= 0, before.track_id[i],
                                         after.track_id[j])))
    return Detections.concat(parts)


class StrideCover:
    """Wraps a temporal stage when detection skips frames (see the module docstring)."""

    def __init__(self, inner: TemporalStage) -> None:
        self.inner = inner
        self.held: list[Slot] = []
        self.last: Detections | None = None
        self.last_time = 0.0

    @property
    def tracks(self) -> list:
        return getattr(self.inner, "tracks", [])

    def push(self, slot: Slot) -> list[Slot]:
        if slot.detections is None:
            self.held.append(slot)
            return []
        # The inner stage sees frames in their order, as without the wrapper; the slots it
        # releases are not encoded before we return them, so the cover can still be attached
        # after the detected frame has told us its track ids.
        released: list[Slot] = []
        for held in self.held:
            released += self.inner.push(held)
        released += self.inner.push(slot)
        found = slot.identified if slot.identified is not None else slot.detections
        span = slot.time - self.last_time
        for held in self.held:
            a = (held.time - self.last_time) / span if self.last is not None and span > 0 \
                else None
            held.regions.append(carried(self.last, found, a))
        self.held = []
        self.last, self.last_time = found, slot.time
        return released

    def flush(self) -> list[Slot]:
        released: list[Slot] = []
        for held in self.held:
            released += self.inner.push(held)
        cover = carried(self.last, None)
        for held in self.held:
            held.regions.append(cover)
        self.held = []
        return released + self.inner.flush()
