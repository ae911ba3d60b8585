"""Frame slots and the simplest temporal stage (no tracking: regions = detections)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redact.detect.detections import Detections


@dataclass
class Slot:
    """A frame waiting in the look-back buffer. ``regions`` grows as stages add boxes."""

    index: int
    time: float
    detections: Detections | None  # None: detection skipped on this frame
    regions: list[Detections] = field(default_factory=list)
    payload: object = None  # the decoded frame; opaque to the tracker
    # ``detections`` with the track ids the stage gave them (set by the stage on push).
    identified: Detections | None = None
    # Boxes under their category's threshold (``CANDIDATE``): a tracker may continue a track
    # with one (then it is painted, in ``identified``); every other stage ignores them.
    candidates: Detections | None = None
    # (width, height) of the picture as detected, when known: a tracker uses it to follow an
    # object out of the frame.
    size: tuple[int, int] | None = None
    # Applied when the slot leaves the pipeline (``final_regions``), so that a decision taken
    # after the slot's regions were added, such as a track found false, still counts.
    keep: Callable[[Detections], Detections] | None = None

    def final_regions(self) -> Detections:
        """Read it when the stage releases the slot, not later: ``keep`` reflects what the
        stage knows now (a tracker forgets long-rejected tracks)."""
        regions = Detections.concat(self.regions)
        return self.keep(regions) if self.keep is not None else regions


class TemporalStage(Protocol):
    """What the pipeline reads from a stage: the slots ``push``/``flush`` release (in frame
    order, each exactly once, with ``regions`` final), ``identified`` on detected slots, and
    ``tracks`` (objects with ``summary()``) for the audit and the plan."""

    tracks: list

    def push(self, slot: Slot) -> list[Slot]: ...

    def flush(self) -> list[Slot]: ...


class PerFrameStage:
    """Tracking off: each frame is redacted with its own detections and released at once."""

    def __init__(self) -> None:
        self.tracks: list = []

    def push(self, slot: Slot) -> list[Slot]:
        if slot.detections is not None:
            slot.identified = slot.detections
            slot.regions.append(slot.detections)
        return [slot]

    def flush(self) -> list[Slot]:
        return []
