"""Follow one box a reviewer drew, frame after frame, until it is lost or leaves the picture.

Median flow (Kalal et al. 2010, built here from OpenCV's pyramidal Lucas-Kanade, so no contrib
module and no model file): a grid of points in the box is followed into the next frame and back
again; the points that come back close to where they started and whose neighbourhood still looks
the same vote for the box's shift (median of their motion) and its change of size (median ratio
of their pairwise distances). The motion of the last frame seeds the search, so a small object
moving fast is not lost at once.

Whether it is still the same object is judged on each frame: the points' forward-backward error
and the normalised correlation of the box's patch with the drawn patch and with the last good
one. ``patience`` poor frames in a row and the object is lost (``BoxFollower.update`` returns
None): a stop shown to the reviewer, who corrects a keyframe and tracks again, rather than a box
drifting onto the background.

Detections, where the caller has them (``redact review`` has the plan's), are anchors: a drawn
box that overlaps a detection on its first frame is tied to it (``Tie``), and each later
detection of that category that agrees with the followed box pulls it part of the way, position
and size, so the flow's drift does not add up; between detections the flow carries it.

Works on grey pictures scaled so the box's short side is about ``WORK_SIDE`` pixels (small boxes
are enlarged, big pictures shrunk): the cost per frame does not grow with the video's size.
Frames are BGR ``numpy`` arrays; boxes ``[x1, y1, x2, y2]`` in the frame's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from redact.detect.detections import iou_matrix

# A detection offered as an anchor: its box (frame pixels) and category.
Anchor = tuple[Sequence[float], str]

WORK_SIDE = 48.0  # the box's short side in working pixels
MAX_WORK = 1280  # the working picture's long side at most
GRID = 10  # points per side of the grid followed in the box
WINDOW = 11  # Lucas-Kanade window, working pixels
PATCH = 9  # side of the patch compared around each point
SEARCH = 2.0  # box sizes around the expected place searched for the templates when flow fails
LEVELS = 3  # pyramid levels: motion up to about WINDOW × 2^LEVELS / 2 working pixels a frame


@dataclass(frozen=True)
class FollowSettings:
    lost_score: float = 0.35  # normalised correlation below which a frame does not match
    patience: int = 3  # this many poor frames in a row: lost
    min_inside: float = 0.5  # less of the box than this inside the picture: left the frame
    refresh: float = 0.7  # a frame matching this well becomes the recent template
    max_fb: float = 2.0  # median forward-backward error (working pixels) above which: poor
    min_points: int = 6  # fewer reliable points than this: poor
    max_zoom: float = 1.1  # the box grows or shrinks by at most this factor a frame
    # Detections as anchors (``Tie``): the drawn box is tied to a detection of its first
    # frame (see ``tie_within``) overlapping it by IoU ``tie_iou``; on later frames, a
    # detection of that category that, placed as the tie says, overlaps the followed box by
    # ``anchor_iou`` pulls the box ``anchor`` of the way to it (position and size). Chosen on
    # the tune objects, where a pull of 0.3-0.7 scored alike; a looser tie (0.3) tied heads
    # seen from behind to faces found in them and lost them as they turned.
    anchor: float = 0.3
    anchor_iou: float = 0.5
    tie_iou: float = 0.5
    # A plan detects on every few frames only (``detect_every``): drawn on a frame without
    # detections, the box is tied on the first of the next ``tie_within`` frames that has one
    # (in the direction followed), by where the flow has carried it.
    tie_within: int = 8


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


@dataclass(frozen=True)
class Flow:
    """What median flow made of one frame: the moved box (working pixels), the median
    forward-backward error of the points and how many points voted."""

    box: np.ndarray
    fb: float
    points: int


def grid_points(box: np.ndarray, n: int = GRID) -> np.ndarray:
    """``n`` × ``n`` points spread over the box, away from its edges.

    >>> grid_points(np.array([0.0, 0.0, 10.0, 20.0]), 2).tolist()
    [[2.5, 5.0], [7.5, 5.0], [2.5, 15.0], [7.5, 15.0]]
    """
    xs = box[0] + (np.arange(n) + 0.5) / n * (box[2] - box[0])
    ys = box[1] + (np.arange(n) + 0.5) / n * (box[3] - box[1])
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def _patch_ncc(a: np.ndarray, b: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Normalised correlation of the ``PATCH`` patches around each pair of points."""
    import cv2

    out = np.empty(len(pa))
    for i, (u, v) in enumerate(zip(pa, pb, strict=True)):
        x = cv2.getRectSubPix(a, (PATCH, PATCH), (float(u[0]), float(u[1]))).astype(np.float32)
        y = cv2.getRectSubPix(b, (PATCH, PATCH), (float(v[0]), float(v[1]))).astype(np.float32)
        out[i] = cv2.matchTemplate(x, y, cv2.TM_CCOEFF_NORMED)[0, 0]
    return out


