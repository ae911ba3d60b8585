"""Follow one box a reviewer drew, frame after frame, until it is lost or leaves the picture.

OpenCV's MIL tracker (``cv2.TrackerMIL_create``: no model file, nothing downloaded) proposes
where the object moved; a template check then (1) refines the position and the size among a few
scales with ``cv2.matchTemplate`` around that proposal and (2) decides whether it is still the
same object: the normalised correlation of the new patch with the drawn patch and with the last
accepted one. Below ``lost_score`` for ``patience`` frames in a row the object is lost and the
frames since the last good one are given back (``BoxFollower.update`` returns None).

Works on grey pictures scaled so the box's short side is about ``WORK_SIDE`` pixels (small boxes
are enlarged, big pictures shrunk): the cost per frame does not grow with the video's size.
Frames are BGR ``numpy`` arrays; boxes ``[x1, y1, x2, y2]`` in the frame's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WORK_SIDE = 48.0  # the box's short side in working pixels
MAX_WORK = 1280  # the working picture's long side at most
SCALES = (0.94, 1.0, 1.06)
SEARCH = 0.6  # the template search reaches this fraction of the box size around MIL's guess


@dataclass(frozen=True)
class FollowSettings:
    lost_score: float = 0.35  # normalised correlation below which a frame does not match
    patience: int = 3  # this many poor frames in a row: lost
    min_inside: float = 0.5  # less of the box than this inside the picture: left the frame
    refresh: float = 0.7  # a frame matching this well becomes the recent template


def working_scale(box: np.ndarray, shape: tuple[int, ...]) -> float:
    short = max(2.0, float(min(box[2] - box[0], box[3] - box[1])))
    s = WORK_SIDE / short
    return float(min(s, MAX_WORK / max(shape[0], shape[1]), 4.0))


def working_picture(frame: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    g = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    if abs(scale - 1.0) > 1e-3:
        g = cv2.resize(g, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return g


def _patch(img: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    h, w = img.shape[:2]
    if x1 < 0 or y1 < 0 or x2 > w or y2 > h or x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return img[y1:y2, x1:x2]


def inside_fraction(box: np.ndarray, w: int, h: int) -> float:
    iw = max(0.0, min(box[2], w) - max(box[0], 0.0))
    ih = max(0.0, min(box[3], h) - max(box[1], 0.0))
    area = max(1e-6, float((box[2] - box[0]) * (box[3] - box[1])))
    return iw * ih / area


def _ncc(a: np.ndarray | None, b: np.ndarray | None) -> float:
    import cv2

    if a is None or b is None:
        return -1.0
    if a.shape != b.shape:
        b = cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_LINEAR)
    return float(cv2.matchTemplate(a, b, cv2.TM_CCOEFF_NORMED)[0, 0])


class BoxFollower:
    """One object through consecutive frames (forwards or backwards, as they are given)."""

    def __init__(self, frame: np.ndarray, box, settings: FollowSettings | None = None) -> None:
        import cv2

        self.settings = settings or FollowSettings()
        b = np.asarray(box, np.float64)
        self.scale = working_scale(b, frame.shape)
        img = working_picture(frame, self.scale)
        self.size = (img.shape[1], img.shape[0])
        self.box = b * self.scale  # working pixels
        self.first = _patch(img, self.box)
        if self.first is None:
            self.first = img[max(0, int(self.box[1])):int(self.box[3]) + 1,
                             max(0, int(self.box[0])):int(self.box[2]) + 1]
        self.recent = self.first
        self.poor = 0
        self.score = 1.0
        self._mil = cv2.TrackerMIL_create()
        self._mil.init(img, self._rect(self.box))

    @staticmethod
    def _rect(box: np.ndarray) -> tuple[int, int, int, int]:
        return (round(float(box[0])), round(float(box[1])), max(2, round(float(box[2] - box[0]))),
                max(2, round(float(box[3] - box[1]))))

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The working picture of a frame (grey, scaled): what ``step`` takes. Smaller than
        the frame, so a reader may keep these to go backwards."""
        return working_picture(frame, self.scale)

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        """The box in this frame (frame pixels), or None once the object is lost or gone."""
        return self.step(self.prepare(frame))

    def step(self, img: np.ndarray) -> np.ndarray | None:
        """``update`` on a picture from ``prepare``."""
        ok, rect = self._mil.update(img)
        guess = self.box.copy()
        if ok:
            x, y, w, h = rect
            cx, cy = x + w / 2, y + h / 2
            bw, bh = self.box[2] - self.box[0], self.box[3] - self.box[1]
            guess = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        box, score = self._search(img, guess, (guess, self._match(img, guess)))
        if inside_fraction(box, *self.size) < self.settings.min_inside:
            return None
        self.score = score
        self.poor = self.poor + 1 if score < self.settings.lost_score else 0
        if self.poor >= self.settings.patience:
            return None
        if self.poor == 0 and score >= self.settings.refresh:
            patch = _patch(img, box)
            if patch is not None:
                self.recent = patch
        if abs((box[2] - box[0]) - (self.box[2] - self.box[0])) > 0.5 or np.abs(
                box - guess).max() > 2:
            self._reinit(img, box)
        self.box = box
        return box / self.scale

    def _reinit(self, img: np.ndarray, box: np.ndarray) -> None:
        import cv2

        self._mil = cv2.TrackerMIL_create()
        self._mil.init(img, self._rect(box))

    def _match(self, img: np.ndarray, box: np.ndarray) -> float:
        """How well the patch at ``box`` matches either template (normalised correlation)."""
        patch = _patch(img, box)
        return max(_ncc(self.first, patch), _ncc(self.recent, patch))

    def _search(self, img: np.ndarray, guess: np.ndarray,
                best: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
        """The best (box, correlation) among ``best`` and the positions and scales of either
        template near ``guess`` (MIL's proposal)."""
        import cv2

        bw, bh = guess[2] - guess[0], guess[3] - guess[1]
        h, w = img.shape[:2]
        for s in SCALES:
            tw, th = round(float(bw * s)), round(float(bh * s))
            if tw < 4 or th < 4:
                continue
            cx, cy = (guess[0] + guess[2]) / 2, (guess[1] + guess[3]) / 2
            rx, ry = SEARCH * bw + tw / 2, SEARCH * bh + th / 2
            x0, y0 = int(max(0, cx - rx)), int(max(0, cy - ry))
            x1, y1 = int(min(w, cx + rx)), int(min(h, cy + ry))
            if x1 - x0 < tw or y1 - y0 < th:
                continue
            region = img[y0:y1, x0:x1]
            for tpl in (self.recent, self.first):
                t = cv2.resize(tpl, (tw, th), interpolation=cv2.INTER_LINEAR)
                res = cv2.matchTemplate(region, t, cv2.TM_CCOEFF_NORMED)
                _, val, _, loc = cv2.minMaxLoc(res)
                if val > best[1] + 0.02 * (s != 1.0):
                    best = (np.array([x0 + loc[0], y0 + loc[1], x0 + loc[0] + tw,
                                      y0 + loc[1] + th], np.float64), float(val))
        return best
