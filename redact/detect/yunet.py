"""YuNet face detector (OpenCV's ``FaceDetectorYN``): a second face model of another family
than CenterFace, so that one model's miss is not a leak."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.detect.base import letterbox_size, op_threads, upscale_cap
from redact.detect.detections import CANDIDATE, Detections
from redact.detect.landmarks import turn_of, widen_turned
from redact.models import ModelSpec


class YuNetDetector:
    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], size: int, device: str,
                 candidate_threshold: float = 0.0, max_upscale: float = 0.0,
                 turn_reach: float = 0.0, **_: object) -> None:
        self.categories = categories
        self.turn_reach = turn_reach  # see detect/landmarks.py
        self.threshold = thresholds["face"]
        # Faces scoring from candidate_threshold up to the threshold come back as CANDIDATE:
        # never painted alone, they confirm a tentative face of the other model
        # (track/tracker.py).
        low = candidate_threshold if 0 < candidate_threshold < self.threshold else None
        self.size = size
        self.max_upscale = max_upscale  # video frames: enlarged at most this (0: to size)
        self.warnings: list[str] = []
        if device == "cuda":
            self.warnings.append("face detector YuNet ran on the CPU (OpenCV DNN)")
        # Process-wide, like the other libraries' pools; one unless capped (op_threads).
        cv2.setNumThreads(op_threads())
        model = np.frombuffer(Path(weights).read_bytes(), dtype=np.uint8)
        # The shipped graph is fixed at 640x640; OpenCV reshapes it per setInputSize.
        self.net = cv2.FaceDetectorYN.create("onnx", model, np.empty(0, np.uint8), (640, 640),
                                             low or self.threshold, 0.3, 5000)
        self._input: tuple[int, int] | None = None

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        return [self._detect_at(frame, self._input_size(frame, scale, still)) for frame in frames]

    def _input_size(self, frame: np.ndarray, scale: float, still: bool) -> int:
        size = round(self.size * scale)
        if still or self.max_upscale <= 0:
            return size
        return min(size, upscale_cap(frame, self.max_upscale))

    def _detect_at(self, frame: np.ndarray, size: int) -> Detections:
        height, width = frame.shape[:2]
        in_w, in_h = letterbox_size(width, height, size)
        interp = cv2.INTER_AREA if in_w < width else cv2.INTER_LINEAR
        resized = np.ascontiguousarray(cv2.resize(frame, (in_w, in_h), interpolation=interp))
        if self._input != (in_w, in_h):
            self.net.setInputSize((in_w, in_h))
            self._input = (in_w, in_h)
        _, faces = self.net.detect(resized)
        if faces is None or not len(faces):
            return Detections.empty()
        x, y, w, h = (faces[:, i] for i in range(4))
        boxes = np.stack([x, y, x + w, y + h], axis=1).astype(np.float32)
        # landmarks follow the box: x, y of the eyes (4-7), nose (8, 9), mouth corners
        boxes = widen_turned(boxes, turn_of(faces[:, 4:8], faces[:, 8:10]), faces[:, -1],
                             self.turn_reach)
        boxes[:, [0, 2]] *= width / in_w
        boxes[:, [1, 3]] *= height / in_h
        # Trap: YuNet returns boxes reaching past the frame; the width can be negative too.
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        found = Detections.from_lists(boxes, faces[:, -1], ["face"] * len(boxes))
        below = faces[:, -1] < self.threshold
        if below.any():
            found = found.replace(source=np.where(below, CANDIDATE, found.source))
        return found.clipped(width, height)
