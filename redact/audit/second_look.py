"""A second look at every output: decode what was written, detect again with more sensitive,
differently sized detectors, and flag anything still found outside what was painted.

This checks the *output*, not its hashes. A flagged file is still written (the reviewer needs
it to look), but its audit record says ``review`` with the frames and times to check, and the
batch exits 4 so a scheduled job can hold the release back. Settings: ``verify_output``,
``verify_every``, ``verify_scale``, ``verify_threshold`` (redact/config/model.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redact.config import Config

# A detection counts as painted when this much of its area lies inside painted regions, or its
# centre does: the detector may find the blurred blob where a face was, with a box a little off
# the painted one.
COVERED = 0.5


def second_look_config(config: Config) -> Config:
    """Another look, not a repeat of the first: every detector input scaled by
    ``verify_scale`` (more pixels per face at 1.25), one pass per model, and one threshold,
    ``verify_threshold``, for every category. Against a weakened first pass (high thresholds)
    it is the more sensitive look; against the defaults it looks at a larger scale but asks
    for a confident detection, since the face model's low scores flag crockery, shelves and
    signs in every frame. The second face and screen models are left out: the first pass
    ran them, and their low-confidence finds are the same kind of noise."""
    sections = {cat: {"threshold": config.verify_threshold,
                      "size": min(4096, round(section.size * config.verify_scale))}
                for cat, section in config.sections().items()}
    # One look at another size, not the first pass's extra tiles and passes again: those
    # multiply the cost, and the first pass already had them.
    sections["face"].update(still_tiles=0, second_model=None, person_model=None)
    sections["plate"].update(tile_scale=0.0, small_frame_scale=1.0, vehicle_size=0)
    sections["screen"].update(second_model=None)
    return config.replace(large_frame_tiles=0, still_fine_scale=1.0, **sections)


@dataclass
class SecondLook:
    every: int
    frames_checked: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "review" if self.flagged else "clean"

    def to_dict(self) -> dict[str, Any]:
        times = sorted({f["time"] for f in self.flagged if f.get("time") is not None})
        return {"verdict": self.verdict, "every": self.every,
                "frames_checked": self.frames_checked,
                "frames_flagged": len({f["frame"] for f in self.flagged}),
                "review_times": times[:200], "flagged": self.flagged[:1000],
                "seconds": round(self.seconds, 3), "settings": self.settings}


def painted_by_frame(log_frames: Iterable[dict]) -> dict[int, np.ndarray]:
    """Painted boxes per frame index, from the audit's per-frame region records."""
    return {e["frame"]: np.array([r["box"] for r in e["regions"]], np.float32).reshape(-1, 4)
            for e in log_frames}


def uncovered(found, painted: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mask over ``found`` (Detections): boxes less than COVERED inside the painted union."""
    if not len(found):
        return np.zeros(0, bool)
    mask = np.zeros((height, width), bool)
    for x1, y1, x2, y2 in painted.round().astype(int):
        mask[max(y1, 0):max(y2, 0), max(x1, 0):max(x2, 0)] = True
    out = np.zeros(len(found), bool)
    for i, (x1, y1, x2, y2) in enumerate(found.xyxy):
        xa, ya = int(np.clip(np.floor(x1), 0, width)), int(np.clip(np.floor(y1), 0, height))
        xb, yb = int(np.clip(np.ceil(x2), 0, width)), int(np.clip(np.ceil(y2), 0, height))
        area = max((xb - xa) * (yb - ya), 1)
        cx = int(np.clip((x1 + x2) / 2, 0, width - 1))
        cy = int(np.clip((y1 + y2) / 2, 0, height - 1))
        # The blurred blob of a painted face is sometimes found again with a box reaching
        # well past the paint: its centre is still inside.
        out[i] = not mask[cy, cx] and mask[ya:yb, xa:xb].sum() / area < COVERED
    return out


def _flag(look: SecondLook, index: int, t: float | None, found, painted, w: int, h: int) -> None:
    look.frames_checked += 1
    for k in np.nonzero(uncovered(found, painted, w, h))[0]:
        look.flagged.append({"frame": index, "time": None if t is None else round(t, 3),
                             "category": str(found.category[k]),
                             "box": [round(float(v), 1) for v in found.xyxy[k]],
                             "score": round(float(found.score[k]), 3)})


def look_at_video(path: Path, painted: dict[int, np.ndarray], detectors, *,
                  every: int) -> SecondLook:
    """Decode ``path`` (the written output) and detect on every ``every``-th frame and on the
    last one, on the picture as displayed."""
    from redact.io.decode import iter_frames, open_input

    look = SecondLook(every=every)
    t0 = time.monotonic()
    container = open_input(path)
    last = None
    try:
        with detectors:
            for frame in iter_frames(container, lambda _packet: None):
                last = frame
                if frame.index % every:
                    continue
                _check(look, frame, detectors, painted)
                last = None
            if last is not None:
                _check(look, last, detectors, painted)
    finally:
        container.close()
    look.seconds = time.monotonic() - t0
    return look


def _check(look: SecondLook, frame, detectors, painted: dict[int, np.ndarray]) -> None:
    from redact.detect.displayed import detect_displayed

    found = detect_displayed(detectors, frame).result()[0]
    w, h = frame.size
    _flag(look, frame.index, frame.time, found, painted.get(frame.index, np.zeros((0, 4))),
          w, h)


def look_at_image(path: Path, painted: dict[int, np.ndarray], detectors,
                  scale: float) -> SecondLook:
    from redact.io.image import read_image

    look = SecondLook(every=1)
    t0 = time.monotonic()
    image = read_image(path)
    with detectors:
        found = detectors.start([image], scale, still=True).result()[0]
    h, w = image.shape[:2]
    _flag(look, 0, None, found, painted.get(0, np.zeros((0, 4))), w, h)
    look.seconds = time.monotonic() - t0
    return look
