"""Temporal stage between detection and rendering.

A ``TemporalStage`` receives frames in order (with detections, or ``None`` on frames where
detection was skipped) and releases them, with their final redaction regions, once nothing
later can change them. ``lookback`` is how many frames it may still hold; the pipeline's frame
buffer is exactly that deep, so memory is bounded whatever the video length.
"""

from redact.track.slots import PerFrameStage, Slot, TemporalStage

__all__ = ["PerFrameStage", "Slot", "TemporalStage"]