def median_flow(prev: np.ndarray, img: np.ndarray, box: np.ndarray, shift: np.ndarray,
                max_zoom: float) -> Flow | None:
    """Move ``box`` from ``prev`` to ``img``; ``shift`` is the expected motion (the last
    frame's). None when no point could be followed."""
    import cv2

    p0 = grid_points(box).astype(np.float32)
    lk = {"winSize": (WINDOW, WINDOW), "maxLevel": LEVELS, "flags": cv2.OPTFLOW_USE_INITIAL_FLOW,
          "criteria": (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 0.03)}
    p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, img, p0, (p0 + shift).astype(np.float32), **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(img, prev, p1, p0.copy(), **lk)
    ok = (st1.ravel() == 1) & (st2.ravel() == 1) & np.isfinite(p1).all(axis=1)
    if ok.sum() < 2:
        return None
    p0, p1 = p0[ok].astype(np.float64), p1[ok].astype(np.float64)
    fb = np.linalg.norm(back[ok] - p0, axis=1)
    ncc = _patch_ncc(prev, img, p0, p1)
    # Classic median flow: only the better half by both measures votes.
    keep = (fb <= np.median(fb)) & (ncc >= np.median(ncc))
    if keep.sum() < 2:
        keep = fb <= np.median(fb)
    a, b = p0[keep], p1[keep]
    d = np.median(b - a, axis=0)
    zoom = 1.0
    if len(a) >= 3:
        i, j = np.triu_indices(len(a), 1)
        d0 = np.linalg.norm(a[i] - a[j], axis=1)
        d1 = np.linalg.norm(b[i] - b[j], axis=1)
        far = d0 > 1.0
        if far.any():
            zoom = float(np.clip(np.median(d1[far] / d0[far]), 1 / max_zoom, max_zoom))
    c = (box[:2] + box[2:]) / 2 + d
    half = (box[2:] - box[:2]) / 2 * zoom
    return Flow(np.concatenate([c - half, c + half]), float(np.median(fb)), int(keep.sum()))


