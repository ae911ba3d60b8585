"""Tracking stage: follow each face/plate through time, fill gaps, pad, and coast.

Time is in seconds (from pts), so variable-frame-rate footage behaves. Tracks add
coasting, interpolated and padded boxes to what was detected, and two rules keep that from
painting walls:

* A track of a category with a ``confirm`` score is *tentative* until a detection scores that
  much, another model agrees (a candidate over it), or it has been detected ``CONFIRM_HITS``
  times; the regions of a track that is still tentative
  when its frame leaves the look-back buffer are dropped (``Slot.keep``). Once confirmed,
  every frame it covered in the buffer is painted, the first one included: no delay.
* When a track is found again, the frames in between get the box interpolated along its
  motion (grown by what that motion leaves uncertain) instead of the coasting and padding
  they got while it was lost, which spanned both positions.

Why not ultralytics' BYTETracker: it counts frames rather than seconds, reports no boxes for
lost tracks (so it cannot coast or back-fill), and drops unconfirmed detections; all three
would hide a face in released footage. The association here follows ByteTrack's idea (a
high-confidence pass, then a low-confidence pass, then one with the detectors' candidates
under the threshold, which may continue a track but never start one) on constant-velocity
predictions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from redact.config import Config
from redact.detect.detections import Detections, iou_matrix
from redact.track.slots import Slot

HIGH_SCORE = 0.5
CONTINUED = "continued"  # a candidate box (under its threshold) that continued a track
AGREE_IOU = 0.3  # a candidate of another model this close confirms a tentative track
# Detections that confirm a tentative track whatever they score. Three, not two: shelves and
# sandwiches score 0.1-0.2 frame after frame (real footage, tune half: 1.5 stray regions per
# frame at two, 0.7 at three). Not more: the third detection must come within the look-back
# (1 s) of the first for the frames before it to be filled back, and detection runs at least
# every detect_gap_s (0.5 s).
CONFIRM_HITS = 3
# Boxes whose sides (of the square of equal area) differ more than this many times are not
# one object (candidates always; detections unless they overlap the prediction).
MAX_SCALE = 2.0


def alike_size(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M): whether box i of ``a`` and box j of ``b`` could be one object by size: the
    sides of their squares of equal area within ``MAX_SCALE`` times of each other.

    >>> alike_size(np.array([[0, 0, 10, 10.]]), np.array([[0, 0, 20, 20.], [0, 0, 25, 25]]))
    array([[ True, False]])
    """
    side_a = np.sqrt(np.prod(a[:, 2:] - a[:, :2], axis=1))[:, None]
    side_b = np.sqrt(np.prod(b[:, 2:] - b[:, :2], axis=1))[None, :]
    ratio = np.maximum(side_a, 1e-6) / np.maximum(side_b, 1e-6)
    return (ratio <= MAX_SCALE) & (ratio >= 1 / MAX_SCALE)


def grow(box: np.ndarray, frac: float) -> np.ndarray:
    w, h = box[2] - box[0], box[3] - box[1]
    return box + np.array([-w, -h, w, h], np.float32) * frac


@dataclass
class Track:
    id: int
    category: str
    first_time: float
    last_time: float
    box: np.ndarray
    first_frame: int
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    score: float = 0.0
    detected: int = 1
    filled: dict[str, int] = field(default_factory=dict)
    ended: bool = False
    confirmed: bool = True

    def predict(self, t: float) -> np.ndarray:
        dt = t - self.last_time
        box = (self.box + self.velocity * dt).astype(np.float32)
        # A box shrinking (cut by the frame's edge as it leaves) must not turn inside out.
        box[2:] = np.maximum(box[2:], box[:2])
        return box

    def observe(self, t: float, box: np.ndarray, score: float, frame: int) -> None:
        dt = t - self.last_time
        if dt > 0:
            v = (box - self.box) / dt
            # The first motion is taken whole: averaged with the initial zero it would make
            # every prediction lag half a step (a plate driving at the camera fell out of
            # its predicted box between detections).
            self.velocity = (v if self.detected == 1
                             else 0.5 * self.velocity + 0.5 * v).astype(np.float32)
        self.box, self.last_time, self.score = box.astype(np.float32), t, score
        self.last_frame = frame
        self.detected += 1

    def count_fill(self, source: str) -> None:
        self.filled[source] = self.filled.get(source, 0) + 1

    def summary(self) -> dict:
        return {"id": self.id, "category": self.category,
                "first_time": round(self.first_time, 6), "last_time": round(self.last_time, 6),
                "first_frame": self.first_frame, "last_frame": self.last_frame,
                "frames_detected": self.detected,
                "frames_filled": dict(sorted(self.filled.items()))}


