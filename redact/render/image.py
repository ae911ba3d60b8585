"""One still, from its one-frame plan: paint and write (atomically, without metadata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from redact.config import Config
from redact.detect.detections import Detections
from redact.io.image import write_image
from redact.render.paint import paint, render_boxes
from redact.render.painted import Painted


def render_image(image: np.ndarray, regions: Detections, dst_tmp: Path, config: Config,
                 styles: dict[int, str]) -> Painted:
    h, w = image.shape[:2]
    boxes = render_boxes(regions, config, w, h)
    paint(image, "bgr24", boxes, config.style, styles)
    write_image(dst_tmp, image)
    painted = Painted()
    painted.add(0, None, None, boxes)
    return painted
