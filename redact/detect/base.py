"""The detector interface, the lazy backend registry, and the set that runs them all."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from redact.detect.detections import (
    CANDIDATE,
    Detections,
    fuse,
    iou_matrix,
    plausible,
    split_candidates,
)
from redact.detect.exposure import dark_copies
from redact.errors import ConfigError, StageError

if TYPE_CHECKING:
    from redact.config import Config
    from redact.models import ModelSpec, ModelStore


class Detector(Protocol):
    """``detect`` takes BGR uint8 frames (H, W, 3) and returns one ``Detections`` per frame,
    in the frame's own pixel coordinates."""

    categories: tuple[str, ...]

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False) -> list[Detections]:
        """``scale`` multiplies the configured input size (stills use a larger one); ``still``
        says the frames are photos, not video, so extra passes are affordable."""
        ...


# Backends as "module:callable" so that importing this module never imports onnxruntime/torch.
BACKENDS = {
    "centerface": "redact.detect.centerface:CenterFaceDetector",
    "yolo": "redact.detect.yolo:YoloDetector",
    "yunet": "redact.detect.yunet:YuNetDetector",
    "dbtext": "redact.detect.text:TextDetector",
    "coco-centernet": "redact.detect.coco:CocoCenterNetDetector",
}


_cpu_threads = 0  # 0: each library's own default


def set_cpu_threads(threads: int) -> None:
    """Cap the CPU threads of detectors loaded after this call (batch worker processes split
    the cores between them). Process-wide, like the libraries' own thread pools."""
    global _cpu_threads
    _cpu_threads = max(0, threads)


def cpu_threads() -> int:
    return _cpu_threads


def op_threads() -> int:
    """Threads one model call may use: the cap when one is set, else one.

    Trap: the set's detectors already run side by side, one thread each, beside the decoder
    and x264. Letting each model's own pool take every core as well oversubscribed a 2-core
    machine: on 640x360 frames CenterFace spent 0.99 s of CPU per 24 frames with two threads
    against 0.65 s with one, for the same wall time. Batches of many inputs (tiles) are split
    across the cores instead (``batch_workers``)."""
    return _cpu_threads or 1


