"""One still image: read → detect → render → write (atomically, without metadata)."""

from __future__ import annotations

from pathlib import Path

from redact.config import Config
from redact.detect.base import DetectorSet
from redact.io.image import read_image, write_image
from redact.render import apply_style
from redact.render.paint import render_boxes
from redact.render.painted import RegionLog


def redact_image(src: Path, dst_tmp: Path, config: Config, detectors: DetectorSet) -> RegionLog:
    image = read_image(src)
    h, w = image.shape[:2]
    with detectors:  # the detectors work side by side, as on video
        found = detectors.start([image], config.still_scale, still=True).result()[0]
    boxes = render_boxes(found, config.margin, w, h)
    apply_style(image, boxes.xyxy, config.style)
    write_image(dst_tmp, image)
    log = RegionLog()
    log.add(0, None, None, boxes)
    return log
