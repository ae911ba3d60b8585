"""Tracking stage: follow each face/plate through time, fill gaps, pad, and coast.

Time is in seconds (from pts), so variable-frame-rate footage behaves. The stage can only
*add* regions: every raw detection is always redacted (no initialisation delay), and tracks add
coasting, interpolated and padded boxes on top.

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

    def predict(self, t: float) -> np.ndarray:
        dt = t - self.last_time
        return (self.box + self.velocity * dt).astype(np.float32)

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
                 pad_after_s: float, max_frames: int = 2000) -> None:
        self.coast_s, self.gap_fill_s = coast_s, gap_fill_s
        self.pad_before_s, self.pad_after_s = pad_before_s, pad_after_s
        self.lookback_s = max(gap_fill_s, pad_before_s)
        self.max_frames = max_frames
        self.buffer: deque[Slot] = deque()
        self.tracks: list[Track] = []
        self.live: list[Track] = []
        self._next_id = 1

    @classmethod
    def from_config(cls, config: Config) -> TrackingStage:
        return cls(coast_s=config.coast_s, gap_fill_s=config.gap_fill_s,
                   pad_before_s=config.pad_before_s, pad_after_s=config.pad_after_s)

    # -- the stage interface -------------------------------------------------------------
    def push(self, slot: Slot) -> list[Slot]:
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
    def _release(self, now: float) -> list[Slot]:
        out = []
        while self.buffer and (now - self.buffer[0].time > self.lookback_s
                               or len(self.buffer) > self.max_frames):
            out.append(self.buffer.popleft())
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
        slot.identified = Detections.concat([dets.replace(track_id=track_ids), *continued])
        slot.regions.append(slot.identified)
        self._coast(slot, matched)

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
        # so it gets more (a 27 px plate driving at the camera moved 58 px between two
        # detected frames 0.32 s apart); at most 4 box sizes.
        pc = (pred[:, None, :2] + pred[:, None, 2:]) / 2
        bc = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2
        size = np.maximum((pred[:, 2:] - pred[:, :2]).max(axis=1), 1.0)[:, None]
        gate = np.array([min(4.0, 1.0 + (8.0 if tr.detected == 1 else 2.0) * (t - tr.last_time))
                         for tr in tracks])[:, None]
        near = np.linalg.norm(pc - bc, axis=2) / (size * gate)
        score = np.where(score > 0.1, score, np.where(near < 1.0, 0.1 * (1 - near), 0.0))
        if similar_size:
            side_p = np.sqrt(np.prod(pred[:, 2:] - pred[:, :2], axis=1))[:, None]
            side_b = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))[None, :]
            ratio = np.maximum(side_p, 1e-6) / np.maximum(side_b, 1e-6)
            score = np.where((ratio <= 2.0) & (ratio >= 0.5), score, 0.0)
        pairs = []
        while score.size and score.max() > 0:
            ti, di = np.unravel_index(np.argmax(score), score.shape)
            pairs.append((int(ti), int(di)))
            score[ti, :] = 0
            score[:, di] = 0
        return pairs

    def _new_track(self, category: str, slot: Slot, box: np.ndarray, score: float) -> Track:
        track = Track(self._next_id, category, slot.time, slot.time, box.astype(np.float32),
                      slot.index, slot.index, score=score)
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
        gap = slot.time - track.last_time
        if 0 < gap <= self.gap_fill_s:
            for past in self.buffer:
                if track.last_time < past.time < slot.time:
                    a = (past.time - track.last_time) / gap
                    self._add(past, track, (1 - a) * track.box + a * box, "interpolated")
            if track.detected == 1:
                # Second detection: the motion is known now, so the frames padded before the
                # first one also get the box moved back along it. A fast object is elsewhere
                # in those frames, outside the box grown in place (wide-angle moving
                # benchmark: a small plate missed for half a second before it was found).
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
            if dt <= self.coast_s:
                # Uncertainty grows with time since the last detection.
                frac = 0.05 + 0.25 * dt / max(self.coast_s, 1e-6)
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
        self.live = still_live

    @staticmethod
    def _add(slot: Slot, track: Track, box: np.ndarray, source: str) -> None:
        box = np.array(box, np.float32).reshape(1, 4)
        box[:, 2:] = np.maximum(box[:, 2:], box[:, :2])
        slot.regions.append(Detections(box, np.array([track.score]), np.array([track.category],
                                       dtype=object), np.array([source], dtype=object),
                                       np.array([track.id])))
        track.count_fill(source)
