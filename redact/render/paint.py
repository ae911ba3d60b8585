"""Painting a frame's plan: boxes grow by the margin, then each is painted in its style."""

from __future__ import annotations

import numpy as np

from redact.detect.detections import Detections
from redact.render.styles import apply_style, apply_style_yuv420


def render_boxes(regions: Detections, margin: float, width: int, height: int) -> Detections:
    """Final boxes to paint: model/tracker boxes grow by ``margin``; manual boxes are exact."""
    if not len(regions):
        return regions
    manual = regions.source == "manual"
    grown = regions[~manual].expanded(margin, width, height)
    return Detections.concat([grown, regions[manual].clipped(width, height)])


def paint(pixels: np.ndarray, pixel_format: str, boxes: Detections, default_style: str,
          styles: dict[int, str]) -> None:
    """Paint ``boxes`` into ``pixels`` in place; ``styles`` overrides the style per track id."""
    draw = apply_style_yuv420 if pixel_format == "yuv420p" else apply_style
    if not styles:
        draw(pixels, boxes.xyxy, default_style)
        return
    per_box = [styles.get(int(t), default_style) for t in boxes.track_id]
    for style in set(per_box):
        mask = np.array([s == style for s in per_box])
        draw(pixels, boxes.xyxy[mask], style)
