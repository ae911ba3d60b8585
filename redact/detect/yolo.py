"""Any ultralytics YOLO weights file, with a class-name → category map from the registry."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from redact.detect.base import over_threshold, upscale_cap
from redact.detect.detections import (
    CANDIDATE,
    Detections,
    add_unseen,
    merge_passes,
    split_candidates,
)
from redact.detect.tiles import (
    Tile,
    candidate_windows,
    tile_grid,
    tiles_for_scale,
    vehicle_crops,
)
from redact.detect.ultralytics_env import quiet_ultralytics
from redact.detect.yolo_onnx import OnnxYolo, export_onnx
from redact.models import ModelSpec

if TYPE_CHECKING:
    from redact.detect.coco import VehicleFinder


class YoloDetector:
    tiles: int = 0  # see _detect_tiles
    tile_above: float = 0.0
    tile_scale: float = 0.0
    small_frame_scale: float = 1.0  # see _detect_small
    max_upscale: float = 0.0  # see _video_scale
    closer_threshold: float = 0.0  # see _detect_closer
    closer_limit: int = 4  # windows per frame, around the best candidates
    vehicles: VehicleFinder | None = None  # see _detect_vehicles
    vehicle_size: int = 0
    vehicle_limit: int = 8  # crops per frame, the vehicles the COCO model is surest of
    # Video: while the vehicle finder sees no vehicle, it looks at every this-many-th
    # detected frame only (DetectorSet.start's per-video memory: at 30 fps and the default
    # stride, a car coming into view is looked for within 0.27 s); once it sees one, at
    # every detected frame again. On footage without vehicles it cost more than the plate
    # model's own whole-frame pass at 640x360 (benchmarks/RESULTS.md, speed).
    vehicle_idle_every: int = 3
    uses_memory = True
    close_onnx: OnnxYolo | None = None  # the float model for close-ups, beside an int8 one

    def __init__(self, *, spec: ModelSpec, weights: Path, categories: tuple[str, ...],
                 thresholds: dict[str, float], size: int, device: str,
                 still_fine_scale: float = 1.0, tiles: int = 0, tile_above: float = 0.0,
                 tile_scale: float = 0.0, small_frame_scale: float = 1.0,
                 continue_threshold: float = 0.0, vehicle_weights: Path | None = None,
                 vehicle_threshold: float = 0.05, vehicle_size: int = 0,
                 max_upscale: float = 0.0, closer_threshold: float = 0.0,
                 close_weights: Path | None = None, close_sha256: str = "",
                 **_: object) -> None:
        self.categories = categories
        self.thresholds = thresholds
        self.size = size
        self.still_fine_scale = still_fine_scale
        self.tiles, self.tile_above = tiles, tile_above
        self.tile_scale, self.small_frame_scale = tile_scale, small_frame_scale
        self.max_upscale, self.closer_threshold = max_upscale, closer_threshold
        self.device = "cuda:0" if device == "cuda" else "cpu"
        # A closer look around each vehicle a COCO model finds (see _detect_vehicles).
        if vehicle_weights is not None and vehicle_size > 0:
            from redact.detect.coco import VehicleFinder

            self.vehicles = VehicleFinder(Path(vehicle_weights), vehicle_threshold)
            self.vehicle_size = vehicle_size
        # On the CPU the same network runs in ONNX Runtime, at about half torch's CPU time;
        # the torch model is then never loaded (the graph carries the class names).
        self.onnx: OnnxYolo | None = None
        self.model = None
        if self.device == "cpu":
            # An int8 twin (models/int8/) is already an ONNX graph; a .pt is exported once.
            graph = (Path(weights) if Path(weights).suffix == ".onnx"
                     else export_onnx(Path(weights), spec.sha256))
            self.onnx = OnnxYolo(graph)
            names = self.onnx.names
            # ``weights`` an int8 twin: the vehicle crops keep the float model. There the
            # plates are smallest and score lowest, and the int8 model on every close-up lost
            # 4 of 105 held-out small plates (models/int8/MODEL_CARD.md).
            if close_weights is not None:
                self.close_onnx = OnnxYolo(export_onnx(Path(close_weights), close_sha256))
        else:
            quiet_ultralytics()
            from ultralytics import YOLO

            self.model = YOLO(str(weights), task="detect")
            names = self.model.names
        class_map = spec.class_to_category()
        # class index → category, for the classes this run redacts
        self.class_category = {
            idx: class_map[name] for idx, name in names.items()
            if name in class_map and class_map[name] in categories
        }
        if not self.class_category:
            raise ValueError(
                f"model {spec.name!r} has none of the classes {sorted(class_map)}; "
                f"its classes are {sorted(names.values())}"
            )
        # Boxes between continue_threshold and their category's threshold come back as
        # CANDIDATE (see Config.continue_threshold).
        self.continue_threshold = continue_threshold
        self.min_conf = min([*thresholds.values(), continue_threshold or 1.0])

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False, memory: dict | None = None) -> list[Detections]:
        closer = (not still and self.small_frame_scale > 1.0 and self.closer_threshold > 0
                  and bool(frames) and max(frames[0].shape[:2]) < self.size * scale)
        whole = scale if still or not frames else self._video_scale(frames[0], scale)
        first, hints = self._detect_at(frames, whole,
                                       floor=self.closer_threshold if closer else 0.0)
        passes = [first]
        if still and self.still_fine_scale > 1.0:
            passes.append(self._detect_at(frames, scale * self.still_fine_scale)[0])
        elif not still and self.small_frame_scale > 1.0 and not closer:
            passes.append(self._detect_small(frames, scale))
        # Parts of the frame looked at apart: tiles, the closer look, the vehicle crops.
        parts = []
        if self.tiles > 1 or self.tile_scale > 0:
            parts.append(self._detect_tiles(frames, scale))
        if closer:
            parts.append(self._detect_closer(frames, hints))
        if self.vehicles is not None:
            parts.append(self._detect_vehicles(frames, scale, still, memory))
        tiled = ([Detections.concat(list(found)) for found in zip(*parts, strict=True)]
                 if parts else None)
        out = []
        for k in range(len(frames)):
            # Boxes over the threshold and candidates are merged apart, so that a candidate
            # never stands in for (suppresses) a box over the threshold.
            sure, maybe = zip(*(split_candidates(p[k]) for p in passes), strict=True)
            # Drop only near-duplicates: a box that reaches further than its twin stays.
            found, low = merge_passes(list(sure), 0.7), merge_passes(list(maybe), 0.7)
            if tiled is not None:
                # A plate cut by a tile's (or vehicle crop's) edge must not suppress the
                # whole plate: tile boxes never drop a full-frame box.
                tiled_sure, tiled_maybe = split_candidates(tiled[k])
                found = add_unseen(found, tiled_sure, 0.7)
                low = add_unseen(low, tiled_maybe, 0.7)
            # A candidate on a box over the threshold adds nothing.
            out.append(add_unseen(found, low, 0.3))
        return out

    def _video_scale(self, frame: np.ndarray, scale: float) -> float:
        """The whole-frame pass on video: the input, but never the frame enlarged more than
        ``max_upscale`` times (0: no cap); small plates get the closer look instead."""
        if self.max_upscale <= 0:
            return scale
        return min(scale, upscale_cap(frame, self.max_upscale) / self.size)

    def _detect_closer(self, frames: list[np.ndarray],
                       hints: list[np.ndarray]) -> list[Detections]:
        """Small frames (long side under the input): the plate model looks again, enlarged
        ``small_frame_scale`` times, at square windows around the whole-frame pass's
        unsure boxes (from ``closer_threshold`` up to the threshold, best first): what the
        enlarged whole frame found, at a fraction of its pixels. The windows go to the
        whole-frame pass's model (the int8 twin on video): unlike the vehicle crops they
        show a plate that pass already scored, and on the tune half they lost none with it
        (RESULTS.md, *speed-21-final*)."""
        jobs = []
        for i, (frame, boxes) in enumerate(zip(frames, hints, strict=True)):
            height, width = frame.shape[:2]
            side = max(64, round(max(width, height) / 5))
            jobs += [(i, tile, (tile.x2 - tile.x1) * self.small_frame_scale)
                     for tile in candidate_windows(boxes, width, height, side,
                                                   self.closer_limit)]
        return self._detect_close_ups(frames, jobs, close=False)

    def _detect_close_ups(self, frames: list[np.ndarray], jobs: list[tuple[int, Tile, float]],
                          close: bool = True) -> list[Detections]:
        """Each job (frame index, crop, input long side) looked at by the close-up model
        (``close``; else the whole-frame pass's), one call per input size; boxes back in
        frame pixels, per frame."""
        out = [Detections.empty() for _ in frames]
        by_size: dict[float, list[tuple[int, Tile]]] = {}
        for i, tile, size in jobs:
            by_size.setdefault(size, []).append((i, tile))
        for size, group in by_size.items():
            found, _ = self._detect_at([tile.crop(frames[i]) for i, tile in group],
                                       size / self.size, close=close)
            for (i, tile), dets in zip(group, found, strict=True):
                out[i] = Detections.concat([out[i], tile.to_frame(dets)])
        return out

    def _detect_small(self, frames: list[np.ndarray], scale: float) -> list[Detections]:
        """Frames smaller than the input, looked at again enlarged ``small_frame_scale``
        times (at most twice the input): small plates on small footage."""
        out = [Detections.empty() for _ in frames]
        by_size: dict[int, list[int]] = {}
        for i, frame in enumerate(frames):
            long_side = max(frame.shape[:2])
            if long_side < self.size * scale:
                target = min(long_side * self.small_frame_scale, 2 * self.size * scale)
                by_size.setdefault(round(target), []).append(i)
        for target, idxs in by_size.items():
            found, _ = self._detect_at([frames[i] for i in idxs], target / self.size)
            for i, dets in zip(idxs, found, strict=True):
                out[i] = dets
        return out

    def tiles_across(self, width: int, height: int, scale: float) -> int:
        """How many tiles along the long side: ``tiles``, or more where ``tile_scale`` asks
        for the frame to reach the model at least that large (tiles of at most the input
        size ÷ ``tile_scale``).

        Trap: this divided by ``tile_scale`` the other way round (tiles of input × scale),
        so 0.5 asked for the frame at 2x, against what the setting says; only 1 was used."""
        if self.tile_scale <= 0:
            return self.tiles
        return max(self.tiles, tiles_for_scale(max(width, height),
                                               self.size * scale / self.tile_scale))

    def _detect_tiles(self, frames: list[np.ndarray], scale: float) -> list[Detections]:
        """A closer look at large frames: overlapping tiles, each at the full input size.
        Frames whose long side is under ``tile_above`` × the input get no tiles."""
        size = self.size * scale
        jobs = [(i, tile) for i, frame in enumerate(frames)
                if max(frame.shape[:2]) >= self.tile_above * size
                for tile in tile_grid(frame.shape[1], frame.shape[0],
                                      self.tiles_across(frame.shape[1], frame.shape[0], scale))]
        out = [Detections.empty() for _ in frames]
        if not jobs:
            return out
        found, _ = self._detect_at([tile.crop(frames[i]) for i, tile in jobs], scale)
        for (i, tile), dets in zip(jobs, found, strict=True):
            out[i] = Detections.concat([out[i], tile.to_frame(dets)])
        return out

    def seen_scale(self, width: int, height: int, scale: float, still: bool = False) -> float:
        """The largest scale at which the other passes show a frame of this size to the
        model: the whole frame, the small-frame or still pass, or the tiles."""
        long_side = max(width, height)
        size = self.size * scale
        seen = size / long_side
        if not still and self.max_upscale > 0:
            seen = min(seen, self.max_upscale)
        if still and self.still_fine_scale > 1.0:
            seen *= self.still_fine_scale
        elif (not still and self.small_frame_scale > 1.0 and long_side < size
              and self.closer_threshold <= 0):  # the whole frame enlarged (_detect_small)
            seen = max(seen, min(long_side * self.small_frame_scale, 2 * size) / long_side)
        if (self.tiles > 1 or self.tile_scale > 0) and long_side >= self.tile_above * size:
            across = self.tiles_across(width, height, scale)
            tile = tile_grid(width, height, across)[0]
            seen = max(seen, size / max(tile.x2 - tile.x1, tile.y2 - tile.y1))
        return seen

    def _detect_vehicles(self, frames: list[np.ndarray], scale: float,
                         still: bool = False, memory: dict | None = None) -> list[Detections]:
        """Plates small or at a steep angle, looked at closer: the crop around each vehicle
        the COCO model finds, enlarged so that the vehicle is ``vehicle_size`` × ``scale``
        px long (plates keep roughly their share of a vehicle's size). A vehicle another
        pass already showed nearly that large gets no crop (``seen_scale``)."""
        assert self.vehicles is not None
        jobs = []
        for i, frame in enumerate(frames):
            height, width = frame.shape[:2]
            seen = self.seen_scale(width, height, scale, still)
            found = self._find_vehicles(frame, memory)
            jobs += [(i, tile, size) for tile, size in
                     vehicle_crops(found, width, height, self.vehicle_size * scale, seen,
                                   self.vehicle_limit)]
        return self._detect_close_ups(frames, jobs)

    def _find_vehicles(self, frame: np.ndarray, memory: dict | None) -> np.ndarray:
        """The vehicle finder's boxes; on video with nothing found at its last look, it
        skips frames up to ``vehicle_idle_every`` (an empty result)."""
        assert self.vehicles is not None
        if memory is not None:
            idle = memory.get("vehicles_idle", 0)
            if 0 < idle < self.vehicle_idle_every:
                memory["vehicles_idle"] = idle + 1
                return np.zeros((0, 4), np.float32)
        found = self.vehicles.find(frame)
        if memory is not None:
            memory["vehicles_idle"] = 0 if len(found) else 1
        return found

    def _detect_at(self, frames: list[np.ndarray], scale: float, floor: float = 0.0,
                   close: bool = False) -> tuple[list[Detections], list[np.ndarray]]:
        """Each frame's detections, and its boxes scoring ``floor`` or more (best first;
        empty when ``floor`` is 0): where a closer look may find what this one missed.
        ``close``: a vehicle crop, run by ``close_onnx``."""
        imgsz = max(32, round(self.size * scale / 32) * 32)
        conf = min(self.min_conf, floor) if floor > 0 else self.min_conf
        onnx = self.close_onnx if close and self.close_onnx is not None else self.onnx
        if onnx is not None:
            raw = onnx.predict(frames, imgsz, conf, sorted(self.class_category))
        else:
            assert self.model is not None
            results = self.model.predict(
                frames, imgsz=imgsz, conf=conf, device=self.device, verbose=False,
                classes=sorted(self.class_category), half=self.device != "cpu",
            )
            raw = [(r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy(),
                    r.boxes.cls.cpu().numpy().astype(int)) for r in results]
        hints = [self._unsure(xyxy, score, cls) if floor > 0 else xyxy[:0]
                 for xyxy, score, cls in raw]
        return [self._keep(*parts) for parts in raw], hints

    def _unsure(self, xyxy: np.ndarray, score: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """Boxes under their category's threshold, best first: a box over it is found
        already and needs no closer look."""
        _, sure = over_threshold(cls, score, self.class_category, self.thresholds)
        order = np.argsort(-score, kind="stable")
        return xyxy[order][~sure[order]]

    def _keep(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> Detections:
        """The boxes of redacted classes at or above their category's threshold, and those
        at or above ``continue_threshold`` as ``CANDIDATE``."""
        cats, sure = over_threshold(cls, conf, self.class_category, self.thresholds)
        low = ((cats != "") & ~sure & (conf >= self.continue_threshold)
               if self.continue_threshold > 0 else np.zeros(len(conf), bool))
        keep = sure | low
        dets = Detections.from_lists(xyxy[keep], conf[keep], cats[keep])
        return dets.replace(source=np.where(low[keep], CANDIDATE, "detected").astype(object))
