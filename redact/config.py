"""Settings: one frozen, validated ``Config`` plus where each value came from.

Precedence, lowest first: built-in default < preset (TOML in ``pipelines/``) < environment
< explicit value (CLI flag or library argument). ``Settings.sources`` records which one won for
every field; the audit record copies it so a reviewer can tell a deliberate choice from a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from redact.errors import ConfigError

CATEGORIES = ("face", "plate", "screen", "text")
STYLES = ("blur", "pixelate", "solid")
DEVICES = ("auto", "cpu", "cuda")
VERIFY_CHOICES = ("off", "stills", "all")
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast",
    "medium", "slow", "slower", "veryslow",
)


# (category, settings prefix) of the models run beside a category's own model: each has
# ``<prefix>_model`` (None: off) and ``<prefix>_threshold``.
SECOND_MODELS = (("face", "face_second"), ("screen", "screen_second"), ("face", "face_person"))


@dataclass(frozen=True)
class Config:
    """Every knob of a run. Validated on construction; never mutated afterwards."""

    categories: tuple[str, ...] = ("face", "plate")
    style: str = "blur"
    device: str = "auto"
    # Which registered model serves each category (see ``models/registry.toml``).
    face_model: str = "centerface"
    plate_model: str = "fastanpr-plate"
    screen_model: str | None = "screens-yolov8n"
    text_model: str = "ppocrv4-det"
    # A second face model of another family, run beside face_model on every detected frame:
    # a face either model finds is redacted. None turns it off.
    face_second_model: str | None = "yunet"
    face_second_threshold: float = 0.5
    # The same for screens: a COCO-trained detector (its tv, laptop and cell phone) beside our
    # own screen model. On the held-out COCO screens it alone covered 74% of the boxes at 0.1,
    # ours 29% (models/screens/MB3_CENTERNET_CARD.md).
    screen_second_model: str | None = "mb3-centernet-coco"
    screen_second_threshold: float = 0.1
    # Stills: people too far away for any face model (heads of 1-3 px in a crowd photo) are
    # still found as people by this COCO model; the head end of each person under
    # ``face_person_max_height`` px is painted as a face. Video frames never use it (cost).
    face_person_model: str | None = "mb3-centernet-coco"
    face_person_threshold: float = 0.25
    face_person_max_height: int = 80
    face_threshold: float = 0.1
    plate_threshold: float = 0.15
    # 0.7, not 0.3: our screen model's scores on stills are poorly calibrated (at 0.3 it painted
    # a screen on 17 of 50 screen-free photos); the second screen model carries most of the
    # recall, and on video our model's boxes down to continue_threshold still continue a
    # screen track (benchmarks/RESULTS.md, screens).
    screen_threshold: float = 0.7
    # Plates and screens scoring at least this but under their threshold are candidates: the
    # tracker uses one only to continue a track that a box over the threshold started (the
    # low-score pass of ByteTrack); alone, a candidate is never painted. A 25 px front plate
    # driving at the camera scored 0.06-0.12 in the frames between its detections
    # (benchmarks/RESULTS.md). 0 turns it off.
    continue_threshold: float = 0.05
    # text: the mean text probability inside a region (DB detection, detect/text.py)
    text_threshold: float = 0.4
    # Long side, in pixels, of the resized copy each detector sees.
    face_size: int = 960
    # Second, coarse face pass (0 turns it off); see detect/centerface.py.
    face_coarse_size: int = 480
    # Stills: the face model also looks at overlapping tiles (this many across the long side),
    # each enlarged to face_size, for faces a few pixels across. 0 or 1 turns it off.
    face_still_tiles: int = 4
    plate_size: int = 800
    # Screens: the model was trained at 640 px; larger inputs (stills get 1.5x and 2x this)
    # paint many false screens (models/screens/MODEL_CARD.md).
    screen_size: int = 448
    text_size: int = 1280
    # Still images are one frame, so their detectors get inputs this many times larger.
    still_scale: float = 1.5
    # Stills: YOLO detectors (plates, screens) also run a second pass at this multiple of their
    # still input. The plate model is scale-sensitive: each size finds plates the other misses.
    # 1 turns it off.
    still_fine_scale: float = 1.33
    # Large frames (wide-angle body cameras): the face and plate models also run on
    # overlapping tiles (this many across the long side, each at the model's input size) when
    # the frame's long side is at least large_frame_above × that input. 0 or 1 turns it off.
    large_frame_tiles: int = 2
    large_frame_above: float = 2.5
    # ... and on those frames the plate model's tiles are small enough that it sees the frame
    # at least at this scale (2560x1920: 4x3 tiles at 800 px): angled plates cut tight, shrunk
    # into the input, go unseen (benchmarks/RESULTS.md). 0 keeps large_frame_tiles.
    plate_tile_scale: float = 1.0
    # Small frames (long side under plate_size): the plate model also looks at the frame
    # enlarged this many times (at most 2 × plate_size): the model is scale-sensitive, and
    # 25 px plates on 768x432 footage are found at 2× that it misses at 1×. 1 turns it off.
    plate_small_frame_scale: float = 2.0
    # Each box grows by this fraction of its size on every side before rendering.
    margin: float = 0.2
    crf: int = 18
    encoder_preset: str = "medium"
    keep_metadata: bool = False
    offline: bool = False
    # Temporal stages (tracking, look-back buffer).
    # 4, not 3: with both at 1080p, 3 measured 0.41–0.44× bare decode→encode and 4 0.46–0.49×
    # (benchmarks/RESULTS.md); coverage between detections comes from StrideCover either way.
    detect_every: int = 4
    # ... and never more than this many seconds apart (low frame rates, long strides), and
    # always on the last frame: coverage between detected frames assumes a short, straight path.
    detect_gap_s: float = 0.5
    # Detected frames per detector call (a GPU wants batches; on CPU 1 keeps latency and
    # memory lowest). Same regions whatever the value (tests/test_batched.py).
    detect_batch: int = 1
    # The second look at each output (audit/second_look.py): "off", "stills" or "all" (video
    # too). Video is checked on every ``verify_every``-th frame and the last one, with every
    # detector input scaled by ``verify_scale``; a detection scoring ``verify_threshold`` or
    # more outside the paint is flagged. Below about 0.3 the face model flags crockery and
    # shelves in every frame of the moving benchmark (benchmarks/RESULTS.md).
    verify_output: str = "stills"
    verify_every: int = 5
    verify_threshold: float = 0.3
    verify_scale: float = 1.25
    tracking: bool = True
    coast_s: float = 0.5
    gap_fill_s: float = 1.0
    # 0.5, not 0.2: a small angled plate first found half a second after it came into view
    # leaked in those frames (wide moving benchmark: 11 frames -> 2). Once a track's second
    # detection gives its motion, the padded frames also get the box moved back along it.
    pad_before_s: float = 0.5
    pad_after_s: float = 0.2

    def __post_init__(self) -> None:
        cats = tuple(self.categories)
        object.__setattr__(self, "categories", cats)
        if not cats:
            raise ConfigError(f"categories is empty; name at least one of {', '.join(CATEGORIES)}")
        unknown = [c for c in cats if c not in CATEGORIES]
        if unknown:
            raise ConfigError(
                f"unknown category {unknown[0]!r}; choose from {', '.join(CATEGORIES)}"
            )
        _choice("style", self.style, STYLES)
        _choice("device", self.device, DEVICES)
        _choice("encoder_preset", self.encoder_preset, X264_PRESETS)
        if not 0.0 <= self.continue_threshold < 1.0:
            raise ConfigError("continue_threshold must be 0 (off) or between 0 and 1, got "
                              f"{self.continue_threshold}")
        for name in ("face_threshold", "plate_threshold", "screen_threshold",
                     "text_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {value}")
        for name in ("face_size", "plate_size", "screen_size", "text_size"):
            value = getattr(self, name)
            if not 64 <= value <= 4096:
                raise ConfigError(f"{name} must be between 64 and 4096 pixels, got {value}")
        if self.face_coarse_size and not 64 <= self.face_coarse_size <= 4096:
            raise ConfigError(
                f"face_coarse_size must be 0 or 64..4096 pixels, got {self.face_coarse_size}"
            )
        if not 0.5 <= self.still_scale <= 4.0:
            raise ConfigError(f"still_scale must be between 0.5 and 4, got {self.still_scale}")
        if not 1.0 <= self.still_fine_scale <= 3.0:
            raise ConfigError(
                f"still_fine_scale must be between 1 and 3, got {self.still_fine_scale}")
        for cat, key in SECOND_MODELS:
            name, first = f"{key}_model", getattr(self, f"{cat}_model")
            if str(getattr(self, name)).lower() in ("", "none", "off"):
                object.__setattr__(self, name, None)
            if getattr(self, name) is not None and getattr(self, name) == first:
                raise ConfigError(f"{name} must differ from {cat}_model ({first!r}); set it "
                                  "to none to turn it off")
            threshold = getattr(self, f"{key}_threshold")
            if not 0.0 < threshold < 1.0:
                raise ConfigError(f"{key}_threshold must be between 0 and 1 (exclusive), got "
                                  f"{threshold}")
        if not 8 <= self.face_person_max_height <= 4096:
            raise ConfigError("face_person_max_height must be between 8 and 4096 pixels, got "
                              f"{self.face_person_max_height}")
        if not 0 <= self.face_still_tiles <= 8:
            raise ConfigError(
                f"face_still_tiles must be between 0 and 8, got {self.face_still_tiles}")
        if not 0 <= self.large_frame_tiles <= 6:
            raise ConfigError(
                f"large_frame_tiles must be between 0 and 6, got {self.large_frame_tiles}")
        if self.plate_tile_scale and not 0.25 <= self.plate_tile_scale <= 2.0:
            raise ConfigError(
                f"plate_tile_scale must be 0 or between 0.25 and 2, got {self.plate_tile_scale}")
        if not 1.0 <= self.plate_small_frame_scale <= 4.0:
            raise ConfigError("plate_small_frame_scale must be between 1 and 4, got "
                              f"{self.plate_small_frame_scale}")
        if not 1.0 <= self.large_frame_above <= 20.0:
            raise ConfigError(
                f"large_frame_above must be between 1 and 20, got {self.large_frame_above}")
        if not 0.0 <= self.margin <= 2.0:
            raise ConfigError(f"margin must be between 0 and 2, got {self.margin}")
        if not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be between 0 and 51, got {self.crf}")
        if not 1 <= self.detect_every <= 30:
            raise ConfigError(f"detect_every must be between 1 and 30, got {self.detect_every}")
        if not 1 <= self.detect_batch <= 64:
            raise ConfigError(f"detect_batch must be between 1 and 64, got {self.detect_batch}")
        _choice("verify_output", self.verify_output, VERIFY_CHOICES)
        if not 1 <= self.verify_every <= 300:
            raise ConfigError(f"verify_every must be between 1 and 300, got {self.verify_every}")
        if not 0.0 < self.verify_threshold < 1.0:
            raise ConfigError("verify_threshold must be between 0 and 1 (exclusive), got "
                              f"{self.verify_threshold}")
        if not 0.5 <= self.verify_scale <= 2.0 or self.verify_scale == 1.0:
            raise ConfigError("verify_scale must be between 0.5 and 2 and not 1 (the second "
                              f"look must differ from the first), got {self.verify_scale}")
        if not 0.0 < self.detect_gap_s <= 2.0:
            raise ConfigError(f"detect_gap_s must be above 0 and at most 2 seconds, got "
                              f"{self.detect_gap_s}")
        for name in ("coast_s", "gap_fill_s", "pad_before_s", "pad_after_s"):
            value = getattr(self, name)
            if not 0.0 <= value <= 10.0:
                raise ConfigError(f"{name} must be between 0 and 10 seconds, got {value}")
        if "screen" in cats and not self.screen_model:
            raise ConfigError(
                "category 'screen' needs a screen model and none is configured: add a YOLO "
                "weights file with `redact models add NAME WEIGHTS --classes tv=screen,"
                "laptop=screen` and pass `--screen-model NAME` (or set screen_model in a preset)"
            )

    def model_for(self, category: str) -> str:
        name = getattr(self, f"{category}_model")
        assert name is not None  # guaranteed by __post_init__ for requested categories
        return name

    def lookback_s(self) -> float:
        """How far back a later frame can still change an earlier one (sizes the buffer)."""
        if not self.tracking:
            return 0.0
        return max(self.gap_fill_s, self.pad_before_s)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["categories"] = list(self.categories)
        return data

    def digest(self) -> str:
        """sha256 of the settings that change the output (used to decide what to redo)."""
        data = self.to_dict()
        data.pop("offline")
        data.pop("detect_batch")  # groups frames per detector call; same regions
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


FIELD_TYPES = {f.name: f.type for f in fields(Config)}


@dataclass(frozen=True)
class Settings:
    """A ``Config`` together with the source of each field ("default", "preset:NAME", ...)."""

    config: Config
    sources: Mapping[str, str] = field(default_factory=dict)
    preset: str | None = None

    def describe(self) -> dict[str, dict[str, Any]]:
        values = self.config.to_dict()
        return {
            name: {"value": values[name], "source": self.sources.get(name, "default")}
            for name in values
        }


def _coerce(name: str, value: Any) -> Any:
    """Turn preset/CLI/env values into the field's type, with a message naming the field."""
    kind = FIELD_TYPES[name]
    try:
        if name == "categories":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            return tuple(str(v) for v in value)
        if kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return low in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        if value is None:
            return None
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r}: cannot use {value!r} as {kind}") from None