def batch_workers() -> int:
    """How many model calls of one batch run side by side: the cores this process may use
    when no cap is set; one under a cap (the batch engines split the cores between worker
    processes, and ``op_threads`` is then the cap)."""
    if _cpu_threads:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_backend(kind: str):
    target = BACKENDS.get(kind)
    if target is None:
        raise ValueError(f"unknown detector backend {kind!r}; known: {', '.join(BACKENDS)}")
    module, attr = target.split(":")
    return getattr(import_module(module), attr)


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def over_threshold(cls: np.ndarray, conf: np.ndarray, class_category: dict[int, str],
                   thresholds: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Each box's category ("" for a class this run does not redact) and whether it scores
    at or above that category's threshold."""
    cats = np.array([class_category.get(int(c), "") for c in cls], dtype=object)
    thr = np.array([thresholds.get(c, 1.1) for c in cats], dtype=np.float32)
    return cats, (cats != "") & (conf >= thr)


# The models run beside a category's own model, each read from that category's section as
# (model name or None, threshold): the second face, plate and screen models, and the person
# model whose small people's heads are faces on stills. In this order they load.
SECOND_MODELS = (("face", attrgetter("second_model", "second_threshold")),
                 ("plate", attrgetter("second_model", "second_threshold")),
                 ("screen", attrgetter("second_model", "second_threshold")),
                 ("face", attrgetter("person_model", "person_threshold")))


def second_models(config: Config) -> list[tuple[str, str, float]]:
    """(model name, category, threshold) of the models that run beside a category's own
    model in this run."""
    out = []
    for category, read in SECOND_MODELS:
        name, threshold = read(config.section(category))
        if name and category in config.categories:
            out.append((name, category, threshold))
    return out


def vehicle_model(config: Config) -> str | None:
    """The model that finds vehicles for the plate model's closer look, when that runs."""
    plate = config.plate
    if "plate" in config.categories and plate.vehicle_model and plate.vehicle_size > 0:
        return plate.vehicle_model
    return None


def backend_settings(kind: str, config: Config, categories: list[str]) -> dict[str, Any]:
    """What a backend reads besides its thresholds and input size: the face backend its
    section's extra passes, YOLO the plate section's tiling (when it serves plates), the COCO
    person model the face section's person height, and the general tiling knobs."""
    if kind == "dbtext":
        return {}
    if kind == "centerface":
        return {"coarse_size": config.face.coarse_size, "still_tiles": config.face.still_tiles,
                "max_upscale": config.face.max_upscale, "turn_reach": config.face.turn_reach,
                "tiles": config.large_frame_tiles, "tile_above": config.large_frame_above}
    extra: dict[str, Any] = {"still_fine_scale": config.still_fine_scale}
    if kind == "yolo":
        extra.update(tiles=config.large_frame_tiles, tile_above=config.large_frame_above,
                     continue_threshold=config.continue_threshold)
        if "plate" in categories:
            extra.update(tile_scale=config.plate.tile_scale,
                         small_frame_scale=config.plate.small_frame_scale,
                         max_upscale=config.plate.max_upscale,
                         closer_threshold=config.plate.closer_threshold,
                         vehicle_threshold=config.plate.vehicle_threshold,
                         vehicle_size=config.plate.vehicle_size)
    if kind == "yunet" and "face" in categories:
        extra.update(candidate_threshold=config.face.agree_threshold,
                     max_upscale=config.face.max_upscale, turn_reach=config.face.turn_reach)
    if kind == "coco-centernet":
        extra.update(person_max_height=config.face.person_max_height,
                     square_views=config.screen.second_square_views)
    return extra


# A box another model confirms overlaps one of that model's boxes of its category this much.
AGREE_IOU = 0.3


def agreement_bars(config: Config, names: list[str]) -> dict[str, list[float]]:
    """Per category, each detector's ``alone`` bar (``names``: the detectors' models in
    order): a box scoring under it is painted only where another detector also found that
    category. Screens: our model's boxes under ``screen.alone_threshold``; the second model's
    boxes always stand alone. With one model serving screens there is nothing to agree with,
    and its threshold alone decides."""
    section = config.screen
    if "screen" not in config.categories or not section.second_model or not section.model:
        return {}
    return {"screen": [section.alone_threshold if name == section.model else 0.0
                       for name in names]}


def agreed(per_detector: list[Detections], bars: dict[str, list[float]]) -> list[np.ndarray]:
    """Per detector, which of its boxes stand: those of a category without bars, those at or
    above their detector's bar, and those overlapping (IoU ≥ ``AGREE_IOU``) a box of their
    category that another detector found over its threshold.

    >>> ours = Detections.from_lists([[0, 0, 10, 10], [50, 50, 60, 60]], [0.5, 0.5],
    ...                              ["screen", "screen"])
    >>> coco = Detections.from_lists([[1, 1, 10, 10]], [0.2], ["screen"])
    >>> [k.tolist() for k in agreed([ours, coco], {"screen": [0.9, 0.0]})]
    [[True, False], [True]]
    """
    keep = [np.ones(len(d), bool) for d in per_detector]
    for category, alone in bars.items():
        for i, dets in enumerate(per_detector):
            mine = (dets.category == category) & (dets.score < alone[i])
            if not mine.any():
                continue
            others = [d[(d.category == category) & (d.source != CANDIDATE)]
                      for j, d in enumerate(per_detector) if j != i]
            other = Detections.concat(others)
            seen = iou_matrix(dets.xyxy[mine], other.xyxy).max(axis=1, initial=0.0)
            keep[i][np.nonzero(mine)[0][seen < AGREE_IOU]] = False
    return keep


def check_models(config: Config, store: ModelStore) -> None:
    """Without loading any detector: the device is usable and every model's weights are
    present and verified (fetched if allowed). Raises ConfigError or ModelError."""
    device = resolve_device(config.device)
    if device == "cuda" and not _cuda_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is usable here; "
                          "use --device auto or cpu")
    specs = store.specs()
    names = {config.model_for(c) for c in config.categories}
    names |= {name for name, _, _ in second_models(config)}
    vehicles = vehicle_model(config)
    if vehicles:
        names.add(vehicle_spec(store.specs(), vehicles).name)
    for name in names:  # the float model (stills) and the one video runs
        spec = known_spec(specs, name)
        store.ensure(spec)
        store.ensure(runtime_spec(specs, spec, device, config.precision))


