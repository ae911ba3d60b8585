"""``Detections``: the one data type that crosses the detect → track → render boundaries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANDIDATE = "candidate"


@dataclass(frozen=True)
class Detections:
    """Boxes for one frame, columnar. ``xyxy`` is float32 (N, 4) in frame pixels.

    ``source`` says why a region exists: "detected", "tracked", "interpolated", "padded" or
    "manual". ``track_id`` is -1 where no track owns the box. A detector may also return
    ``CANDIDATE`` boxes (under the category's threshold); only the tracker may use them, and
    ``DetectorSet`` drops them for every other caller.

    >>> d = Detections.from_lists([[0, 0, 10, 10]], [0.9], ["face"])
    >>> len(d), d.expanded(0.5, 100, 100).xyxy.tolist()
    (1, [[0.0, 0.0, 15.0, 15.0]])
    """

    xyxy: np.ndarray
    score: np.ndarray
    category: np.ndarray
    source: np.ndarray
    track_id: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        score = np.asarray(self.score, dtype=np.float32).reshape(-1)
        category = np.asarray(self.category, dtype=object).reshape(-1)
        source = np.asarray(self.source, dtype=object).reshape(-1)
        track_id = np.asarray(self.track_id, dtype=np.int64).reshape(-1)
        for name, arr in (("score", score), ("category", category), ("source", source),
                          ("track_id", track_id)):
            if len(arr) != n:
                raise ValueError(f"Detections.{name} must have shape ({n},), got {arr.shape}")
        if n and not np.all(np.isfinite(xyxy)):
            raise ValueError("Detections.xyxy must be finite")
        if n and np.any(xyxy[:, 2:] < xyxy[:, :2]):
            raise ValueError("Detections.xyxy must satisfy x2 >= x1 and y2 >= y1")
        for name, arr in (("xyxy", xyxy), ("score", score), ("category", category),
                          ("source", source), ("track_id", track_id)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, object), np.zeros(0, object),
                   np.zeros(0, np.int64))

    @classmethod
    def from_lists(cls, boxes, scores, categories, source: str = "detected") -> Detections:
        n = len(boxes)
        return cls(np.asarray(boxes, np.float32).reshape(n, 4), np.asarray(scores),
                   np.asarray(categories, dtype=object), np.full(n, source, dtype=object),
                   np.full(n, -1, dtype=np.int64))

    @classmethod
    def concat(cls, parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.xyxy for p in parts]),
                   np.concatenate([p.score for p in parts]),
                   np.concatenate([p.category for p in parts]),
                   np.concatenate([p.source for p in parts]),
                   np.concatenate([p.track_id for p in parts]))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> Detections:
        if isinstance(index, int | np.integer):
            return Detections(self.xyxy[index], self.score[index], self.category[index],
                              self.source[index], self.track_id[index])
        # A subset (mask, slice, index array) of valid boxes is valid: no checks again. They
        # were a tenth of the main thread's time at 640x360 (the tracker subsets often).
        out = object.__new__(Detections)
        for name in ("xyxy", "score", "category", "source", "track_id"):
            arr = getattr(self, name)[index]
            arr.setflags(write=False)
            object.__setattr__(out, name, arr)
        return out

    def replace(self, **changes) -> Detections:
        values = {"xyxy": self.xyxy, "score": self.score, "category": self.category,
                  "source": self.source, "track_id": self.track_id}
        values.update(changes)
        return Detections(**values)

    def clipped(self, width: int, height: int) -> Detections:
        xyxy = self.xyxy.copy()
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return self.replace(xyxy=xyxy)[keep]

    def expanded(self, margin: float, width: int, height: int) -> Detections:
        """Grow each box by ``margin`` × its size on every side, then clip to the frame."""
        if not len(self):
            return self
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        pad = np.concatenate([wh, wh], axis=1) * margin
        return self.replace(xyxy=self.xyxy + pad * np.array([-1, -1, 1, 1], np.float32)).clipped(
            width, height
        )

    def to_records(self) -> list[dict]:
        return [
            {"category": str(c), "box": [round(float(v), 1) for v in b],
             "score": round(float(s), 3), "source": str(src), "track": int(t)}
            for b, s, c, src, t in zip(self.xyxy, self.score, self.category, self.source,
                                       self.track_id, strict=True)
        ]


def merge_passes(parts: list[Detections], iou_threshold: float) -> Detections:
    """One frame's detections from passes at several input sizes: concatenated, with boxes
    that overlap a higher-scored one by more than ``iou_threshold`` dropped."""
    merged = Detections.concat(parts)
    if len(parts) > 1 and len(merged):
        merged = merged[nms(merged.xyxy, merged.score, iou_threshold)]
    return merged


def plausible(dets: Detections, width: int, height: int) -> Detections:
    """Less the boxes no object of their category makes: a plate scoring under 0.5 that is
    taller than a fifth of the frame's short side and under 1.5 times as wide as tall.
    Plates are at least twice as wide as tall (every box of the shared plate photos), down
    to about 1.5 turned away; one that close to the camera scores high. The plate model
    finds torsos this way (a 313x292 px "plate" over a signer's chest, 49% of the frame).

    >>> d = Detections.from_lists([[100, 150, 400, 450], [10, 10, 60, 30]], [0.2, 0.2],
    ...                           ["plate", "plate"])
    >>> plausible(d, 640, 480).xyxy.tolist()
    [[10.0, 10.0, 60.0, 30.0]]
    """
    if not len(dets):
        return dets
    wh = dets.xyxy[:, 2:] - dets.xyxy[:, :2]
    odd = ((dets.category == "plate") & (dets.score < 0.5)
           & (wh[:, 1] > 0.2 * min(width, height)) & (wh[:, 0] < 1.5 * wh[:, 1]))
    return dets[~odd] if odd.any() else dets


def split_candidates(dets: Detections) -> tuple[Detections, Detections]:
    """(boxes over their threshold, ``CANDIDATE`` boxes)."""
    low = dets.source == CANDIDATE
    return dets[~low], dets[low]


def add_unseen(base: Detections, extra: Detections, iou_threshold: float) -> Detections:
    """``base`` with the boxes of ``extra`` that are no near-duplicate (IoU above
    ``iou_threshold``) of a base box. Base boxes are never dropped, whatever their score: used
    where ``extra`` comes from tiles, whose boxes can be parts of a base box cut by a tile edge.
    """
    if not len(base) or not len(extra):
        return Detections.concat([base, extra])
    iou = iou_matrix(extra.xyxy, base.xyxy)
    return Detections.concat([base, extra[iou.max(axis=1) <= iou_threshold]])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4): shape (N, M)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(xyxy: np.ndarray, score: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first (equal scores in
    index order). A box overlapping a kept one by more than ``iou_threshold`` is dropped."""
    order = np.argsort(-score, kind="stable")
    keep: list[int] = []
    while len(order):
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        order = rest[iou_matrix(xyxy[i][None], xyxy[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def fuse(dets: Detections, iou_threshold: float = 0.5) -> Detections:
    """One box per object when several detectors found it: boxes of one category overlapping
    a higher-scored one by more than ``iou_threshold`` are folded into it, and the kept box
    grows to reach as far as any of them (recall first: fusing never shrinks what is covered).

    >>> d = Detections.from_lists([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]],
    ...                           [0.9, 0.6, 0.8], ["face", "face", "face"])
    >>> fuse(d).xyxy.tolist()
    [[0.0, 0.0, 11.0, 10.0], [50.0, 50.0, 60.0, 60.0]]
    """
    if len(dets) < 2:
        return dets
    xyxy, out = dets.xyxy.copy(), []
    for category in sorted(set(dets.category)):
        order = np.nonzero(dets.category == category)[0]
        order = order[np.argsort(-dets.score[order], kind="stable")]
        while len(order):
            i, rest = order[0], order[1:]
            iou = iou_matrix(dets.xyxy[i][None], dets.xyxy[rest])[0]
            group = rest[iou > iou_threshold]
            if len(group):
                xyxy[i, :2] = np.minimum(xyxy[i, :2], xyxy[group, :2].min(axis=0))
                xyxy[i, 2:] = np.maximum(xyxy[i, 2:], xyxy[group, 2:].max(axis=0))
            out.append(int(i))
            order = rest[iou <= iou_threshold]
    keep = np.array(sorted(out), dtype=np.int64)
    return dets.replace(xyxy=xyxy)[keep]

