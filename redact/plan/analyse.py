"""Analysis: decoded frames → detect (on the picture as displayed) → temporal stage → the
plan of each frame, streamed in order once nothing later can change it.

``analyse`` and ``replay`` (a reviewed plan file) yield the same thing, a ``FramePlan`` per
frame, and the renderer (render/video.py) paints whichever it is given. ``run`` is analyse +
render in one pass, ``plan`` is analyse alone, ``render`` is replay + render.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from redact.config import Config
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections, split_candidates
from redact.detect.displayed import detect_displayed_batch
from redact.errors import ConfigError
from redact.io.decode import Frame
from redact.track import PerFrameStage, Slot, TemporalStage

if TYPE_CHECKING:
    from redact.plan.model import RedactionPlan

DETECT_AHEAD = 9  # frames decoded ahead of the one being painted
_WAIT = object()  # a frame chosen for detection whose batch has not been started yet


@dataclass(frozen=True)
class FramePlan:
    """What to paint on one frame: regions before the margin, with why each exists."""

    index: int
    pts: int
    time_base: Fraction | None  # None: a still
    regions: Detections

    @property
    def time(self) -> float | None:
        return None if self.time_base is None else float(self.pts * self.time_base)

    def to_record(self) -> dict[str, Any]:
        """The plan file's ``frames[]`` entry. Full float precision: float32 → JSON →
        float32 is lossless, so rendering an unedited plan paints the very same pixels."""
        r = self.regions
        pts = None if self.time_base is None else int(self.pts)  # a still has no clock
        return {"frame": self.index, "pts": pts, "time": self.time,
                "regions": [{"category": str(c), "box": [float(v) for v in b],
                             "score": float(s), "source": str(src), "track": int(t)}
                            for b, s, c, src, t in zip(r.xyxy, r.score, r.category, r.source,
                                                       r.track_id, strict=True)]}


@dataclass
class AnalysisStats:
    frames_detected: int = 0
    max_buffered: int = 0
    tracks: list[dict] = field(default_factory=list)
    unconfirmed: int = 0  # tentative tracks never confirmed, so never painted


def make_stage(config: Config) -> TemporalStage:
    """The temporal stage for detected frames (``analyse`` adds the stride cover)."""
    if not config.tracking:
        return PerFrameStage()
    from redact.track.tracker import TrackingStage

    return TrackingStage.from_config(config)


def analyse(frames: Iterable[Frame], config: Config, detectors: DetectorSet,
            stats: AnalysisStats, stage: TemporalStage | None = None,
            ) -> Iterator[tuple[Frame, FramePlan]]:
    """Yield every frame with its plan, in order. Memory is bounded by the stage's look-back."""
    if detectors is None:
        # Fail closed: without detectors nothing would ever be redacted.
        raise ConfigError("analysis needs detectors (or render from a plan); refusing to "
                          "encode a video with nothing to redact it")
    stage = stage if stage is not None else make_stage(config)
    if config.detect_every > 1:
        # Every stage, ours or a caller's, is wrapped: with a detection stride the skipped
        # frames are covered whatever the tracking settings and frame rate.
        from redact.track.stride import StrideCover

        if not isinstance(stage, StrideCover):
            stage = StrideCover(stage)
    flow = _Flow(config, detectors, stats, stage)
    with detectors:
        last_detected: Frame | None = None
        for frame in frames:
            entry: list[Any] = [frame, None]
            flow.pending.append(entry)
            if (last_detected is None
                    or frame.index - last_detected.index >= config.detect_every
                    or frame.time - last_detected.time >= config.detect_gap_s - 1e-6):
                flow.want(entry)
                last_detected = frame
            flow.buffered += 1
            stats.max_buffered = max(stats.max_buffered, flow.buffered)
            yield from flow.advance(DETECT_AHEAD)
        if flow.pending and flow.pending[-1][1] is None:
            # The last frame is always detected: nothing after it could be carried back.
            flow.want(flow.pending[-1])
        if flow.batch:
            flow.start_batch()
        yield from flow.advance(0)
    yield from flow.release(stage.flush())
    # A track never confirmed painted nothing (tracker.py): it is not one of the plan's.
    tracks = getattr(stage, "tracks", [])
    stats.tracks = [t.summary() for t in tracks if getattr(t, "confirmed", True)]
    stats.unconfirmed = len(tracks) - len(stats.tracks)


class _Flow:
    """Frames between decode and release.

    Detection runs in worker threads (one per detector) a few frames ahead of rendering and
    encoding, so the detectors overlap each other, decode, paint and x264 instead of leaving a
    core idle. A frame is released only after its own detection has finished. With
    detect_batch N, frames chosen for detection wait (marked _WAIT) until N of them can go to
    each detector in one call; nothing behind a waiting frame is released.
    """

    def __init__(self, config: Config, detectors: DetectorSet, stats: AnalysisStats,
                 stage: TemporalStage) -> None:
        self.config, self.detectors, self.stats, self.stage = config, detectors, stats, stage
        self.pending: deque[list[Any]] = deque()  # [frame, PendingDetections | None | _WAIT]
        self.batch: list[list[Any]] = []
        self.buffered = 0
        self.memory: dict[int, dict] = {}  # this video's detector state (DetectorSet.start)

    def start_batch(self) -> None:
        # Candidates go to the stage apart (Slot.candidates): only a tracker uses them.
        jobs = detect_displayed_batch(self.detectors, [entry[0] for entry in self.batch],
                                      candidates=True, memory=self.memory)
        for entry, job in zip(self.batch, jobs, strict=True):
            entry[1] = job
        self.batch.clear()

    def want(self, entry: list[Any]) -> None:
        entry[1] = _WAIT
        self.batch.append(entry)
        self.stats.frames_detected += 1
        if len(self.batch) >= self.config.detect_batch:
            self.start_batch()

    def release(self, slots: list[Slot]) -> Iterator[tuple[Frame, FramePlan]]:
        for slot in slots:
            frame: Frame = slot.payload  # type: ignore[assignment]
            slot.payload = None  # the stage holds no pixels once released
            self.buffered -= 1
            yield frame, FramePlan(frame.index, frame.pts, frame.time_base,
                                   slot.final_regions())

    def advance(self, keep: int) -> Iterator[tuple[Frame, FramePlan]]:
        while len(self.pending) > keep and self.pending[0][1] is not _WAIT:
            frame, job = self.pending.popleft()
            dets, low = (split_candidates(job.result()[0]) if job is not None
                         else (None, None))
            slot = Slot(frame.index, frame.time, dets, payload=frame, candidates=low,
                        size=frame.size)
            yield from self.release(self.stage.push(slot))


def replay(frames: Iterable[Frame], plan: RedactionPlan) -> Iterator[tuple[Frame, FramePlan]]:
    """Yield every frame with the (reviewed) plan's regions for it; no detector is loaded."""
    seen = 0
    for frame in frames:
        seen += 1
        yield frame, FramePlan(frame.index, frame.pts, frame.time_base,
                               plan.regions_for(frame.index))
    if seen != plan.frame_count:
        raise ConfigError(f"plan has {plan.frame_count} frames but the video decoded {seen}; "
                          "the plan belongs to another version of the file")