def runtime_spec(specs: dict[str, ModelSpec], spec: ModelSpec, device: str,
                 precision: str) -> ModelSpec:
    """The model that runs for ``spec``: its int8 twin on the CPU (``precision`` "auto"),
    else itself. A twin has the float model's kind and categories, so it serves the same."""
    if device != "cpu" or precision != "auto":
        return spec
    twins = [s for s in specs.values() if s.int8_of == spec.name and s.kind == spec.kind]
    return twins[0] if twins else spec


def vehicle_spec(specs: dict[str, ModelSpec], name: str | None) -> ModelSpec:
    spec = known_spec(specs, name)
    if spec.kind != "coco-centernet":
        raise ConfigError(f"plate.vehicle_model {name!r} is not a COCO model; use "
                          f"{', '.join(n for n, s in specs.items() if s.kind == 'coco-centernet')}"
                          " or none")
    return spec


def known_spec(specs: dict[str, ModelSpec], name: str | None) -> ModelSpec:
    if name not in specs:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(specs)}")
    return specs[name]


def _plate_roles(config: Config, name: str, spec: ModelSpec, specs: dict[str, ModelSpec],
                 store: ModelStore, device: str, precision: str,
                 ) -> tuple[dict[str, Any], list[ModelSpec]]:
    """What a plate YOLO reads beyond the plate section as the first or the second plate
    model, and the helper models it loads: the vehicle finder and the float model for the
    crops around vehicles."""
    extra: dict[str, Any] = {}
    helpers: list[ModelSpec] = []
    if name == config.plate.second_model:
        extra.update(closer_threshold=config.plate.second_closer_threshold,
                     tile_scale=config.plate.second_tile_scale)
    # The vehicle crops are the first plate model's: a second one looking at them too would
    # double the COCO pass and the crops for plates the first already finds.
    if not (vehicle_model(config) and name == config.plate.model):
        return extra, helpers
    if spec.int8_of:
        # The crops keep the float model (the closer-look windows run the int8 one); a model
        # without crops never loads it.
        close = known_spec(specs, spec.int8_of)
        extra.update(close_weights=store.ensure(close), close_sha256=close.sha256)
        helpers.append(close)
    vspec = runtime_spec(specs, vehicle_spec(specs, vehicle_model(config)), device, precision)
    extra["vehicle_weights"] = store.ensure(vspec)
    helpers.append(vspec)
    return extra, helpers


