"""Detect on the picture as displayed, paint on the picture as stored.

Phones and some body cameras store frames sideways and tag the stream with a display rotation
(``Frame.rotation``: degrees the picture is turned counterclockwise for display, -90 for the
usual portrait phone video). Detectors are trained on upright faces and plates, so they get
the displayed picture; their boxes are mapped back onto the stored frame, which is what we
paint and encode (the output keeps the same rotation tag).
"""

from __future__ import annotations

import numpy as np

from redact.detect.detections import Detections


def quarter_turns(rotation: int) -> int:
    """Counterclockwise quarter turns from stored to displayed (0..3)."""
    return round(rotation / 90) % 4


def to_display(image: np.ndarray, turns: int) -> np.ndarray:
    if turns == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, turns))


def to_stored(dets: Detections, turns: int, width: int, height: int) -> Detections:
    """Map boxes found on the displayed picture back to the stored ``width`` × ``height`` frame.

    >>> d = Detections.from_lists([[1, 2, 3, 5]], [0.9], ["face"])
    >>> to_stored(d, 1, 10, 8).xyxy.tolist()  # displayed (u, v) = stored (W - v ... )
    [[5.0, 1.0, 8.0, 3.0]]
    """
    if turns == 0 or not len(dets):
        return dets
    u1, v1, u2, v2 = (dets.xyxy[:, k] for k in range(4))
    if turns == 1:  # displayed (u, v) came from stored (W - v, u)
        xyxy = np.stack([width - v2, u1, width - v1, u2], axis=1)
    elif turns == 2:  # from (W - u, H - v)
        xyxy = np.stack([width - u2, height - v2, width - u1, height - v1], axis=1)
    else:  # from (v, H - u)
        xyxy = np.stack([v1, height - u2, v2, height - u1], axis=1)
    return dets.replace(xyxy=xyxy.astype(np.float32))
