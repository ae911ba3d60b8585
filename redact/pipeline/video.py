"""One video: decode → detect → temporal stage → render → encode, with a bounded buffer."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redact.config import Config
from redact.detect.base import DetectorSet, PendingDetections
from redact.errors import ConfigError
from redact.io.spool import Spool
from redact.io.video import Frame, VideoWriter, describe_streams, iter_frames, open_input
from redact.pipeline.frames import RegionLog, render_boxes
from redact.pipeline.orient import quarter_turns, to_display, to_stored
from redact.render import apply_style
from redact.render.styles import apply_style_yuv420
from redact.track import PerFrameStage, Slot, TemporalStage

Progress = Callable[[int, int], None]
DETECT_AHEAD = 3  # frames decoded ahead of the one being painted


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


def make_stage(config: Config) -> TemporalStage:
    """The temporal stage for detected frames. With a detection stride the stage is wrapped
    so every skipped frame is covered whatever the tracking settings and frame rate."""
    stage: TemporalStage
    if not config.tracking:
        stage = PerFrameStage()
    else:
        from redact.track.tracker import TrackingStage

        stage = TrackingStage.from_config(config)
    if config.detect_every > 1:
        from redact.track.stride import StrideCover

        stage = StrideCover(stage)
    return stage


def detect_displayed(detectors: DetectorSet, frame: Frame) -> PendingDetections:
    """Start detection on the picture as displayed; boxes come back in stored coordinates."""
    turns = quarter_turns(frame.rotation)
    job = detectors.start([to_display(frame.bgr(), turns)])
    if turns == 0:
        return job
    w, h = frame.size
    return PendingDetections(lambda: [to_stored(job.result()[0], turns, w, h)])


def exact_records(regions) -> list[dict]:
    """Regions with full float precision (float32 → JSON → float32 is lossless)."""
    return [{"category": str(c), "box": [float(v) for v in b], "score": float(s),
             "source": str(src), "track": int(t)}
            for b, s, c, src, t in zip(regions.xyxy, regions.score, regions.category,
                                       regions.source, regions.track_id, strict=True)]


def paint(frame: Frame, boxes, default_style: str, styles: dict[int, str]) -> None:
    draw = apply_style_yuv420 if frame.pixel_format == "yuv420p" else apply_style
    if not styles:
        draw(frame.pixels, boxes.xyxy, default_style)
        return
    per_box = [styles.get(int(t), default_style) for t in boxes.track_id]
    for style in set(per_box):
        mask = [s == style for s in per_box]
        draw(frame.pixels, boxes.xyxy[mask], style)


def redact_video(src: Path, dst_tmp: Path | None, final_suffix: str, config: Config,
                 detectors: DetectorSet | None, *, progress: Progress | None = None,
                 stage: TemporalStage | None = None, collect_plan: bool = False,
                 audio_ranges: tuple = ()) -> VideoOutcome:
    """Redact ``src`` into ``dst_tmp``. With ``detectors=None`` the stage alone decides
    (rendering from a plan); with ``dst_tmp=None`` nothing is rendered or encoded (planning)."""
    if detectors is None and stage is None:
        # Fail closed: without detectors or a plan nothing would ever be redacted.
        raise ConfigError("redact_video needs detectors or a plan stage to take regions from; "
                          "refusing to encode a video with nothing to redact it")
    outcome = VideoOutcome()
    container = open_input(src)
    writer = None
    if dst_tmp is not None:
        writer = VideoWriter(dst_tmp, final_suffix, container, crf=config.crf,
                             preset=config.encoder_preset, keep_metadata=config.keep_metadata,
                             audio_ranges=audio_ranges)
    if stage is None:
        stage = make_stage(config)
    elif detectors is not None and config.detect_every > 1:
        from redact.track.stride import StrideCover

        if not isinstance(stage, StrideCover):
            stage = StrideCover(stage)
    styles: dict[int, str] = getattr(stage, "styles", {})
    total = int(container.streams.video[0].frames or 0)
    outcome.input_streams = describe_streams(container)
    buffered = 0

    def release(slots: list[Slot]) -> None:
        nonlocal buffered
        for slot in slots:
            frame: Frame = slot.payload  # type: ignore[assignment]
            w, h = frame.size
            regions = slot.final_regions()
            if collect_plan and len(regions):
                outcome.plan_frames.append({"frame": frame.index, "pts": int(frame.pts),
                                            "time": frame.time, "regions": exact_records(regions)})
            boxes = render_boxes(regions, config.margin, w, h)
            if writer is not None:
                paint(frame, boxes, config.style, styles)
                writer.write(frame)
            outcome.log.add(frame.index, frame.pts, frame.time_base, boxes)
            outcome.frames_out += 1
            buffered -= 1
            slot.payload = None  # drop the pixels as soon as they are encoded
            if progress:
                progress(outcome.frames_out, total)

    # Detection runs in worker threads (one per detector) a few frames ahead of rendering and
    # encoding, so the detectors overlap each other, decode, paint and x264 instead of leaving
    # a core idle. A frame is painted only after its own detection has finished.
    pending: deque[tuple[Frame, PendingDetections | None]] = deque()

    def advance(keep: int) -> None:
        while len(pending) > keep:
            frame, job = pending.popleft()
            dets = job.result()[0] if job is not None else None
            release(stage.push(Slot(frame.index, frame.time, dets, payload=frame)))

    try:
        with detectors if detectors is not None else contextlib.nullcontext():
            on_audio = writer.add_audio if writer is not None else (lambda _packet: None)
            last_detected: Frame | None = None
            for frame in iter_frames(container, on_audio):
                outcome.frames_in += 1
                job = None
                if detectors is not None and (
                        last_detected is None
                        or frame.index - last_detected.index >= config.detect_every
                        or frame.time - last_detected.time >= config.detect_gap_s - 1e-6):
                    job = detect_displayed(detectors, frame)
                    outcome.frames_detected += 1
                    last_detected = frame
                pending.append((frame, job))
                buffered += 1
                outcome.max_buffered = max(outcome.max_buffered, buffered)
                advance(DETECT_AHEAD)
            if detectors is not None and pending and pending[-1][1] is None:
                # The last frame is always detected: nothing after it could be carried back.
                frame = pending[-1][0]
                pending[-1] = (frame, detect_displayed(detectors, frame))
                outcome.frames_detected += 1
            advance(0)
        release(stage.flush())
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
    outcome.tracks = [t.summary() for t in getattr(stage, "tracks", [])]
    return outcome
