"""Overlapping tiles: run a detector on parts of a large frame so small objects reach it at a
usable size, then map its boxes back to frame pixels.

>>> [t.box for t in tile_grid(1000, 400, 2, overlap=0.25)]
[(0, 0, 572, 400), (428, 0, 1000, 400)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from redact.detect.detections import Detections


@dataclass(frozen=True)
class Tile:
    """A window ``[x1, x2) × [y1, y2)`` of the frame, in integer frame pixels."""

    x1: int
    y1: int
    x2: int
    y2: int

    def __post_init__(self) -> None:
        if not (0 <= self.x1 < self.x2 and 0 <= self.y1 < self.y2):
            raise ValueError(f"Tile needs 0 <= x1 < x2 and 0 <= y1 < y2, got {self.box}")

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x1, self.y1, self.x2, self.y2

    def crop(self, frame: np.ndarray) -> np.ndarray:
        return frame[self.y1:self.y2, self.x1:self.x2]

    def to_frame(self, dets: Detections) -> Detections:
        """Boxes in this tile's pixels → the same boxes in frame pixels (a pure shift)."""
        if not len(dets):
            return dets
        shift = np.array([self.x1, self.y1, self.x1, self.y1], np.float32)
        return dets.replace(xyxy=dets.xyxy + shift)


def _spans(length: int, count: int, overlap: float) -> list[tuple[int, int]]:
    """``count`` equal windows covering ``[0, length)``; neighbours share ``overlap`` of a
    window. The last window ends exactly at ``length``."""
    if count <= 1:
        return [(0, length)]
    size = math.ceil(length / (count - (count - 1) * overlap))
    size = min(size, length)
    step = (length - size) / (count - 1)
    return [(round(i * step), round(i * step) + size) for i in range(count)]


OVERLAP = 0.2  # of a tile, shared by neighbouring tiles


def tiles_for_scale(long_side: int, tile_side: float, overlap: float = OVERLAP) -> int:
    """How many tiles ``tile_grid`` needs along ``long_side`` for each to be at most
    ``tile_side`` long.

    >>> tiles_for_scale(2560, 800), tiles_for_scale(1920, 800), tiles_for_scale(700, 800)
    (4, 3, 1)
    """
    return max(1, math.ceil((long_side / tile_side - overlap) / (1 - overlap) - 1e-9))


def tile_grid(width: int, height: int, across: int, overlap: float = OVERLAP) -> list[Tile]:
    """``across`` tiles along the long side and as many along the short side as keep the tiles
    about square; neighbouring tiles overlap by ``overlap`` of a tile, so an object smaller
    than that lies whole inside at least one tile."""
    if width < 1 or height < 1:
        raise ValueError(f"tile_grid needs a positive frame size, got {width}x{height}")
    if across < 1 or not 0.0 <= overlap < 1.0:
        raise ValueError(f"tile_grid needs across >= 1 and 0 <= overlap < 1, got {across}, "
                         f"{overlap}")
    long_side, short_side = max(width, height), min(width, height)
    tile = long_side / (across - (across - 1) * overlap) if across > 1 else long_side
    down = max(1, math.ceil((short_side - overlap * tile) / ((1 - overlap) * tile)))
    nx, ny = (across, down) if width >= height else (down, across)
    return [Tile(x1, y1, x2, y2) for y1, y2 in _spans(height, ny, overlap)
            for x1, x2 in _spans(width, nx, overlap)]


def square_tiles(width: int, height: int) -> list[Tile]:
    """Squares of the frame's short side along its long side, neighbours overlapping by at
    least half a square (so anything up to half the short side lies whole in one of them);
    the first and last reach the frame's ends. A square frame is one tile.

    >>> [t.box for t in square_tiles(640, 480)]
    [(0, 0, 480, 480), (160, 0, 640, 480)]
    >>> [t.box for t in square_tiles(300, 600)]
    [(0, 0, 300, 300), (0, 150, 300, 450), (0, 300, 300, 600)]
    """
    if width < 1 or height < 1:
        raise ValueError(f"square_tiles needs a positive frame size, got {width}x{height}")
    side, long_side = min(width, height), max(width, height)
    count = math.ceil((long_side - side) / (side / 2) - 1e-9) + 1
    starts = [round(i * (long_side - side) / (count - 1)) if count > 1 else 0
              for i in range(count)]
    return [Tile(s, 0, s + side, height) if width >= height else Tile(0, s, width, s + side)
            for s in starts]


CROP_PAD = 0.1  # of a vehicle box, added on each side: a plate on its edge stays whole
MIN_VEHICLE = 16  # px, long side: a vehicle smaller than this has no readable plate
MAX_ZOOM = 4.0  # a vehicle crop is enlarged at most this many times


def vehicle_crops(boxes: np.ndarray, width: int, height: int, target: float,
                  seen: float, limit: int) -> list[tuple[Tile, int]]:
    """The crops around vehicle ``boxes`` (x1, y1, x2, y2 frame pixels) worth a closer look,
    each with the input size (long side, a multiple of 32) that shows it ``target`` px long:
    enlarged at most ``MAX_ZOOM`` times, and only where that is more than 1.25 × ``seen``
    (the scale at which the whole frame was already looked at). At most ``limit`` crops,
    in the order of ``boxes``.

    >>> boxes = np.array([[100, 100, 200, 150], [0, 0, 1000, 500], [5, 5, 10, 10]])
    >>> [(t.box, size) for t, size in vehicle_crops(boxes, 1920, 1080, 480, 0.4, 8)]
    [((90, 95, 210, 155), 480)]
    """
    out: list[tuple[Tile, int]] = []
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        if len(out) >= limit:
            break
        pad_x, pad_y = CROP_PAD * (x2 - x1), CROP_PAD * (y2 - y1)
        tile_box = (max(0, math.floor(x1 - pad_x)), max(0, math.floor(y1 - pad_y)),
                    min(width, math.ceil(x2 + pad_x)), min(height, math.ceil(y2 + pad_y)))
        long_side = max(tile_box[2] - tile_box[0], tile_box[3] - tile_box[1])
        if max(x2 - x1, y2 - y1) < MIN_VEHICLE or long_side < 1:
            continue
        zoom = min(target / long_side, MAX_ZOOM)
        if zoom <= 1.25 * seen:
            continue
        out.append((Tile(*tile_box), max(32, round(long_side * zoom / 32) * 32)))
    return out


def candidate_windows(boxes: np.ndarray, width: int, height: int, side: int,
                      limit: int) -> list[Tile]:
    """Square windows of ``side`` px (cut to the frame) centred on ``boxes`` (best first),
    at most ``limit``; a box whose centre lies in the middle half of a window already
    chosen gets none. Where the plate model takes a closer look at a small frame.

    >>> [t.box for t in candidate_windows(np.array([[90, 90, 110, 100], [100, 92, 104, 96],
    ...                                            [300, 10, 320, 20]]), 400, 200, 100, 4)]
    [(50, 45, 150, 145), (260, 0, 360, 100)]
    """
    side = min(side, width, height)
    out: list[Tile] = []
    for x1, y1, x2, y2 in boxes[:, :4]:
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        if any(abs(cx - (t.x1 + t.x2) / 2) < side / 4 and abs(cy - (t.y1 + t.y2) / 2) < side / 4
               for t in out):
            continue
        left = int(min(max(round(cx - side / 2), 0), width - side))
        top = int(min(max(round(cy - side / 2), 0), height - side))
        out.append(Tile(left, top, left + side, top + side))
        if len(out) >= limit:
            break
    return out
