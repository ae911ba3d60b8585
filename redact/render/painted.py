"""Per-frame region bookkeeping (what was painted) shared by the video and image paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from redact.detect.detections import Detections
from redact.io.spool import Spool


@dataclass
class RegionLog:
    """Counts and per-frame records of what was redacted (goes into the audit record)."""

    frames: Spool = field(default_factory=Spool)  # on disk: flat memory on long videos
    counts: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    frames_with_regions: int = 0

    def add(self, index: int, pts: int | None, time_base, boxes: Detections) -> None:
        if not len(boxes):
            return
        self.frames_with_regions += 1
        for cat in boxes.category:
            self.counts[str(cat)] = self.counts.get(str(cat), 0) + 1
        for src in boxes.source:
            self.by_source[str(src)] = self.by_source.get(str(src), 0) + 1
        entry = {"frame": index, "regions": boxes.to_records()}
        if pts is not None:
            entry.update(pts=int(pts), time_base=str(time_base),
                         time=round(float(pts * time_base), 6))
        self.frames.append(entry)
