"""YOLO weights run by ONNX Runtime on the CPU: the same network as ultralytics' torch path at
about half its CPU time (plate model, one 1080p frame at 800 px: 131 ms against 269 ms with
the single torch thread ultralytics leaves on a 2-core machine).

The ``.pt`` file stays the verified artefact (its sha256 is pinned in the registry); the ONNX
graph is derived from it once, by ultralytics' exporter, and cached beside the model cache
under a name that carries the ``.pt`` file's sha256 and the exporter's version. Pre- and
post-processing follow ultralytics' ``predict`` (minimal-padding letterbox, class-aware NMS at
IoU 0.7), so both paths give the same boxes up to float rounding (tests/test_detect.py).
"""

from __future__ import annotations

import ast
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np

from redact.detect.detections import nms
from redact.detect.onnx_session import make_session, run_batch
from redact.io.atomic import copy_atomic

STRIDE = 32
NMS_IOU = 0.7  # ultralytics' predict default
MAX_DET = 300
PAD_VALUE = 114


def derived_dir() -> Path:
    from redact.models.cache import default_cache_dir

    return default_cache_dir() / "derived"


def export_onnx(weights: Path, sha256: str) -> Path:
    """The cached ONNX graph for ``weights`` (a YOLO ``.pt`` already verified to have
    ``sha256``), exported on first use.

    Export runs in a private temporary folder and the result is renamed into place, so
    workers exporting at the same time never read a half-written graph."""
    # The exporter's version from the package metadata: importing ultralytics (and torch)
    # only to read it would cost every start, though the graph is usually cached.
    name = f"{weights.stem}-{sha256[:16]}-ul{version('ultralytics')}.onnx"
    target = derived_dir() / name
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".probe-"):
            pass
    except OSError:
        # A read-only model folder (shared storage on a cluster): derive into local temp.
        target = Path(tempfile.gettempdir()) / "redact-derived" / name
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="redact-export-", dir=target.parent) as tmp:
        from redact.detect.ultralytics_env import quiet_ultralytics

        quiet_ultralytics()  # before the import: no network, no auto-install
        from ultralytics import YOLO

        copy = Path(tmp) / weights.name  # the exporter writes beside its input
        shutil.copyfile(weights, copy)
        exported = YOLO(str(copy), task="detect").export(
            format="onnx", dynamic=True, simplify=False, opset=17, verbose=False)
        copy_atomic(Path(exported), target)
    return target


def letterbox(frame: np.ndarray, imgsz: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize so the long side fits ``imgsz`` (enlarging small inputs too), then pad each side
    to a multiple of the stride, centred. Returns the padded image, the scale and the
    (left, top) offset."""
    h, w = frame.shape[:2]
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = round(w * r), round(h * r)
    dw, dh = (imgsz - new_w) % STRIDE / 2, (imgsz - new_h) % STRIDE / 2
    if (new_w, new_h) != (w, h):
        frame = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    padded = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(PAD_VALUE,) * 3)
    return padded, r, (left, top)


class OnnxYolo:
    """A dynamic-shape YOLOv8 ONNX graph: frames in, (xyxy, conf, class) per frame out."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        self.session = make_session(path, threads=threads)
        self.input_name = self.session.get_inputs()[0].name
        # ultralytics' exporter writes the class names into the graph's metadata
        meta = self.session.get_modelmeta().custom_metadata_map
        self.names: dict[int, str] = ast.literal_eval(meta["names"])

    def predict(self, frames: list[np.ndarray], imgsz: int, conf: float,
                classes: list[int] | None = None
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        boxed = [letterbox(frame, imgsz) for frame in frames]
        raw: list[np.ndarray | None] = [None] * len(frames)
        # One call per input shape (tiles and frames of one batch may differ).
        shapes: dict[tuple[int, ...], list[int]] = {}
        for i, (img, _, _) in enumerate(boxed):
            shapes.setdefault(img.shape, []).append(i)
        for idxs in shapes.values():
            batch = np.stack([boxed[i][0] for i in idxs])[..., ::-1].transpose(0, 3, 1, 2)
            batch = np.ascontiguousarray(batch, dtype=np.float32) / 255.0
            out = run_batch(self.session, self.input_name, batch)[0]
            for j, i in enumerate(idxs):
                raw[i] = out[j]
        results = []
        for frame, (_, r, (left, top)), pred in zip(frames, boxed, raw, strict=True):
            assert pred is not None
            results.append(self._postprocess(pred, conf, classes, r, left, top,
                                             frame.shape[1], frame.shape[0]))
        return results

    @staticmethod
    def _postprocess(pred: np.ndarray, conf: float, classes: list[int] | None, r: float,
                     left: int, top: int, width: int, height: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = pred.T  # (anchors, 4 + classes)
        scores = pred[:, 4:]
        cls = scores.argmax(axis=1)
        best = scores[np.arange(len(scores)), cls]
        keep = best > conf  # as ultralytics: a box's class is its best one, filtered after
        if classes is not None:
            keep &= np.isin(cls, classes)
        xywh, best, cls = pred[keep, :4], best[keep], cls[keep]
        if not len(best):
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int)
        xyxy = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2],
                              axis=1)
        # Class-aware NMS in one call: boxes of different classes are shifted apart.
        shifted = xyxy + cls[:, None].astype(np.float32) * 7680.0
        kept = nms(shifted, best, NMS_IOU)[:MAX_DET]
        xyxy, best, cls = xyxy[kept], best[kept], cls[kept]
        xyxy = (xyxy - np.array([left, top, left, top], np.float32)) / r
        xyxy[:, 0::2] = xyxy[:, 0::2].clip(0, width)
        xyxy[:, 1::2] = xyxy[:, 1::2].clip(0, height)
        return xyxy.astype(np.float32), best.astype(np.float32), cls
