"""Painting a frame's plan: boxes grow by the margin, then each is painted in its style."""

from __future__ import annotations

import numpy as np

from redact.config import Config
from redact.detect.detections import Detections
from redact.render.styles import apply_style, apply_style_yuv420


def render_boxes(regions: Detections, config: Config, width: int, height: int) -> Detections:
    """Final boxes to paint: model/tracker boxes grow by ``margin`` × their size on every
    side, but faces by ``face.margin_above`` / ``face.margin_below`` times less above and
    below (never less than a face ``face.margin_full_height`` px tall); manual boxes are
    exact. Boxes keep their order (blur over overlapping boxes depends on it).

    >>> d = Detections.from_lists([[100, 100, 200, 200], [0, 0, 10, 10], [300, 300, 310, 310]],
    ...                           [0.9, 0.9, 0.9], ["face", "plate", "face"])
    >>> render_boxes(d, Config(), 1000, 1000).xyxy.tolist()
    [[80.0, 90.0, 220.0, 210.0], [0.0, 0.0, 12.0, 12.0], [298.0, 298.0, 312.0, 312.0]]
    """
    if not len(regions):
        return regions
    manual = regions.source == "manual"
    auto = regions[~manual]
    face = auto.category == "face"
    wh = auto.xyxy[:, 2:] - auto.xyxy[:, :2]
    w, h, m, f = wh[:, 0], wh[:, 1], config.margin, config.face
    floor = np.minimum(h, f.margin_full_height)  # the height whose whole margin is the least
    above = np.where(face, np.maximum(f.margin_above * h, floor), h) * m
    below = np.where(face, np.maximum(f.margin_below * h, floor), h) * m
    pad = np.stack([w * m, above, w * m, below], axis=1)
    grown = auto.replace(xyxy=auto.xyxy + pad * np.array([-1, -1, 1, 1], np.float32))
    return Detections.concat([grown.clipped(width, height),
                              regions[manual].clipped(width, height)])


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
