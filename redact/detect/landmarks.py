"""Face boxes widened toward the side a turned face reaches, from the detectors' landmarks.

Both face models box the features (eyes, nose, mouth). On a frontal face the annotated face
(cheek or ear edge to edge) reaches past that box by about a tenth of its width on each side,
which the margin covers. On a turned face all of it lies on one side, up to half the box's
width: the cheek and ear the face turns away from (real footage, tune half; see
``benchmarks/RESULTS.md`` *real-footage-turn*). The nose's offset from the midpoint of the eyes,
along the line through the eyes, in eye distances, tells which side and how far the face
is turned.
"""

from __future__ import annotations

import numpy as np

# Yaw (nose offset from the eyes' midpoint, in eye distances) under which a face is taken as
# frontal: on the tune half's frontal faces the landmarks' own scatter reached 0.12.
FRONTAL_YAW = 0.1
# Boxes scoring under this keep their box. Trap: the landmarks of a 0.1-0.2 "face" (a hand,
# a shelf, the picture's edge) point anywhere; widened, such a box grew enough to pass the
# tracker's size test and continue onto a real face 1000 px away, and the interpolation
# between the two painted a quarter of a 2560x1920 frame. The turned faces of the tune half
# all had a box of 0.9 from YuNet (the two models' boxes are fused: the widest wins).
MIN_SCORE = 0.5


def turn_of(eyes: np.ndarray, nose: np.ndarray) -> np.ndarray:
    """Signed yaw per face, in [-1, 1]: the nose's offset from the eyes' midpoint along the
    line through the eyes, in eye distances; negative when the nose lies toward the picture's
    left (the face turned left, its far cheek on the right). ``eyes`` is (N, 2, 2): two eyes,
    in either order, each (x, y); ``nose`` is (N, 2).

    Trap: measured along x alone, a frontal face whose head is tilted sideways reads as
    turned (its nose lies below the eyes' midpoint, off to the side of it); along the eye
    line it reads frontal.

    >>> eyes = np.array([[[10.0, 20], [30, 20]], [[30, 20], [10, 20]], [[10, 10], [30, 30]]])
    >>> turn_of(eyes, np.array([[20.0, 30], [14, 30], [15, 25]])).astype(float).round(2).tolist()
    [0.0, -0.3, 0.0]
    """
    eyes = np.asarray(eyes, np.float32).reshape(-1, 2, 2)
    line = eyes[:, 1] - eyes[:, 0]
    line *= np.where(line[:, :1] < 0, -1.0, 1.0).astype(np.float32)  # pointing right
    # Trap: in profile the eyes meet; clipping keeps a yaw of "fully turned", not infinity.
    apart = np.maximum((line * line).sum(axis=1), 1e-6)
    offset = np.asarray(nose, np.float32).reshape(-1, 2) - eyes.mean(axis=1)
    return np.clip((offset * line).sum(axis=1) / apart, -1.0, 1.0)


def widen_turned(boxes: np.ndarray, yaw: np.ndarray, score: np.ndarray,
                 reach: float) -> np.ndarray:
    """``boxes`` (N, 4) grown on the side a turned face reaches: by ``reach`` × the box width
    × how far the yaw passes ``FRONTAL_YAW``. Frontal faces, boxes scoring under
    ``MIN_SCORE`` and ``reach`` 0 keep their box.

    >>> widen_turned(np.array([[0.0, 0, 100, 100], [0, 0, 100, 100], [0, 0, 100, 100]]),
    ...              np.array([-0.6, 0.05, 0.6]), np.array([0.9, 0.9, 0.2]), 0.5).tolist()
    [[0.0, 0.0, 125.0, 100.0], [0.0, 0.0, 100.0, 100.0], [0.0, 0.0, 100.0, 100.0]]
    """
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    if reach <= 0 or not len(boxes):
        return boxes
    yaw = np.where(np.asarray(score).reshape(-1) >= MIN_SCORE,
                   np.asarray(yaw, np.float32).reshape(-1), 0.0)
    grow = reach * np.maximum(np.abs(yaw) - FRONTAL_YAW, 0.0) * (boxes[:, 2] - boxes[:, 0])
    boxes[:, 2] += np.where(yaw < 0, grow, 0.0)
    boxes[:, 0] -= np.where(yaw > 0, grow, 0.0)
    return boxes