def box_iou(a, b) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes (``iou_matrix`` of one each).

    >>> box_iou([0, 0, 10, 10], [5, 0, 15, 10])
    0.3333333333333333
    """
    return float(iou_matrix(np.asarray([a], np.float64), np.asarray([b], np.float64))[0, 0])


@dataclass(frozen=True)
class Tie:
    """How the drawn box sits on a detection of its first frame: the detection's category
    and the box's corners in units of the detection's size from its top-left corner (a head
    drawn around a face box keeps its hair and its forehead on each later face box)."""

    category: str
    corners: np.ndarray

    @classmethod
    def find(cls, box: np.ndarray, anchors: Sequence[Anchor], least: float) -> Tie | None:
        """The tie to the detection overlapping ``box`` most, if by IoU ``least`` or more."""
        best = max(anchors, key=lambda a: box_iou(box, a[0]), default=None)
        if best is None or box_iou(box, best[0]) < least:
            return None
        d = np.asarray(best[0], np.float64)
        size = np.maximum(d[2:] - d[:2], 1e-6)
        return cls(best[1], np.concatenate([(box[:2] - d[:2]) / size,
                                            (box[2:] - d[:2]) / size]))

    def place(self, detection: Sequence[float]) -> np.ndarray:
        """Where the box would be on this detection."""
        d = np.asarray(detection, np.float64)
        size = d[2:] - d[:2]
        return np.concatenate([d[:2] + self.corners[:2] * size, d[:2] + self.corners[2:] * size])

    def seen(self, box: np.ndarray, anchors: Sequence[Anchor], least: float) -> np.ndarray | None:
        """The box as placed on the detection of the tie's category that agrees with ``box``
        best, if by IoU ``least`` or more: a detection of another object nearby is no anchor."""
        placed = [self.place(a[0]) for a in anchors if a[1] == self.category]
        best = max(placed, key=lambda c: box_iou(box, c), default=None)
        return best if best is not None and box_iou(box, best) >= least else None


class BoxFollower:
    """One object through consecutive frames (forwards or backwards, as they are given)."""

    def __init__(self, frame: np.ndarray, box, settings: FollowSettings | None = None,
                 anchors: Sequence[Anchor] = ()) -> None:
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
        self.prev = img
        self.shift = np.zeros(2)
        self.poor = 0
        self.score = 1.0
        self.tie = Tie.find(b, anchors, self.settings.tie_iou)
        self.pulled = 0  # frames on which a detection moved the box
        self.steps = 0

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """The working picture of a frame (grey, scaled): what ``step`` takes. Smaller than
        the frame, so a reader may keep these to go backwards."""
        return working_picture(frame, self.scale)

    def update(self, frame: np.ndarray, anchors: Sequence[Anchor] = ()) -> np.ndarray | None:
        """The box in this frame (frame pixels), or None once the object is lost or gone.
        ``anchors``: the detections of this frame, if any."""
        return self.step(self.prepare(frame), anchors)

    def step(self, img: np.ndarray, anchors: Sequence[Anchor] = ()) -> np.ndarray | None:
        """``update`` on a picture from ``prepare``."""
        s = self.settings
        flow = median_flow(self.prev, img, self.box, self.shift, s.max_zoom)
        self.prev = img
        box = self.box + np.tile(self.shift, 2) if flow is None else flow.box
        if inside_fraction(box, *self.size) < s.min_inside:
            self.box = box
            return None
        score = self._match(img, box)
        good = flow is not None and flow.fb <= s.max_fb and flow.points >= s.min_points
        if not good or score < s.lost_score:
            found = self._search(img, self.box + np.tile(self.shift, 2))
            if found is not None and found[1] >= max(s.refresh, score):
                box, score, good = found[0], found[1], True
        self.score = score
        self.poor = 0 if good and score >= s.lost_score else self.poor + 1
        if self.poor >= s.patience:
            return None
        if self.poor == 0 and score >= s.refresh:
            patch = _patch(img, box)
            if patch is not None:
                self.recent = patch
        self.steps += 1
        if self.tie is None and anchors and self.poor == 0 and self.steps <= s.tie_within:
            self.tie = Tie.find(box / self.scale, anchors, s.tie_iou)
        elif self.tie is not None and anchors and self.poor == 0:
            seen = self.tie.seen(box / self.scale, anchors, s.anchor_iou)
            if seen is not None:
                box = (1 - s.anchor) * box + s.anchor * seen * self.scale
                self.pulled += 1
        self.shift = ((box[:2] + box[2:]) - (self.box[:2] + self.box[2:])) / 2
        self.box = box
        # Given back cut to the picture (the part outside is nowhere to paint, and a head cut
        # by the frame's edge is boxed where it shows), kept whole for the next frame's flow.
        w, h = self.size
        return np.clip(box, 0, [w, h, w, h]) / self.scale

    def _search(self, img: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Where either template matches best within ``SEARCH`` box sizes of ``guess`` (the
        box moved as it last moved), at the box's size: for motion too large for the flow."""
        import cv2

        tw, th = round(float(guess[2] - guess[0])), round(float(guess[3] - guess[1]))
        reach = SEARCH * max(tw, th)
        h, w = img.shape[:2]
        x0, y0 = int(max(0, guess[0] - reach)), int(max(0, guess[1] - reach))
        x1, y1 = int(min(w, guess[2] + reach)), int(min(h, guess[3] + reach))
        if x1 - x0 < tw or y1 - y0 < th or tw < 4 or th < 4:
            return None
        best: tuple[np.ndarray, float] | None = None
        for tpl in (self.recent, self.first):
            t = cv2.resize(tpl, (tw, th), interpolation=cv2.INTER_LINEAR)
            _, val, _, loc = cv2.minMaxLoc(
                cv2.matchTemplate(img[y0:y1, x0:x1], t, cv2.TM_CCOEFF_NORMED))
            if best is None or val > best[1]:
                best = (np.array([x0 + loc[0], y0 + loc[1], x0 + loc[0] + tw, y0 + loc[1] + th],
                                 np.float64), float(val))
        return best

    def _match(self, img: np.ndarray, box: np.ndarray) -> float:
        """How well the patch at ``box`` matches either template (normalised correlation),
        on the part of the box inside the picture."""
        import cv2

        x1, y1, x2, y2 = (round(float(v)) for v in box)
        h, w = img.shape[:2]
        cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if cx2 - cx1 < 4 or cy2 - cy1 < 4:
            return -1.0
        seen = img[cy1:cy2, cx1:cx2]
        best = -1.0
        for tpl in (self.first, self.recent):
            t = cv2.resize(tpl, (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
            best = max(best, _ncc(seen, t[cy1 - y1:cy2 - y1, cx1 - x1:cx2 - x1]))
        return best