class TrackingStage:
    """Temporal stage with a look-back buffer of ``lookback_s`` seconds."""

    def __init__(self, *, coast_s: float, gap_fill_s: float, pad_before_s: float,
                 pad_after_s: float, max_frames: int = 2000,
                 confirm: dict[str, float] | None = None, edge_coast_s: float = 0.0) -> None:
        self.coast_s, self.gap_fill_s = coast_s, gap_fill_s
        self.pad_before_s, self.pad_after_s = pad_before_s, pad_after_s
        self.lookback_s = max(gap_fill_s, pad_before_s)
        self.max_frames = max_frames
        # category → a detection scoring this much confirms its track at once (see above)
        self.confirm = {c: v for c, v in (confirm or {}).items() if v > 0}
        self.edge_coast_s = edge_coast_s
        self.buffer: deque[Slot] = deque()
        self.tracks: list[Track] = []
        self.live: list[Track] = []
        self.tentative: set[int] = set()
        # (time it ended, id) of tentative tracks that ended unconfirmed, oldest first
        self._rejected: deque[tuple[float, int]] = deque()
        self.size: tuple[int, int] | None = None
        self._next_id = 1

    @classmethod
    def from_config(cls, config: Config) -> TrackingStage:
        confirm = {c: s.confirm_score for c, s in config.sections().items()
                   if getattr(s, "confirm_score", 0)}
        return cls(coast_s=config.coast_s, gap_fill_s=config.gap_fill_s,
                   pad_before_s=config.pad_before_s, pad_after_s=config.pad_after_s,
                   confirm=confirm, edge_coast_s=config.edge_coast_s)

    # -- the stage interface -------------------------------------------------------------
    def push(self, slot: Slot) -> list[Slot]:
        slot.keep = self._keep
        self.size = slot.size or self.size
        if slot.detections is None:
            self._coast(slot, matched=set())
        else:
            self._update(slot)
        self.buffer.append(slot)
        return self._release(slot.time)

    def flush(self) -> list[Slot]:
        out = list(self.buffer)
        self.buffer.clear()
        return out

    # -- internals -----------------------------------------------------------------------
    def _keep(self, regions: Detections) -> Detections:
        """A released frame's regions less those of tracks never confirmed."""
        if not self.tentative or not len(regions):
            return regions
        return regions[~np.isin(regions.track_id, list(self.tentative))]

    def _release(self, now: float) -> list[Slot]:
        out = []
        while self.buffer and (now - self.buffer[0].time > self.lookback_s
                               or len(self.buffer) > self.max_frames):
            out.append(self.buffer.popleft())
        # A rejected track's regions lie on frames before it ended, all released a look-back
        # later: its id can leave the filter then, which keeps the filter small on long
        # footage (thousands of shelves and sandwiches an hour).
        while self._rejected and self._rejected[0][0] < now - 2 * self.lookback_s:
            self.tentative.discard(self._rejected.popleft()[1])
        return out

    def _update(self, slot: Slot) -> None:
        dets = slot.detections
        assert dets is not None
        t = slot.time
        track_ids = np.full(len(dets), -1, np.int64)
        matched: set[int] = set()
        low = slot.candidates if slot.candidates is not None else Detections.empty()
        continued: list[Detections] = []
        for category in sorted(set(dets.category) | set(low.category)):
            idx = np.nonzero(dets.category == category)[0]
            cands = [tr for tr in self.live if tr.category == category]
            high = idx[dets.score[idx] >= HIGH_SCORE]
            mid = idx[dets.score[idx] < HIGH_SCORE]
            for group in (high, mid):  # ByteTrack order: confident detections pick first
                pairs = self._associate(cands, dets.xyxy[group], t)
                for ti, di in pairs:
                    track, d = cands[ti], group[di]
                    self._rematch(track, slot, dets.xyxy[d], float(dets.score[d]))
                    track_ids[d] = track.id
                    matched.add(track.id)
                cands = [c for c in cands if c.id not in matched]
            # Last, boxes under the threshold, for tracks nothing else continued; one that
            # continues no track is dropped (it never starts one).
            lidx = np.nonzero(low.category == category)[0]
            for ti, li in self._associate(cands, low.xyxy[lidx], t, similar_size=True):
                track, d = cands[ti], lidx[li]
                self._rematch(track, slot, low.xyxy[d], float(low.score[d]))
                matched.add(track.id)
                continued.append(low[d:d + 1].replace(source=np.array([CONTINUED], object),
                                                      track_id=np.array([track.id])))
            for d in idx[track_ids[idx] < 0]:
                track = self._new_track(category, slot, dets.xyxy[d], float(dets.score[d]))
                track_ids[d] = track.id
                matched.add(track.id)
        self._agreed(dets.xyxy, track_ids, low)
        slot.identified = Detections.concat([dets.replace(track_id=track_ids), *continued])
        slot.regions.append(slot.identified)
        self._coast(slot, matched)

    def _agreed(self, boxes: np.ndarray, track_ids: np.ndarray, low: Detections) -> None:
        """Confirm tentative tracks whose detection another model also saw, under its own
        threshold (a ``CANDIDATE`` of the category over the same place)."""
        for track in self.live:
            if track.confirmed or track.id not in track_ids:
                continue
            box = boxes[track_ids == track.id]
            others = low.xyxy[low.category == track.category]
            if len(others) and iou_matrix(box, others).max() >= AGREE_IOU:
                self._confirm(track)

    def _confirm(self, track: Track) -> None:
        track.confirmed = True
        self.tentative.discard(track.id)

    def _associate(self, tracks: list[Track], boxes: np.ndarray, t: float, *,
                   similar_size: bool = False):
        """Greedy (track, box) pairs. ``similar_size``: only boxes within 2x of the track's
        size (side of the square of equal area) may pair."""
        if not tracks or not len(boxes):
            return []
        pred = np.stack([tr.predict(t) for tr in tracks])
        score = iou_matrix(pred, boxes)
        # Body cameras jump: also accept a detection whose centre is near the prediction,
        # scored below any real overlap. Near: one box size, plus what the object may have
        # moved since it was last seen. A track seen once has no motion to predict with yet,
        # so it gets more (FIRST_LINK_SPEED); at most 4 box sizes.
        pc = (pred[:, None, :2] + pred[:, None, 2:]) / 2
        bc = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
        size = np.maximum((pred[:, 2:] - pred[:, :2]).max(axis=1), 1.0)[:, None]
        gate = np.array([min(4.0, 1.0 + (FIRST_LINK_SPEED if tr.detected == 1 else 2.0)
                             * (t - tr.last_time)) for tr in tracks])[:, None]
        near = np.linalg.norm(pc - bc, axis=2) / (size * gate)
        alike = alike_size(pred, boxes)
        # Near but not overlapping: the same object only if about the same size. A 146 px
        # "face" (a hand at the bottom edge) was continued by a 20 px one 250 px away 0.9 s
        # later, and the box interpolated between them swept up to 1.4% of a wide-angle frame.
        score = np.where(score > 0.1, score, np.where((near < 1.0) & alike, 0.1 * (1 - near), 0.0))
        if similar_size:
            score = np.where(alike, score, 0.0)
        pairs = []
        while score.size and score.max() > 0:
            ti, di = np.unravel_index(np.argmax(score), score.shape)
            pairs.append((int(ti), int(di)))
            score[ti, :] = 0
            score[:, di] = 0
        return pairs

    def _new_track(self, category: str, slot: Slot, box: np.ndarray, score: float) -> Track:
        track = Track(self._next_id, category, slot.time, slot.time, box.astype(np.float32),
                      slot.index, slot.index, score=score,
                      confirmed=score >= self.confirm.get(category, 0.0))
        if not track.confirmed:
            self.tentative.add(track.id)
        self._next_id += 1
        self.tracks.append(track)
        self.live.append(track)
        # Temporal padding backwards: the frames just before the detector first fired. The
        # object was somewhere near, not exactly here: the box grows with the time offset.
        self._pad_before(track, lambda dt: box)
        return track

    def _pad_before(self, track: Track, box_at: Callable[[float], np.ndarray]) -> None:
        """Pad the buffered frames up to ``pad_before_s`` before the track's first detection
        with ``box_at(seconds before it)``, grown with that offset."""
        for past in self.buffer:
            dt = track.first_time - past.time
            if past.index < track.first_frame and dt <= self.pad_before_s:
                frac = 0.1 + 0.4 * dt / max(self.pad_before_s, 1e-6)
                self._add(past, track, grow(box_at(dt), frac), "padded")

    def _rematch(self, track: Track, slot: Slot, box: np.ndarray, score: float) -> None:
        if not track.confirmed and (track.detected + 1 >= CONFIRM_HITS
                                    or score >= self.confirm.get(track.category, 0.0)):
            self._confirm(track)  # seen often enough, or now seen clearly
        gap = slot.time - track.last_time
        if 0 < gap <= self.gap_fill_s:
            for past in self.buffer:
                if track.last_time < past.time < slot.time:
                    a = (past.time - track.last_time) / gap
                    # Where it was, now that both ends are known: the coasting and padding
                    # this frame got while the track was lost spanned both positions.
                    _drop(past, track.id, ("tracked", "padded"))
                    self._add(past, track, between(track.box, box, a), "interpolated")
            if track.detected == 1 and min(track.score, score) >= HIGH_SCORE:
                # Second detection: the motion is known now, so the frames padded before the
                # first one also get the box moved back along it. A fast object is elsewhere
                # in those frames, outside the box grown in place (wide-angle moving
                # benchmark: a small plate missed for half a second before it was found).
                # Only between two confident boxes: a weak one (0.1-0.3) may be another thing
                # the gate let through, and the motion is then a jump. A 0.71 "face" taken on
                # by a 0.14 one 680 px away swept its padded box back over a third of a 4K
                # frame; on the real footage's tune half, moving boxes back only between
                # confident detections took paint where nothing is from 0.84% to 0.79%, every
                # readable face as covered (benchmarks/RESULTS.md, *back-padding*).
                velocity = (box - track.box) / gap
                self._pad_before(track, lambda dt: track.box - velocity * dt)
        track.observe(slot.time, box, score, slot.index)


    def _coast(self, slot: Slot, matched: set[int]) -> None:
        t = slot.time
        still_live = []
        for track in self.live:
            if track.id in matched:
                still_live.append(track)
                continue
            dt = t - track.last_time
            alive = False
            if dt <= self.coast_s or self._leaving(track, t):
                # Uncertainty grows with time since the last detection.
                frac = 0.05 + 0.25 * min(1.0, dt / max(self.coast_s, 1e-6))
                self._add(slot, track, grow(track.predict(t), frac), "tracked")
                alive = True
            if dt <= self.pad_after_s:
                frac = 0.1 + 0.4 * dt / max(self.pad_after_s, 1e-6)
                self._add(slot, track, grow(track.box, frac), "padded")
                alive = True
            if alive or dt <= self.gap_fill_s:
                still_live.append(track)  # may still be re-found and gap-filled
            else:
                track.ended = True
                if not track.confirmed:
                    self._rejected.append((t, track.id))
        self.live = still_live

    def _leaving(self, track: Track, t: float) -> bool:
        """Last seen at the frame's edge, moving out through it, and, as predicted now, still
        partly inside: a face or plate crossing the edge is cut, and detectors stop finding
        it long before it has gone (moving benchmark: a face leaked 5 frames at the left
        edge).

        Trap: at the edge is not leaving. A box cut by the bottom edge whose top rose between
        detections (a 0.1-0.16 "person" on a car bonnet, intel_car-detection.mp4) coasted the
        whole 1.5 s on that growth until it was the whole frame. Its centre moves away from
        the edge it touches; a leaving object's centre moves toward it (cut, its box shrinks
        from the inside edge, so the centre moves out at half its speed)."""
        if self.size is None or t - track.last_time > self.edge_coast_s:
            return False
        w, h = self.size
        x1, y1, x2, y2 = track.box
        near = 0.02 * max(w, h)
        v = track.velocity
        cx, cy = (v[0] + v[2]) / 2, (v[1] + v[3]) / 2  # the centre's velocity
        out = ((x1 <= near and cx < 0) or (y1 <= near and cy < 0)
               or (x2 >= w - near and cx > 0) or (y2 >= h - near and cy > 0))
        p = track.predict(t)
        inside = min(p[2], w) > max(p[0], 0) and min(p[3], h) > max(p[1], 0)
        return bool(out and inside)

    @staticmethod
    def _add(slot: Slot, track: Track, box: np.ndarray, source: str) -> None:
        box = np.array(box, np.float32).reshape(1, 4)
        box[:, 2:] = np.maximum(box[:, 2:], box[:, :2])
        slot.regions.append(Detections(box, np.array([track.score]), np.array([track.category],
                                       dtype=object), np.array([source], dtype=object),
                                       np.array([track.id])))
        track.count_fill(source)