class DetectorSet:
    """Every detector a config asks for, each restricted to the categories it serves."""

    def __init__(self, detectors: list[Detector], models: list[ModelSpec], device: str,
                 bars: dict[str, list[float]] | None = None, dark_below: float = 0.0) -> None:
        self.detectors = detectors
        self.models = models
        self.device = device
        # Per category, each detector's bar under which its box needs another's agreement.
        self.bars = bars or {}
        # Frames darker than this are also looked at brightened (detect/exposure.py); 0: not.
        self.dark_below = dark_below
        self._pools: list[ThreadPoolExecutor] | None = None

    @classmethod
    def from_config(cls, config: Config, store: ModelStore, *,
                    video: bool = False) -> DetectorSet:
        """``video``: the set that analyses video frames, where a model's int8 twin runs on
        the CPU (``Config.precision``). Stills and the second look keep the float models:
        one frame, and on the photo sets the int8 plate model lost a plate the float model
        covered (models/int8/MODEL_CARD.md)."""
        device = resolve_device(config.device)
        precision = config.precision if video else "float"
        if device == "cuda" and not _cuda_available():
            raise ConfigError("--device cuda was asked for but no CUDA GPU is usable here; "
                              "use --device auto or cpu")
        by_model: dict[str, list[str]] = {}
        for category in config.categories:
            by_model.setdefault(config.model_for(category), []).append(category)
        # Second models: what they find is added to the first model's, never replaces it.
        seconds = second_models(config)
        for name, category, _ in seconds:
            by_model.setdefault(name, []).append(category)
        specs = store.specs()
        detectors, models, helpers = [], [], []
        for name, categories in by_model.items():
            spec = runtime_spec(specs, known_spec(specs, name), device, precision)
            missing = [c for c in categories if c not in spec.categories]
            if missing:
                raise ConfigError(
                    f"model {name!r} has no classes mapped to {', '.join(missing)}; its "
                    f"categories are {', '.join(spec.categories)}"
                )
            weights = store.ensure(spec)
            sections = [config.section(c) for c in categories]
            thresholds = {c: s.threshold for c, s in zip(categories, sections, strict=True)}
            for second, category, threshold in seconds:
                if second == name:
                    thresholds[category] = threshold
            backend = load_backend(spec.kind)
            extra = backend_settings(spec.kind, config, categories)
            if spec.kind == "yolo" and "plate" in categories:
                plate_extra, plate_helpers = _plate_roles(config, name, spec, specs, store,
                                                          device, precision)
                extra.update(plate_extra)
                helpers += plate_helpers  # named in the audit after the detectors' own models
            size = max(s.size for s in sections)
            detectors.append(backend(spec=spec, weights=weights, categories=tuple(categories),
                                     thresholds=thresholds, size=size, device=device,
                                     **extra))
            models.append(spec)
        return cls(detectors, list({m.name: m for m in models + helpers}.values()), device,
                   agreement_bars(config, list(by_model)), config.dark_below)

    @property
    def warnings(self) -> list[str]:
        """What a reviewer should know about how the detectors ran (e.g. a CPU fallback)."""
        return [w for d in self.detectors for w in getattr(d, "warnings", [])]

    def detect(self, frames: list[np.ndarray], scale: float = 1.0, *,
               still: bool = False, candidates: bool = False) -> list[Detections]:
        """Run every detector on ``frames``, one after another, in this thread.
        ``candidates``: keep the ``CANDIDATE`` boxes (for the tracker only)."""
        seen, twins = self._seen(frames)
        return self._merge(frames, [self._joined(self._run(d, seen, scale, still, candidates),
                                                 twins) for d in self.detectors], candidates)

    def start(self, frames: list[np.ndarray], scale: float = 1.0, *,
              still: bool = False, candidates: bool = False,
              memory: dict[int, dict] | None = None) -> PendingDetections:
        """Like ``detect``, but each detector works in its own thread and this returns at
        once; ``.result()`` waits. Must be used inside ``with detector_set:``.
        ``memory``: one video's state, kept by the caller from one call to the next, for
        the detectors that use one (``uses_memory``); each gets its own dict in it."""
        if self._pools is None:
            raise RuntimeError("DetectorSet.start() needs `with detector_set:` around it")
        seen, twins = self._seen(frames)
        futures = [pool.submit(self._run, d, seen, scale, still, candidates,
                               None if memory is None else memory.setdefault(i, {}))
                   for i, (pool, d) in enumerate(zip(self._pools, self.detectors,
                                                     strict=True))]
        return PendingDetections(lambda: self._merge(
            frames, [self._joined(f.result(), twins) for f in futures], candidates))

    def _seen(self, frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[int | None]]:
        """What the detectors look at: ``frames``, then a brightened copy of each dark one
        (detect/exposure.py); and for each frame the index of its copy (None: not dark)."""
        extra: list[np.ndarray] = []
        twins: list[int | None] = []
        for copy in dark_copies(frames, self.dark_below):
            twins.append(None if copy is None else len(frames) + len(extra))
            if copy is not None:
                extra.append(copy)
        return frames + extra, twins

    @staticmethod
    def _joined(out: list[Detections], twins: list[int | None]) -> list[Detections]:
        """One detector's boxes per frame: a dark frame's own and its brightened copy's,
        fused where both found the same object (``_fused``, as ``_merge`` does)."""
        joined = []
        for k, twin in enumerate(twins):
            if twin is None:
                joined.append(out[k])
                continue
            joined.append(_fused([out[k], out[twin]]))
        return joined

    # One single-worker pool per detector: a detector never runs two batches at once (the
    # ultralytics predictor keeps per-call state), but different detectors overlap each other
    # and the encoder. ONNX Runtime and torch release the GIL while they compute.
    def __enter__(self) -> DetectorSet:
        self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"detect-{i}")
                       for i in range(len(self.detectors))]
        return self

    def __exit__(self, *exc_info: object) -> None:
        pools, self._pools = self._pools or [], None
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _run(detector: Detector, frames: list[np.ndarray], scale: float,
             still: bool, candidates: bool = False,
             memory: dict | None = None) -> list[Detections]:
        try:
            if memory is not None and getattr(detector, "uses_memory", False):
                out = detector.detect(frames, scale, still=still, memory=memory)
            else:
                out = detector.detect(frames, scale, still=still)
        except Exception as exc:  # fail closed: a detector error fails the whole file
            raise StageError(f"detector {type(detector).__name__} failed: {exc}") from exc
        if len(out) != len(frames):
            raise StageError(f"detector {type(detector).__name__} returned {len(out)} "
                             f"results for {len(frames)} frames")
        out = [plausible(dets, frame.shape[1], frame.shape[0])
               for dets, frame in zip(out, frames, strict=True)]
        # Candidates are painted only where the tracker continues a track with them: every
        # other caller (stills, the second look, tracking off) must never see one.
        return out if candidates else [split_candidates(dets)[0] for dets in out]

    def _merge(self, frames: list[np.ndarray], per_detector: list[list[Detections]],
               candidates: bool = False) -> list[Detections]:
        # Two face models find the same face twice: fused into one box reaching as far as
        # both, so the tracker makes one track per face (one to exclude in review, not two).
        # Candidates stay apart: fusing one into a box over the threshold could relabel it.
        if len(per_detector) == 1:
            return per_detector[0]
        merged = []
        for i in range(len(frames)):
            merged.append(_fused(self._agreed([out[i] for out in per_detector], candidates)))
        return merged

    def _agreed(self, found: list[Detections], candidates: bool) -> list[Detections]:
        """Boxes no other detector agrees with (under their detector's bar) are dropped, or
        kept as candidates for a caller that asks for them (a track may continue on one)."""
        if not self.bars:
            return found
        out = []
        for dets, keep in zip(found, agreed(found, self.bars), strict=True):
            if candidates:
                source = np.where(keep, dets.source, CANDIDATE).astype(object)
                out.append(dets.replace(source=source))
            else:
                out.append(dets[keep])
        return out


