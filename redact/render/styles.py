"""Redaction styles. Every style edits the frame **in place** and covers the whole box.

All three destroy identity rather than soften it: "blur" shrinks the region to a handful of
pixels before smoothing it back up, so its strength grows with the box and no facial detail
survives whatever the box size.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

# How many cells across the longer side of a box survive blur and pixelate.
BLUR_CELLS = 4
PIXEL_CELLS = 6


def _boxes(image: np.ndarray, xyxy: np.ndarray):
    h, w = image.shape[:2]
    for x1, y1, x2, y2 in xyxy:
        # floor/ceil so a fractional box edge never leaves a sliver of original pixels
        ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
        if ix2 > ix1 and iy2 > iy1:
            yield ix1, iy1, ix2, iy2


def _shrunk(roi: np.ndarray, cells: int) -> tuple[int, int]:
    rh, rw = roi.shape[:2]
    scale = cells / max(rh, rw)
    return max(1, round(rw * scale)), max(1, round(rh * scale))


def blur(image: np.ndarray, xyxy: np.ndarray) -> None:
    # Blur at thumbnail scale (cost independent of box size): average down to 4x the cell
    # count, smooth away everything finer than a cell, then scale back up smoothly. A
    # full-size Gaussian with a kernel that grows with the box cost ~40 ms per 1080p frame.
    for x1, y1, x2, y2 in _boxes(image, xyxy):
        roi = image[y1:y2, x1:x2]
        small = cv2.resize(roi, _shrunk(roi, 4 * BLUR_CELLS), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigmaX=2.0, borderType=cv2.BORDER_REFLECT)
        roi[...] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)


def pixelate(image: np.ndarray, xyxy: np.ndarray) -> None:
    for x1, y1, x2, y2 in _boxes(image, xyxy):
        roi = image[y1:y2, x1:x2]
        small = cv2.resize(roi, _shrunk(roi, PIXEL_CELLS), interpolation=cv2.INTER_AREA)
        roi[...] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)


def solid(image: np.ndarray, xyxy: np.ndarray, value: int = 0) -> None:
    for x1, y1, x2, y2 in _boxes(image, xyxy):
        image[y1:y2, x1:x2] = value


STYLES: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "blur": blur,
    "pixelate": pixelate,
    "solid": solid,
}


def apply_style(image: np.ndarray, xyxy: np.ndarray, style: str) -> None:
    """Redact every box of ``xyxy`` (N, 4) in ``image`` in place.

    >>> img = np.full((8, 8, 3), 255, np.uint8)
    >>> apply_style(img, np.array([[2, 2, 4, 4]], np.float32), "solid")
    >>> int(img[3, 3, 0]), int(img[0, 0, 0])
    (0, 255)
    """
    try:
        fn = STYLES[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}") from None
    if len(xyxy):
        fn(image, xyxy)


def apply_style_yuv420(yuv: np.ndarray, xyxy: np.ndarray, style: str) -> None:
    """Redact in place on a planar 4:2:0 picture as PyAV lays it out: shape (h*3/2, w), the Y
    plane then U and V, each (h/2, w/2), stored row-packed.

    Chroma boxes are the luma box halved *outwards*, so colour never survives at an edge.

    >>> yuv = np.full((12, 8), 200, np.uint8)
    >>> apply_style_yuv420(yuv, np.array([[0, 0, 4, 4]], np.float32), "solid")
    >>> int(yuv[1, 1]), int(yuv[1, 6]), int(yuv[8, 0])
    (16, 200, 128)
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")
    if not len(xyxy):
        return
    h = yuv.shape[0] * 2 // 3
    w = yuv.shape[1]
    # Trap: with h/2 odd (270p, 1080p is fine) a chroma plane is not a whole number of rows
    # of the (h*3/2, w) array, so slice the flat buffer (a view: yuv is contiguous).
    flat = yuv.reshape(-1)
    c = (h // 2) * (w // 2)
    y_plane = flat[: h * w].reshape(h, w)
    u_plane = flat[h * w: h * w + c].reshape(h // 2, w // 2)
    v_plane = flat[h * w + c: h * w + 2 * c].reshape(h // 2, w // 2)
    half = np.asarray(xyxy, np.float32).copy()
    half[:, :2] = np.floor(half[:, :2] / 2)
    half[:, 2:] = np.ceil(half[:, 2:] / 2)
    if style == "solid":  # black in limited-range YUV
        solid(y_plane, xyxy, 16)
        solid(u_plane, half, 128)
        solid(v_plane, half, 128)
        return
    fn = STYLES[style]
    fn(y_plane, xyxy)
    fn(u_plane, half)
    fn(v_plane, half)
