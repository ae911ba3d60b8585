"""One video: decode → detect → temporal stage → render → encode, with a bounded buffer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from redact.config import Config
from redact.detect.base import DetectorSet
from redact.io.video import Frame, VideoWriter, describe_streams, iter_frames, open_input
from redact.pipeline.frames import RegionLog, render_boxes
from redact.render import apply_style
from redact.track import PerFrameStage, Slot, TemporalStage

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


def make_stage(config: Config) -> TemporalStage:
    if not config.tracking:
        return PerFrameStage()
    from redact.track.tracker import TrackingStage

    return TrackingStage.from_config(config)


def redact_video(src: Path, dst_tmp: Path, final_suffix: str, config: Config,
                 detectors: DetectorSet | None, *, progress: Progress | None = None,
                 stage: TemporalStage | None = None) -> VideoOutcome:
    """Redact ``src`` into ``dst_tmp``. With ``detectors=None`` the stage alone decides
    (rendering from a plan)."""
    outcome = VideoOutcome()
    container = open_input(src)
    writer = VideoWriter(dst_tmp, final_suffix, container, crf=config.crf,
                         preset=config.encoder_preset, keep_metadata=config.keep_metadata)
    stage = stage or make_stage(config)
    total = int(container.streams.video[0].frames or 0)
    outcome.input_streams = describe_streams(container)
    buffered = 0

    def release(slots: list[Slot]) -> None:
        nonlocal buffered
        for slot in slots:
            frame: Frame = slot.payload  # type: ignore[assignment]
            h, w = frame.image.shape[:2]
            boxes = render_boxes(slot.final_regions(), config.margin, w, h)
            image = frame.image
            apply_style(image, boxes.xyxy, config.style)
            writer.write(frame, image)
            outcome.log.add(frame.index, frame.pts, frame.time_base, boxes)
            outcome.frames_out += 1
            buffered -= 1
            slot.payload = None  # drop the pixels as soon as they are encoded
            if progress:
                progress(outcome.frames_out, total)

    try:
        for frame in iter_frames(container, writer.add_audio):
            outcome.frames_in += 1
            dets = None
            if detectors is not None and frame.index % config.detect_every == 0:
                dets = detectors.detect([frame.image])[0]
                outcome.frames_detected += 1
            buffered += 1
            outcome.max_buffered = max(outcome.max_buffered, buffered)
            release(stage.push(Slot(frame.index, frame.time, dets, payload=frame)))
        release(stage.flush())
        if outcome.frames_out != outcome.frames_in:
            raise RuntimeError(f"internal error: {outcome.frames_in} frames decoded but "
                               f"{outcome.frames_out} encoded")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        container.close()
    outcome.warnings.extend(writer.warnings)
    outcome.tracks = [t.summary() for t in getattr(stage, "tracks", [])]
    return outcome
