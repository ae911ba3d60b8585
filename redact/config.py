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
    # Settings that look less than the defaults do (recall_reductions) are refused unless
    # accepted here; then the audit names each one and every output frame gets a second look.
    accept_recall_loss: bool = False
    # `redact render` refuses plans that no reviewer approved.
    require_approval: bool = False

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
        for name, allowed in CHOICES.items():
            _choice(name, getattr(self, name), allowed)
        for cat, key in SECOND_MODELS:
            name, first = f"{key}_model", getattr(self, f"{cat}_model")
            if str(getattr(self, name)).lower() in ("", "none", "off"):
                object.__setattr__(self, name, None)
            if getattr(self, name) is not None and getattr(self, name) == first:
                raise ConfigError(f"{name} must differ from {cat}_model ({first!r}); set it "
                                  "to none to turn it off")
        for name, rule in RANGES.items():
            rule.check(name, getattr(self, name))
        if self.verify_scale == 1.0:
            raise ConfigError("verify_scale must not be 1 (the second look must differ from "
                              "the first)")
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


@dataclass(frozen=True)
class Range:
    """Allowed values of a numeric setting: lo..hi, ends exclusive where said; ``off`` is
    also allowed (the value that turns the feature off)."""

    lo: float
    hi: float
    unit: str = ""
    lo_open: bool = False
    hi_open: bool = False
    off: float | None = None

    def check(self, name: str, value: float) -> None:
        if self.off is not None and value == self.off:
            return
        low_ok = value > self.lo if self.lo_open else value >= self.lo
        high_ok = value < self.hi if self.hi_open else value <= self.hi
        if not (low_ok and high_ok):
            span = f"between {self.lo:g} and {self.hi:g}{self.unit}"
            if self.lo_open and self.hi_open:
                span += " (exclusive)"
            off = f"{self.off:g} (off) or " if self.off is not None else ""
            raise ConfigError(f"{name} must be {off}{span}, got {value}")


_PROB = Range(0.0, 1.0, lo_open=True, hi_open=True)
_PIXELS = Range(64, 4096, " pixels")
_SECONDS = Range(0.0, 10.0, " seconds")
RANGES: dict[str, Range] = {
    "continue_threshold": Range(0.0, 1.0, hi_open=True),
    "face_threshold": _PROB, "plate_threshold": _PROB, "screen_threshold": _PROB,
    "text_threshold": _PROB, "face_second_threshold": _PROB, "screen_second_threshold": _PROB,
    "face_person_threshold": _PROB, "verify_threshold": _PROB,
    "face_size": _PIXELS, "plate_size": _PIXELS, "screen_size": _PIXELS, "text_size": _PIXELS,
    "face_coarse_size": Range(64, 4096, " pixels", off=0),
    "still_scale": Range(0.5, 4.0), "still_fine_scale": Range(1.0, 3.0),
    "face_person_max_height": Range(8, 4096, " pixels"),
    "face_still_tiles": Range(0, 8), "large_frame_tiles": Range(0, 6),
    "plate_tile_scale": Range(0.25, 2.0, off=0), "plate_small_frame_scale": Range(1.0, 4.0),
    "large_frame_above": Range(1.0, 20.0), "margin": Range(0.0, 2.0), "crf": Range(0, 51),
    "detect_every": Range(1, 30), "detect_batch": Range(1, 64), "verify_every": Range(1, 300),
    "verify_scale": Range(0.5, 2.0), "detect_gap_s": Range(0.0, 2.0, " seconds", lo_open=True),
    "coast_s": _SECONDS, "gap_fill_s": _SECONDS, "pad_before_s": _SECONDS,
    "pad_after_s": _SECONDS,
}
CHOICES = {"style": STYLES, "device": DEVICES, "encoder_preset": X264_PRESETS,
           "verify_output": VERIFY_CHOICES}

# How each setting can make the tool look less than the defaults do: "higher" means a value
# above the default lowers recall, "lower" a value below it, "off" turning it off. Margin and
# the tracker's padding change how much is painted around what was found, not what is looked
# at; a plan's margin is sealed (an edit of it is listed like any other).
RECALL = {
    "face_threshold": "higher", "plate_threshold": "higher", "screen_threshold": "higher",
    "text_threshold": "higher", "face_second_threshold": "higher",
    "screen_second_threshold": "higher", "face_person_threshold": "higher",
    "continue_threshold": "higher", "detect_every": "higher", "detect_gap_s": "higher",
    "large_frame_above": "higher",
    "face_size": "lower", "plate_size": "lower", "screen_size": "lower", "text_size": "lower",
    "face_coarse_size": "lower", "face_still_tiles": "lower", "large_frame_tiles": "lower",
    "plate_tile_scale": "lower", "plate_small_frame_scale": "lower", "still_scale": "lower",
    "still_fine_scale": "lower", "face_person_max_height": "lower",
    "tracking": "off", "face_second_model": "off", "screen_second_model": "off",
    "face_person_model": "off",
}


def recall_reductions(config: Config) -> list[str]:
    """Each way ``config`` looks less than the defaults do, in words.

    >>> recall_reductions(Config(tracking=False, detect_every=10))
    ['detect_every 10 (default 4: higher lowers recall)', 'tracking off (default on)']
    >>> recall_reductions(Config(categories=("face",)))
    ['category plate dropped (default face, plate)']
    """
    default = Config()
    out = [f"category {c} dropped (default {', '.join(default.categories)})"
           for c in default.categories if c not in config.categories]
    for name, how in sorted(RECALL.items()):
        value, base = getattr(config, name), getattr(default, name)
        if how == "off" and base and not value:
            out.append(f"{name} off (default {'on' if base is True else base})")
        elif how == "higher" and value > base:
            out.append(f"{name} {value} (default {base}: higher lowers recall)")
        elif how == "lower" and value < base:
            out.append(f"{name} {value} (default {base}: lower lowers recall)")
    if config.continue_threshold == 0 and default.continue_threshold:
        out.append(f"continue_threshold 0 (off; default {default.continue_threshold})")
    return out


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
