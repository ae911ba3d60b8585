"""One video: decode → (analyse | replay a plan) → paint → encode, streamed with a bounded
buffer. Analysis lives in plan/analyse.py, painting in render/paint.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from redact.config import Config
from redact.detect.base import DetectorSet
from redact.errors import ConfigError
from redact.io.containers import describe_streams
from redact.io.decode import Frame, iter_frames, open_input
from redact.io.encode import VideoWriter
from redact.io.spool import Spool
from redact.plan.analyse import (  # noqa: F401  (re-exported for callers and tests)
    DETECT_AHEAD,
    AnalysisStats,
    FramePlan,
    analyse,
    detect_displayed,
    make_stage,
    replay,
)
from redact.render.paint import paint, render_boxes
from redact.render.painted import RegionLog
from redact.track import TemporalStage

if TYPE_CHECKING:
    from redact.plan.model import Plan

Progress = Callable[[int, int], None]


@dataclass
class VideoOutcome:
    frames_in: int = 0
    frames_out: int = 0
    frames_detected: int = 0
    max_buffered: int = 0
    input_streams: list[dict] = field(default_factory=list)
    log: RegionLog = field(default_factory=RegionLog)
    warnings: list[str] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)
    plan_frames: Spool = field(default_factory=Spool)


def redact_video(src: Path, dst_tmp: Path | None, final_suffix: str, config: Config,
                 detectors: DetectorSet | None, *, progress: Progress | None = None,
                 plan: Plan | None = None, stage: TemporalStage | None = None,
                 collect_plan: bool = False, audio_ranges: tuple = ()) -> VideoOutcome:
    """Redact ``src`` into ``dst_tmp`` from the detectors' analysis, or from ``plan`` (a
    reviewed plan: no detector runs). With ``dst_tmp=None`` nothing is painted or encoded
    (planning); ``collect_plan`` keeps every frame's plan for the plan file."""
    if (detectors is None) == (plan is None):
        # Fail closed: without detectors or a plan nothing would ever be redacted.
        raise ConfigError("redact_video needs detectors or a plan to take regions from (one "
                          "of them); refusing to encode a video with nothing to redact it")
    outcome = VideoOutcome()
    container = open_input(src)
    writer = None
    if dst_tmp is not None:
        writer = VideoWriter(dst_tmp, final_suffix, container, crf=config.crf,
                             preset=config.encoder_preset, keep_metadata=config.keep_metadata,
                             audio_ranges=audio_ranges)
    total = int(container.streams.video[0].frames or 0)
    outcome.input_streams = describe_streams(container)
    stats = AnalysisStats()

    def counted(frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            outcome.frames_in += 1
            yield frame

    on_audio = writer.add_audio if writer is not None else (lambda _packet: None)
    frames = counted(iter_frames(container, on_audio))
    styles: dict[int, str] = {}
    if plan is not None:
        planned = replay(frames, plan)
        styles = plan.styles()
    else:
        planned = analyse(frames, config, detectors, stats, stage)
    try:
        for frame, frame_plan in planned:
            if collect_plan and len(frame_plan.regions):
                outcome.plan_frames.append(frame_plan.to_record())
            w, h = frame.size
            boxes = render_boxes(frame_plan.regions, config.margin, w, h)
            if writer is not None:
                paint(frame.pixels, frame.pixel_format, boxes, config.style, styles)
                writer.write(frame)
            outcome.log.add(frame.index, frame.pts, frame.time_base, boxes)
            outcome.frames_out += 1
            if progress:
                progress(outcome.frames_out, total)
        if outcome.frames_out != outcome.frames_in:
            raise RuntimeError(f"internal error: {outcome.frames_in} frames decoded but "
                               f"{outcome.frames_out} encoded")
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        container.close()
    if writer is not None:
        outcome.warnings.extend(writer.warnings)
    else:  # planning: what the reader noticed (no writer to pass it on)
        outcome.warnings.extend(getattr(container, "notes", []))
    outcome.frames_detected, outcome.max_buffered = stats.frames_detected, stats.max_buffered
    outcome.tracks = stats.tracks
    return outcome
