"""Still images: read (EXIF orientation applied), write atomically without metadata."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np

from redact.errors import InputError
from redact.io.atomic import write_bytes_atomic

# About 300 MB as 8-bit BGR, before the detectors' copies; larger stills are refused up front.
MAX_IMAGE_PIXELS = 100_000_000


def read_image(path: Path) -> np.ndarray:
    """8-bit BGR as a viewer shows the image: EXIF orientation applied, CMYK/grey/16-bit
    converted, transparency flattened onto white."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    size = image_size(data[:256 * 1024].tobytes())
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise InputError(f"{path.name}: image is {size[0]}x{size[1]}, larger than redact "
                         f"handles ({MAX_IMAGE_PIXELS / 1e6:.0f} megapixels); scale it down "
                         "first and redact that")
    # IMREAD_COLOR applies the EXIF orientation and gives 8-bit BGR from CMYK, grey and
    # 16-bit input, so we redact what a viewer shows; the output carries no EXIF at all (no
    # GPS, no orientation to re-apply).
    raw = data.tobytes()
    if raw[:2] == b"\xff\xd8" and not jpeg_complete(raw):
        # Older OpenCV decodes a cut JPEG and fills the rest with grey, without a word.
        raise InputError(f"{path.name}: JPEG is truncated (no end-of-image marker); use a "
                         "complete copy of the file")
    _refuse_many_pictures(path, raw)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path.name}: not a readable image (corrupt, truncated or wrong "
                         "type); check it opens in an image viewer, or use a complete copy")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:  # formats whose size we cannot peek
        raise InputError(f"{path.name}: image is {image.shape[1]}x{image.shape[0]}, larger "
                         f"than redact handles ({MAX_IMAGE_PIXELS / 1e6:.0f} megapixels); scale "
                         "it down first and redact that")
    if _may_have_alpha(data):
        image = _flatten_alpha(path, data, image)
    return image


def _refuse_many_pictures(path: Path, raw: bytes) -> None:
    """Trap: a TIFF may hold several pages and a WebP several animation frames, and OpenCV
    decodes the first one only: the output would silently drop the rest (which redact never
    looked at). One picture per still, or a clear refusal."""
    tiff = raw[:4] in (b"II*\x00", b"MM\x00*")
    animated = raw[:4] == b"RIFF" and raw[8:12] == b"WEBP" and b"ANIM" in raw[:4096]
    if not (tiff or animated):
        return
    count = cv2.imcount(str(path))  # counts pages without decoding them
    if count > 1:
        kind = "a multi-page TIFF" if tiff else "an animated WebP"
        raise InputError(f"{path.name}: {kind} ({count} pictures); redact takes one "
                         "picture per file: save each page or frame as its own image and "
                         "redact those")


def _may_have_alpha(data: np.ndarray) -> bool:
    """Whether the picture may carry transparency: a PNG says so in its header; TIFF, BMP
    and WebP are decoded once more to see (JPEG never has any)."""
    head = data[:64 * 1024].tobytes()
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return head[25] in (4, 6) or b"tRNS" in head
    return head[:2] != b"\xff\xd8"


def _flatten_alpha(path: Path, data: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    # Trap: IMREAD_COLOR simply drops alpha, which would release pixels that were invisible
    # in the original (content hidden under full transparency). Composite onto white instead.
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.ndim != 3 or raw.shape[2] not in (2, 4):
        return bgr
    if raw.shape[:2] != bgr.shape[:2]:
        raise InputError(f"{path.name}: transparent image with an orientation tag is not "
                         "supported; save it without transparency and redact that")
    alpha = raw[..., -1].astype(np.float32)
    alpha /= 65535.0 if raw.dtype == np.uint16 else 255.0
    alpha = alpha[..., None]
    flat = bgr.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(flat), 0, 255).astype(np.uint8)


def image_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding pixels, else None.

    >>> image_size(b"\\x89PNG\\r\\n\\x1a\\n" + b"\\0\\0\\0\\rIHDR" + struct.pack(">II", 640, 480))
    (640, 480)
    """
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack(">II", head[16:24])
    if head[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", head[pos + 2:pos + 4])
        # Start-of-frame markers (all but DHT C4, JPG C8, DAC CC) carry the size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[pos + 5:pos + 9])
            return (width, height)
        pos += 2 + length
    return None


def jpeg_complete(data: bytes) -> bool:
    """Whether the JPEG's segments and scans run through to an end-of-image marker (data
    after it, such as an appended motion-photo video, is allowed).

    >>> jpeg_complete(b"\\xff\\xd8\\xff\\xda\\x00\\x02\\x12\\xff\\x00\\x34\\xff\\xd9")
    True
    >>> jpeg_complete(b"\\xff\\xd8\\xff\\xda\\x00\\x02\\x12\\xff\\x00\\x34")
    False
    """
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pos += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        pos += 2 + length
        if marker != 0xDA:
            continue
        # Entropy-coded data runs to the next marker that is not a stuffed 0xFF00 or a
        # restart marker.
        while True:
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= len(data):
                return False
            nxt = data[pos + 1]
            if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                pos += 2
                continue
            break
    return pos + 2 <= len(data) and data[pos:pos + 2] == b"\xff\xd9"


# JPEG and (lossy) WebP at the same quality; PNG, TIFF and BMP are lossless.
WRITE_PARAMS = {".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
                ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95]}


def write_image(path: Path, image: np.ndarray) -> None:
    ext = path.suffix.lower()
    params = WRITE_PARAMS.get(ext, [])
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise InputError(f"{path.name}: could not encode the redacted image as {ext}")
    write_bytes_atomic(path, buf.tobytes())
