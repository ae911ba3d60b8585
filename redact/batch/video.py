"""One video through the stages: decode → (analyse | replay a plan) → paint → encode, streamed
with a bounded buffer. ``run`` analyses and renders in one pass, ``plan`` analyses only,
``render`` replays a stored plan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redact.config import Config
from redact.detect.base import DetectorSet
from redact.errors import ConfigError
from redact.io.containers import describe_streams
from redact.io.decode import Frame, iter_frames, open_input
from redact.io.encode import VideoWriter
from redact.plan.analyse import AnalysisStats, analyse, replay
from redact.plan.model import FrameEntry, RedactionPlan
from redact.plan.seal import FramesDigest
from redact.render.painted import Painted
from redact.render.video import render_frames
from redact.track import TemporalStage
from redact.track.tracker import CONFIRM_HITS

Progress = Callable[[int, int], None]


@dataclass
class VideoOutcome:
    frames_in: int = 0
    frames_out: int = 0
    frames_detected: int = 0
    max_buffered: int = 0
    input_streams: list[dict] = field(default_factory=list)
    painted: Painted = field(default_factory=Painted)
    warnings: list[str] = field(default_factory=list)
    tracks: list[dict] = field(default_factory=list)
    # Each analysed frame's plan record (frames with regions), for this file's RedactionPlan:
    # kept when planning (the plan file holds them), only hashed when rendering (a long
    # recording's plan grew memory by about 2 kB a region); empty when a plan was replayed.
    plan_frames: list[FrameEntry] = field(default_factory=list)
    frames_digest: FramesDigest = field(default_factory=FramesDigest)


def redact_video(src: Path, dst_tmp: Path | None, final_suffix: str, config: Config,
                 detectors: DetectorSet | None, *, progress: Progress | None = None,
                 plan: RedactionPlan | None = None, stage: TemporalStage | None = None,
                 audio_ranges: tuple = ()) -> VideoOutcome:
    """Redact ``src`` into ``dst_tmp`` from the detectors' analysis, or from ``plan`` (no
    detector runs). With ``dst_tmp=None`` nothing is painted or encoded (planning).
    ``audio_ranges``: an analysis's suggested audio ranges (a plan brings its own)."""
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
                             audio_ranges=plan.audio_ranges if plan is not None
                             else tuple(audio_ranges))
    outcome.input_streams = describe_streams(container)
    stats = AnalysisStats()
    try:
        _stream(container, writer, config, detectors, plan, stage, stats, outcome, progress)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        container.close()
    outcome.warnings.extend(writer.warnings if writer is not None
                            else getattr(container, "notes", []))
    outcome.frames_detected, outcome.max_buffered = stats.frames_detected, stats.max_buffered
    outcome.tracks = stats.tracks
    if stats.unconfirmed:
        outcome.warnings.append(
            f"{stats.unconfirmed} low-score face track(s) were not painted: never confirmed "
            "(each scored under face.confirm_score, no second model agreed, and it was "
            f"detected fewer than {CONFIRM_HITS} times); set face.confirm_score 0 to paint "
            "every detection")
    return outcome


def _stream(container, writer: VideoWriter | None, config: Config,
            detectors: DetectorSet | None, plan: RedactionPlan | None,
            stage: TemporalStage | None, stats: AnalysisStats, outcome: VideoOutcome,
            progress: Progress | None) -> None:
    def counted(frames: Iterator[Frame]) -> Iterator[Frame]:
        for frame in frames:
            outcome.frames_in += 1
            yield frame

    on_audio = writer.add_audio if writer is not None else (lambda _packet: None)
    frames = counted(iter_frames(container, on_audio))
    if plan is not None:
        planned, styles = replay(frames, plan), plan.styles()
    else:
        assert detectors is not None  # checked by redact_video
        planned, styles = analyse(frames, config, detectors, stats, stage), {}
    total = int(container.streams.video[0].frames or 0)
    for _frame, frame_plan in render_frames(planned, writer, config, styles, outcome.painted,
                                            progress=progress, total=total):
        # A replayed plan is already a plan: only an analysis becomes one.
        if plan is None and len(frame_plan.regions):
            entry = FrameEntry.model_validate(frame_plan.to_record(), strict=False)
            outcome.frames_digest.add(entry)
            if writer is None:
                outcome.plan_frames.append(entry)
        outcome.frames_out += 1
    if outcome.frames_out != outcome.frames_in:
        raise RuntimeError(f"internal error: {outcome.frames_in} frames decoded but "
                           f"{outcome.frames_out} encoded")