# How far (box sizes per second) a track seen once may have moved when it is seen again.
# 8 came from a 27 px plate driving at the camera (58 px between detected frames 0.32 s
# apart); at 30 fps with detection every 4th frame a car crossing a top-down car park moves
# its 25 px plate 65-87 px between detected frames (intel_car-detection.mp4, frames 316-328,
# tune half): 20-26 sizes a second. Unlinked, each detection was its own track, nothing was
# interpolated between them, and the plate leaked on the frames in between.
FIRST_LINK_SPEED = 24.0

# How far an object between two detections may stray from the straight line between them, as
# a share of the distance moved times a(1 - a) (an eighth of it mid-way). Real footage, tune
# half: 0.5 left every readable face as covered as 1 did (the lowest 91.7%) and took the
# paint where nothing is from 0.97% to 0.88%; 0.25 uncovered a face moving across a
# wide-angle frame to 93.9%, and 0 leaked it.
#
# Only the motion grows the box: both ends are detections, which get no growth of their own
# (the render's margin covers where a detector's box misses the object, on every frame
# alike). A further 5% of the size per side, which the box once got on top, made every
# interpolated frame (three in four at the default stride) paint about a quarter more than
# the detected frames around it, and the margin grew on the larger box: real footage, tune
# half 0.89% -> 0.84% painted where nothing is without it, every readable face still
# covered (the lowest interpolated one 93.3%), the moving benchmark unchanged
# (benchmarks/RESULTS.md, *interpolation-growth*).
MOTION_PAD = 0.5


