"""The box follower of assisted tracking on synthetic pictures: an object that shrinks while it
moves, a small one moving fast, one that leaves the picture and one that vanishes."""

from __future__ import annotations

import numpy as np

from redact.track.assist import BoxFollower, FollowSettings

W, H = 320, 240


def background(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (H // 8, W // 8, 3)).astype(np.uint8)
    import cv2

    return cv2.GaussianBlur(cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR), (5, 5), 0)


def texture(seed: int = 11, side: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2

    small = rng.integers(0, 256, (side // 4, side // 4, 3)).astype(np.uint8)
    return cv2.resize(small, (side, side), interpolation=cv2.INTER_NEAREST)


def paste(img: np.ndarray, obj: np.ndarray, box: list[float]) -> np.ndarray:
    import cv2

    x1, y1, x2, y2 = (round(v) for v in box)
    out = img.copy()
    patch = cv2.resize(obj, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)
    ix1, iy1, ix2, iy2 = max(0, x1), max(0, y1), min(W, x2), min(H, y2)
    if ix2 > ix1 and iy2 > iy1:
        out[iy1:iy2, ix1:ix2] = patch[iy1 - y1:iy2 - y1, ix1 - x1:ix2 - x1]
    return out


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / u


def follow(frames: list[np.ndarray], first: list[float], settings: FollowSettings | None = None):
    """The follower's boxes from frame 1 on; None from where it stopped."""
    f = BoxFollower(frames[0], first, settings)
    out: list = []
    for img in frames[1:]:
        got = f.update(img)
        out.append(None if got is None else got.tolist())
        if got is None:
            break
    return out + [None] * (len(frames) - 1 - len(out))


def shrinking() -> tuple[list[np.ndarray], list[list[float]]]:
    """A textured square moving right and down while it shrinks from 80 to 40 pixels."""
    bg, obj = background(), texture()
    boxes, frames = [], []
    for i in range(30):
        side = 80 - 40 * i / 29
        cx, cy = 100 + 3 * i, 110 + 1 * i
        box = [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]
        boxes.append(box)
        frames.append(paste(bg, obj, box))
    return frames, boxes


def test_a_shrinking_moving_object_keeps_its_size():
    frames, truth = shrinking()
    got = follow(frames, truth[0])
    assert all(g is not None for g in got)
    scores = [iou(g, t) for g, t in zip(got, truth[1:], strict=True)]
    assert min(scores) >= 0.5, scores
    # The box shrank with the object (a box of the first size would score 0.25 at the end).
    assert scores[-1] >= 0.7


def test_a_small_fast_object_is_not_lost_at_once():
    """A plate-sized object (26x11) moving 17 pixels a frame up and a little left."""
    bg = background(5)
    obj = texture(7, 64)[:26, :]
    truth, frames = [], []
    for i in range(12):
        x, y = 200 - 2 * i, 200 - 17 * i
        box = [x, y, x + 26, y + 11]
        truth.append(box)
        frames.append(paste(bg, obj, box))
    got = follow(frames, truth[0])
    scores = [0.0 if g is None else iou(g, t) for g, t in zip(got, truth[1:], strict=True)]
    assert min(scores) >= 0.5, scores


def test_an_object_leaving_the_picture_stops_it():
    bg, obj = background(9), texture(13, 48)
    truth, frames = [], []
    for i in range(40):
        x = 200 + 6 * i
        truth.append([x, 100, x + 48, 148])
        frames.append(paste(bg, obj, truth[-1]))
    got = follow(frames, truth[0])
    stop = next(i for i, g in enumerate(got) if g is None) + 1  # frame index
    # Followed while half of it or more is inside (x <= 296: frame 16), stopped just after.
    assert stop in (17, 18), stop
    # The boxes given back are cut to the picture, as a hand-made box of what shows would be.
    shown = [[t[0], t[1], min(t[2], W), t[3]] for t in truth]
    assert all(iou(g, t) >= 0.5 for g, t in zip(got[:stop - 1], shown[1:], strict=False))
    assert all(g[2] <= W for g in got[:stop - 1])


def test_an_object_that_vanishes_stops_rather_than_drifts():
    bg, obj = background(4), texture(21, 56)
    box = [120, 90, 176, 146]
    frames = [paste(bg, obj, [box[0] + 2 * i, box[1], box[2] + 2 * i, box[3]]) for i in range(8)]
    other = np.random.default_rng(0).integers(0, 256, (H, W, 3)).astype(np.uint8)
    frames += [other] * 10  # a cut to another scene
    got = follow(frames, box)
    assert all(g is not None for g in got[:7])
    assert got[7 + FollowSettings().patience - 1] is None, got[7:]


def _followed_with(anchors_at, frames: int = 20, box=(100.0, 80.0, 160.0, 150.0)):
    """A still textured object; ``anchors_at(i)`` gives frame i's detections."""
    bg, obj = background(6), texture(17, 64)
    still = paste(bg, obj, list(box))
    f = BoxFollower(still, list(box), anchors=anchors_at(0))
    return [f.update(still, anchors_at(i)) for i in range(1, frames)]


def _grown(box, factor: float) -> list[float]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) / 2 * factor, (box[3] - box[1]) / 2 * factor
    return [cx - hw, cy - hh, cx + hw, cy + hh]


FACE = [105.0, 90.0, 155.0, 145.0]  # inside the drawn box, as a face in a drawn head


def test_a_detection_tied_to_the_drawn_box_pulls_it_in_place_and_size():
    """The detector says the object grows by a fifth over ten frames while the picture (and
    so the flow) stays still: the box follows the detections, keeping how it sat on the first
    one (the hair around the face)."""
    def growing(i: int):
        return [(_grown(FACE, 1 + 0.2 * min(i, 10) / 10), "face")]

    got = _followed_with(growing)
    assert all(g is not None for g in got)
    width = got[-1][2] - got[-1][0]
    assert width >= 60 * 1.15, got[-1]
    # Placed as the drawn box sat on the first detection: centred on the grown one.
    expected = _grown([100.0, 80.0, 160.0, 150.0], 1.2)
    assert iou(got[-1].tolist(), expected) >= 0.9


def test_drawn_between_detections_the_box_is_tied_on_the_next_frame_with_one():
    """A plan detects on every 4th frame: drawn on a frame without detections, the box is tied
    on the next frame that has one, and pulled from then on."""
    def every_fourth(i: int):
        return [(_grown(FACE, 1 + 0.2 * min(i, 12) / 12), "face")] if i % 4 == 2 else []

    got = _followed_with(every_fourth, frames=30)
    # Tied at frame 2 (grown by 1/30), so it ends a little under 1.2 times the drawn size.
    assert got[-1][2] - got[-1][0] >= 60 * 1.12, got[-1]


def test_detections_that_do_not_match_leave_the_box_alone():
    """Another category, or a detection elsewhere (another person's face), is no anchor; nor is
    any detection when the drawn box overlapped none on its own frame."""
    def other_kind(i: int):
        return [(_grown(FACE, 1.2), "plate")] if i else [(FACE, "face")]

    def elsewhere(i: int):
        return [(FACE, "face")] if i == 0 else [([200.0, 90.0, 250.0, 145.0], "face")]

    def untied(i: int):  # nothing on the drawn frame nor on the next ``tie_within``
        return [] if i <= FollowSettings().tie_within else [(_grown(FACE, 1.2), "face")]

    for anchors_at in (other_kind, elsewhere, untied):
        got = _followed_with(anchors_at)
        assert iou(got[-1].tolist(), [100.0, 80.0, 160.0, 150.0]) >= 0.95, anchors_at.__name__
