"""Detection stage: frames in, ``Detections`` out. Backends load lazily by name."""

from redact.detect.detections import Detections

__all__ = ["Detections"]