def between(box0: np.ndarray, box1: np.ndarray, a: float) -> np.ndarray:
    """The box a fraction ``a`` of the way from ``box0`` to ``box1``, grown per side by up to
    ``MOTION_PAD`` / 4 of the distance moved (mid-way, where a motion that was not straight
    strays furthest from the line); an object that did not move gets the box as it is.

    >>> between(np.array([0, 0, 10, 10.]), np.array([40, 0, 50, 10.]), 0.5).tolist()
    [15.0, -5.0, 35.0, 15.0]
    >>> between(np.array([0, 0, 10, 10.]), np.array([-5, -5, 15, 15.]), 0.5).tolist()
    [-2.5, -2.5, 12.5, 12.5]
    """
    box = (1 - a) * box0 + a * box1
    c0, c1 = (box0[:2] + box0[2:]) / 2, (box1[:2] + box1[2:]) / 2
    pad = MOTION_PAD * float(np.linalg.norm(c1 - c0)) * a * (1 - a)
    return (box + np.array([-pad, -pad, pad, pad])).astype(np.float32)


def _drop(slot: Slot, track_id: int, sources: tuple[str, ...]) -> None:
    """Remove ``track_id``'s regions of these sources from a buffered slot."""
    # Most regions belong to other tracks: those are kept as they are, not copied (this ran
    # for every buffered slot on every rematch, a tenth of the main thread at 640x360).
    slot.regions = [r[~((r.track_id == track_id) & np.isin(r.source, sources))]
                    if (r.track_id == track_id).any() else r for r in slot.regions]