def _data_dir(kind: str) -> Path:
    """Where registry/preset files live: packaged copy first, then the source checkout."""
    packaged = Path(__file__).parent / "_data" / kind
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / kind


def preset_dir() -> Path:
    return _data_dir("pipelines")


def list_presets() -> list[str]:
    return sorted(p.stem for p in preset_dir().glob("*.toml"))


def load_preset(name_or_path: str) -> tuple[str, dict[str, Any]]:
    """Read a preset by name (``pipelines/NAME.toml``) or path; returns (label, values)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = preset_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(list_presets()) or "none"
        raise ConfigError(f"preset {name_or_path!r} not found; known presets: {known}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"preset {path}: cannot read it as TOML ({exc})") from None
    values = data.get("settings", {})
    if not isinstance(values, dict):
        raise ConfigError(f"preset {path}: [settings] must be a table")
    return f"preset:{path.stem}", values


ENV_VARS = {"offline": "REDACT_OFFLINE", "device": "REDACT_DEVICE"}


def load_settings(
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    override_source: str = "flag",
) -> Settings:
    """Resolve defaults, a preset, the environment and explicit overrides into ``Settings``.

    >>> s = load_settings(overrides={"style": "solid"}, override_source="api")
    >>> s.config.style, s.sources["style"], s.sources["crf"]
    ('solid', 'api', 'default')
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if preset:
        layers.append(load_preset(preset))
    env = {k: os.environ[v] for k, v in ENV_VARS.items() if os.environ.get(v)}
    layers.append(("env", env))
    layers.append((override_source, {k: v for k, v in (overrides or {}).items() if v is not None}))
    for label, layer in layers:
        for name, raw in layer.items():
            if name not in FIELD_TYPES:
                known = ", ".join(sorted(FIELD_TYPES))
                raise ConfigError(f"{label}: unknown setting {name!r}; known settings: {known}")
            values[name] = _coerce(name, raw)
            sources[name] = label
    config = Config(**values)
    return Settings(config=config, sources={n: sources.get(n, "default") for n in FIELD_TYPES},
                    preset=preset)
