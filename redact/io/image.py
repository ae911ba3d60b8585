"""Still images: read (EXIF orientation applied), write atomically without metadata."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.errors import InputError
from redact.io.atomic import write_bytes_atomic


def read_image(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    # IMREAD_COLOR applies the EXIF orientation, so we redact what a viewer shows; the output
    # carries no EXIF at all (no GPS, no orientation to re-apply).
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path.name}: not a readable JPEG/PNG image (corrupt or wrong type)")
    return image


def write_image(path: Path, image: np.ndarray) -> None:
    ext = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise InputError(f"{path.name}: could not encode the redacted image as {ext}")
    write_bytes_atomic(path, buf.tobytes())
