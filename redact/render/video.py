"""Paint each frame's plan and encode it: the render half of ``run`` and ``render``. No
detector is loaded here; the frames come with their plans (plan/analyse.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from redact.config import Config
from redact.render.paint import paint, render_boxes
from redact.render.painted import Painted

if TYPE_CHECKING:
    from redact.io.decode import Frame
    from redact.io.encode import VideoWriter
    from redact.plan.analyse import FramePlan

Progress = Callable[[int, int], None]


def render_frames(planned: Iterable[tuple[Frame, FramePlan]], writer: VideoWriter | None,
                  config: Config, styles: dict[int, str], painted: Painted, *,
                  progress: Progress | None = None, total: int = 0,
                  ) -> Iterator[tuple[Frame, FramePlan]]:
    """Paint and encode every planned frame (``writer=None``: only log what would be painted),
    passing each (frame, plan) on so the caller can keep the plan."""
    for done, (frame, frame_plan) in enumerate(planned, 1):
        w, h = frame.size
        boxes = render_boxes(frame_plan.regions, config, w, h)
        if writer is not None:
            paint(frame.pixels, frame.pixel_format, boxes, config.style, styles)
            writer.write(frame)
        painted.add(frame.index, frame.pts, frame.time_base, boxes)
        if progress:
            progress(done, total)
        yield frame, frame_plan
