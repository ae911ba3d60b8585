"""Text regions with the PP-OCRv4 DB text detector (ONNX, as shipped in rapidocr-onnxruntime).

DB detection: the network outputs a per-pixel text probability map; pixels above
``BIN_THRESH`` form regions, each region's rotated rectangle is scored by its mean probability
(the category threshold applies to that), then grown ("unclipped") because the network
predicts a shrunk text kernel, and returned as an axis-aligned box in frame pixels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.detect.detections import Detections
from redact.detect.onnx_session import make_session, ort_has_cuda
from redact.models import ModelSpec

BIN_THRESH = 0.3  # probability-map binarisation, as in PaddleOCR / RapidOCR
UNCLIP_RATIO = 1.6  # PaddleOCR's default kernel growth
MIN_SIDE = 3  # px in the map: smaller regions are noise
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def input_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Resize so the long side is at most ``long_side`` (never up), dims multiples of 32."""
    scale = min(1.0, long_side / max(width, height))
    w = max(32, round(width * scale / 32) * 32)
    h = max(32, round(height * scale / 32) * 32)
    return w, h


def boxes_from_map(prob: np.ndarray, threshold: float, unclip: float = UNCLIP_RATIO,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """DB post-processing of one probability map (H, W) in [0, 1]: boxes (N, 4) xyxy in map
    pixels and their scores.

    >>> m = np.zeros((64, 64), np.float32); m[20:30, 10:50] = 0.9
    >>> b, s = boxes_from_map(m, 0.5)
    >>> b.round().tolist(), [round(float(v), 2) for v in s]
    ([[4.0, 14.0, 55.0, 35.0]], [0.9])
    """
    bitmap = (prob > BIN_THRESH).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    h, w = prob.shape
    boxes, scores = [], []
    for contour in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
        if min(rw, rh) < MIN_SIDE:
            continue
        # Score: mean probability inside the contour (PaddleOCR's "slow" score).
        x0, y0, cw, ch = cv2.boundingRect(contour)
        mask = np.zeros((ch, cw), np.uint8)
        cv2.fillPoly(mask, [contour.reshape(-1, 2) - [x0, y0]], 1)
        score = float(cv2.mean(prob[y0:y0 + ch, x0:x0 + cw], mask)[0])
        if score < threshold:
            continue
        # Unclip: grow the rectangle by the offset D = A * r / L of the DB paper.
        distance = rw * rh * unclip / (2 * (rw + rh))
        corners = cv2.boxPoints(((cx, cy), (rw + 2 * distance, rh + 2 * distance), angle))
        x1, y1 = corners.min(axis=0)
        x2, y2 = corners.max(axis=0)
        boxes.append([max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)])
        scores.append(score)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32)


class TextDetector:
    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], size: int, device: str) -> None:
        self.categories = categories
        self.threshold = thresholds["text"]
        self.size = size
        self.warnings: list[str] = []
        if device == "cuda" and not ort_has_cuda():
            self.warnings.append(
                "text detector (PP-OCRv4) ran on the CPU: this onnxruntime has no CUDA "
                "provider; install onnxruntime-gpu in place of onnxruntime to use the GPU")
        self.session = make_session(weights, device=device)
        self.input_name = self.session.get_inputs()[0].name

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        return [self._detect_one(frame, scale) for frame in frames]

    def _detect_one(self, frame: np.ndarray, scale: float) -> Detections:
        fh, fw = frame.shape[:2]
        w, h = input_size(fw, fh, round(self.size * scale))
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR if w > fw
                         else cv2.INTER_AREA)
        # PaddleOCR normalises the BGR image with these (RGB-ordered) constants as they are.
        blob = ((img.astype(np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input_name: blob})[0]
        if prob.ndim != 4 or prob.shape[2:] != (h, w):
            raise ValueError(f"text model returned shape {prob.shape}, expected (1, 1, {h}, {w})")
        boxes, scores = boxes_from_map(prob[0, 0], self.threshold)
        if len(boxes):
            boxes *= np.array([fw / w, fh / h, fw / w, fh / h], np.float32)
        return Detections.from_lists(boxes, scores, ["text"] * len(boxes))
