"""People found by a person detector, as the categories that use them: ``person`` (the box
itself) and ``head`` (the head end of each box, sized by the box's shape).

The constants were chosen on the ``tune`` half of ``benchmarks/real_boxes.json`` only
(benchmarks/heads.py; benchmarks/RESULTS.md, heads-persons)."""

from __future__ import annotations

import numpy as np

from redact.detect.detections import Detections

# A head's share of its person box's height: ``HEAD_PER_ASPECT`` × width / height, within
# [HEAD_SHARE_MIN, HEAD_SHARE_MAX]. A standing person (about 2.5× as tall as wide) has the
# head in the top quarter; a seated one or one cut by the frame's bottom edge (about as wide
# as tall) has it reaching half-way down: on the tune half the head's lower edge lay at up
# to 0.56 of such boxes, and at up to 0.25 of boxes more than twice as tall as wide.
HEAD_PER_ASPECT = 0.7
HEAD_SHARE_MIN = 0.25
HEAD_SHARE_MAX = 0.6
# A head's width: at least this share of the person box's width (centred; arms and a
# sideways lean widen a person box, not the head), and at least the head's height.
HEAD_WIDTH_MIN = 0.6
# Person boxes scoring under LARGE_SCORE that cover more than LARGE_AREA of the frame are
# dropped: at low scores the COCO model boxes whole street scenes and tables as a person
# (car-detection frames 200-324 of the tune half, 91-100% of the frame at 0.10-0.13);
# every true person box of the tune half that large scored over 0.5.
LARGE_SCORE = 0.2
LARGE_AREA = 0.5


def plausible_people(people: Detections, width: int, height: int) -> Detections:
    """Less the low-scoring boxes that cover most of the frame.

    >>> p = Detections.from_lists([[0, 0, 100, 100], [0, 0, 90, 90], [10, 10, 20, 40]],
    ...                           [0.15, 0.6, 0.15], ["person"] * 3)
    >>> plausible_people(p, 100, 100).xyxy.tolist()
    [[0.0, 0.0, 90.0, 90.0], [10.0, 10.0, 20.0, 40.0]]
    """
    if not len(people):
        return people
    wh = people.xyxy[:, 2:] - people.xyxy[:, :2]
    large = wh[:, 0] * wh[:, 1] > LARGE_AREA * width * height
    return people[~(large & (people.score < LARGE_SCORE))]


def head_boxes(people: Detections, category: str = "head") -> Detections:
    """The head end of each person box, labelled ``category``.

    >>> p = Detections.from_lists([[0, 0, 100, 250], [0, 0, 100, 100]], [0.9, 0.8],
    ...                           ["person", "person"])
    >>> head_boxes(p).xyxy.tolist()  # standing: top 28%; cut at the chest: top 60%
    [[15.0, 0.0, 85.0, 70.0], [20.0, 0.0, 80.0, 60.0]]
    """
    if not len(people):
        return people
    x1, y1, x2, y2 = people.xyxy.astype(np.float64).T
    w, h = x2 - x1, np.maximum(y2 - y1, 1e-6)
    share = np.clip(HEAD_PER_ASPECT * w / h, HEAD_SHARE_MIN, HEAD_SHARE_MAX)
    head_h = share * h
    half = np.minimum(w, np.maximum(HEAD_WIDTH_MIN * w, head_h)) / 2
    cx = (x1 + x2) / 2
    xyxy = np.stack([cx - half, y1, cx + half, y1 + head_h], axis=1).astype(np.float32)
    return people.replace(xyxy=xyxy, category=np.full(len(people), category, dtype=object))
