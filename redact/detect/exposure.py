"""Dark frames looked at twice: a body camera at night records faces and plates that a viewer
can still make out (and that anyone can brighten in a player), but that the models, trained on
daylight pictures, miss. Each frame whose mean brightness is under ``Config.dark_below`` is
also shown to every detector brightened (a gain that brings its mean to ``TARGET``), and what
either look finds is kept (``DetectorSet``): the brightened look amplifies the sensor's noise
too, and on its own it lost plates that the frame as recorded showed. What is painted and
written is the frame as recorded.
"""

from __future__ import annotations

import numpy as np

# The mean a dark frame is lifted to: the daylight clips of the annotated footage have
# frames of 99-148 of 255 (each clip's median frame; a frame's mean over its pixels).
TARGET = 100.0
# The strongest gain: a near-black frame lifted further is mostly its sensor's noise.
MAX_GAIN = 4.0
# Mean brightness on every STEP-th pixel of every STEP-th row: a frame's mean to within a
# level, at 1/64 of the pixels.
STEP = 8


def brightness(frame: np.ndarray) -> float:
    """Mean of a frame's pixel values (all channels), 0-255, from a subsample."""
    return float(frame[::STEP, ::STEP].mean())


def lift_curve(mean: float) -> np.ndarray:
    """The 256-entry lookup table that brings a frame of this mean brightness to about
    ``TARGET``: a gain of ``TARGET / mean``, at most ``MAX_GAIN``, clipped at white.

    >>> lut = lift_curve(25.0)
    >>> int(lut[0]), int(lut[25]), int(lut[100]), int(lut[255])
    (0, 100, 255, 255)
    """
    gain = float(np.clip(TARGET / max(mean, 1.0), 1.0, MAX_GAIN))
    return np.clip(np.round(np.arange(256) * gain), 0, 255).astype(np.uint8)


def dark_copies(frames: list[np.ndarray], below: float) -> list[np.ndarray | None]:
    """For each frame whose brightness is under ``below``, a brightened copy (``lift_curve``);
    ``None`` for the others. ``below`` 0: none.

    >>> dark, day = np.full((4, 4, 3), 20, np.uint8), np.full((4, 4, 3), 120, np.uint8)
    >>> copies = dark_copies([dark, day], 48.0)
    >>> int(copies[0][0, 0, 0]), copies[1], int(dark[0, 0, 0])
    (80, None, 20)
    """
    if below <= 0:
        return [None] * len(frames)
    import cv2

    return [cv2.LUT(frame, lift_curve(mean)) if (mean := brightness(frame)) < below else None
            for frame in frames]
