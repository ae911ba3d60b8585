"""Detection on the picture as displayed (rotation applied), boxes back in stored coordinates:
what analysis and the second look both need."""

from __future__ import annotations

from redact.detect.base import DetectorSet, PendingDetections
from redact.detect.detections import Detections
from redact.detect.orient import quarter_turns, to_display, to_stored
from redact.io.decode import Frame


def detect_displayed(detectors: DetectorSet, frame: Frame) -> PendingDetections:
    """Start detection on the picture as displayed; boxes come back in stored coordinates."""
    return detect_displayed_batch(detectors, [frame])[0]


def detect_displayed_batch(detectors: DetectorSet, frames: list[Frame], *,
                           candidates: bool = False,
                           memory: dict[int, dict] | None = None) -> list[PendingDetections]:
    """One detector call for several frames; one pending result per frame, in order.
    ``candidates``: keep the boxes only a tracker may use (``CANDIDATE``); ``memory``: the
    video's detector state (``DetectorSet.start``)."""
    turns = [quarter_turns(frame.rotation) for frame in frames]
    job = detectors.start([to_display(f.bgr(), t) for f, t in zip(frames, turns, strict=True)],
                          candidates=candidates, memory=memory)
    done: list[list[Detections]] = []

    def one(k: int) -> PendingDetections:
        def collect() -> list[Detections]:
            if not done:
                done.append(job.result())
            dets, turn = done[0][k], turns[k]
            if turn == 0:
                return [dets]
            w, h = frames[k].size
            return [to_stored(dets, turn, w, h)]
        return PendingDetections(collect)

    return [one(k) for k in range(len(frames))]