def _fused(found: list[Detections]) -> Detections:
    """Several looks at one frame as one set of boxes: boxes over the threshold that overlap
    fused into one (``fuse``); candidates kept apart, since fusing one into a box over the
    threshold could relabel it."""
    sure, maybe = split_candidates(Detections.concat(found))
    return Detections.concat([fuse(sure), maybe])


class PendingDetections:
    """Detections still being computed in the set's worker threads."""

    def __init__(self, collect: Callable[[], list[Detections]]) -> None:
        self._collect = collect

    def result(self) -> list[Detections]:
        return self._collect()


def upscale_cap(frame: np.ndarray, max_upscale: float) -> int:
    """The largest detector input (long side, a multiple of 32) that enlarges ``frame`` at
    most ``max_upscale`` times: video frames are not blown up beyond what recall needs."""
    return max(32, round(max(frame.shape[:2]) * max_upscale / 32) * 32)


def letterbox_size(width: int, height: int, long_side: int, multiple: int = 32) -> tuple[int, int]:
    """Detector input size: scale so the long side is ``long_side``, round to ``multiple``."""
    scale = long_side / max(width, height)
    w = max(multiple, round(width * scale / multiple) * multiple)
    h = max(multiple, round(height * scale / multiple) * multiple)
    return w, h
