"""Coverage across the detection stride, whatever the tracker does.

With ``detect_every = N`` the detectors see one frame in N. Tracking settings are in seconds
(coast, gap fill, padding), so whether they bridge the frames in between depends on the frame
rate: at 2 fps a stride of 3 is 1.5 s, longer than any default. ``StrideCover`` closes that gap
by construction: it holds the skipped frames until the next detected frame, then gives every
one of them the boxes of *both* neighbouring detected frames, and for each box matched across
the two (same category, overlapping or near) the box spanning both, which covers any straight
motion between them. The inner stage (tracker or per-frame) still runs and may add more.
"""

from __future__ import annotations

import numpy as np

from redact.detect.detections import Detections
from redact.track.slots import Slot, TemporalStage

SOURCE = "carried"
GROW = 0.15  # each carried box grows by this fraction of its size per side


def _grow(xyxy: np.ndarray, frac: float) -> np.ndarray:
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return xyxy + np.concatenate([wh, wh], axis=1) * frac * np.array([-1, -1, 1, 1], np.float32)


def _match(a: Detections, b: Detections) -> list[tuple[int, int]]:
    """Greedy pairs (i in a, j in b) of one category whose centres lie within 3 box sizes."""
    pairs: list[tuple[int, int]] = []
    if not len(a) or not len(b):
        return pairs
    ca = (a.xyxy[:, :2] + a.xyxy[:, 2:]) / 2
    cb = (b.xyxy[:, :2] + b.xyxy[:, 2:]) / 2
    size = np.maximum((a.xyxy[:, 2:] - a.xyxy[:, :2]).max(axis=1)[:, None],
                      (b.xyxy[:, 2:] - b.xyxy[:, :2]).max(axis=1)[None, :])
    dist = np.linalg.norm(ca[:, None] - cb[None], axis=2) / np.maximum(size, 1.0)
    dist[a.category[:, None] != b.category[None, :]] = np.inf
    while dist.size and np.isfinite(dist.min()) and dist.min() < 3.0:
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        pairs.append((int(i), int(j)))
        dist[i, :] = np.inf
        dist[:, j] = np.inf
    return pairs


def carried(before: Detections | None, after: Detections | None) -> Detections:
    """Regions for the frames between two detected frames (either side may be absent).

    >>> a = Detections.from_lists([[0, 0, 10, 10]], [0.9], ["face"])
    >>> b = Detections.from_lists([[20, 0, 30, 10]], [0.8], ["face"])
    >>> [r["source"] for r in carried(a, b).to_records()]
    ['carried', 'carried', 'carried']
    >>> carried(a, b).xyxy[-1].tolist()  # the box spanning both, grown by GROW per side
    [-4.5, -1.5, 34.5, 11.5]
    """
    before = before if before is not None else Detections.empty()
    after = after if after is not None else Detections.empty()
    parts = []
    for side in (before, after):
        if len(side):
            parts.append(side.replace(xyxy=_grow(side.xyxy, GROW),
                                      source=np.full(len(side), SOURCE, dtype=object)))
    pairs = _match(before, after)
    if pairs:
        i, j = (np.array(v) for v in zip(*pairs, strict=True))
        span = np.concatenate([np.minimum(before.xyxy[i, :2], after.xyxy[j, :2]),
                               np.maximum(before.xyxy[i, 2:], after.xyxy[j, 2:])], axis=1)
        same = before.track_id[i] == after.track_id[j]
        parts.append(Detections(_grow(span, GROW), np.minimum(before.score[i], after.score[j]),
                                before.category[i], np.full(len(i), SOURCE, dtype=object),
                                np.where(same, before.track_id[i], -1)))
    return Detections.concat(parts)


class StrideCover:
    """Wraps a temporal stage when detection skips frames (see the module docstring)."""

    def __init__(self, inner: TemporalStage) -> None:
        self.inner = inner
        self.held: list[Slot] = []
        self.last: Detections | None = None

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
        cover = carried(self.last, found)
        for held in self.held:
            held.regions.append(cover)
        self.held = []
        self.last = found
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
