"""What rendering actually painted, frame by frame: the audit record and the second look read
this, never the plan's intentions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from redact.detect.detections import Detections
from redact.io.spool import Spool


@dataclass
class Painted:
    """Per-frame painted boxes (after the margin) and their counts.

    ``records`` goes into the audit record (on disk: flat memory on long videos); ``boxes``
    keeps only the painted rectangles per frame index, for the second look.
    """

    records: Spool = field(default_factory=Spool)
    boxes: dict[int, np.ndarray] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    frames_with_regions: int = 0

    def add(self, index: int, pts: int | None, time_base, boxes: Detections) -> None:
        if not len(boxes):
            return
        self.frames_with_regions += 1
        self.boxes[index] = boxes.xyxy.astype(np.float32, copy=True)
        for cat in boxes.category:
            self.counts[str(cat)] = self.counts.get(str(cat), 0) + 1
        for src in boxes.source:
            self.by_source[str(src)] = self.by_source.get(str(src), 0) + 1
        entry = {"frame": index, "regions": boxes.to_records()}
        if pts is not None:
            entry.update(pts=int(pts), time_base=str(time_base),
                         time=round(float(pts * time_base), 6))
        self.records.append(entry)
