"""Settings: one frozen, validated ``Config`` plus where each value came from.

Each category's settings are one section (``FaceSettings``, ``PlateSettings``, ...), read by
that category's detectors; the general settings sit beside them. A setting's canonical name is
dotted: ``face.threshold``, ``plate.size``, ``margin``. The flat names of before the sections
(``face_threshold``, ``plate_size``) are still accepted wherever settings are given: presets
(which may also use tables such as ``[settings.face]``), ``--set KEY=VALUE``, flags,
``load_settings(overrides=...)`` and ``Config(...)``.

Precedence, lowest first: built-in default < preset (TOML in ``pipelines/``) < environment
< explicit value (CLI flag or library argument). ``Settings.sources`` records which one won for
every setting; the audit record copies it so a reviewer can tell a deliberate choice from a
default.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from redact.errors import ConfigError

Style = Literal["blur", "pixelate", "solid"]
Device = Literal["auto", "cpu", "cuda"]
VerifyChoice = Literal["off", "stills", "all"]
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                     "slower", "veryslow"]
CATEGORIES = ("face", "plate", "screen", "text")
STYLES: tuple[str, ...] = get_args(Style)
DEVICES: tuple[str, ...] = get_args(Device)
VERIFY_CHOICES: tuple[str, ...] = get_args(VerifyChoice)
X264_PRESETS: tuple[str, ...] = get_args(X264Preset)

# How a setting can make the tool look less than the defaults do (``recall_reductions``): a
# value above the default, one below it, or turning it off. Margin and the tracker's padding
# change how much is painted around what was found, not what is looked at; a plan's margin is
# sealed (an edit of it is listed like any other).
HIGHER = {"recall": "higher"}
LOWER = {"recall": "lower"}
OFF = {"recall": "off"}


def _off_is_none(value: Any) -> Any:
    """A second model set to "none", "off" or "" is turned off (None)."""
    return None if str(value).lower() in ("", "none", "off") else value


Prob = Annotated[float, Field(gt=0, lt=1)]
Pixels = Annotated[int, Field(ge=64, le=4096)]
Seconds = Annotated[float, Field(ge=0, le=10)]
# The single value 0, which turns a pass off (a union member beside the pass's own range).
ZeroInt = Annotated[int, Field(ge=0, le=0)]
ZeroFloat = Annotated[float, Field(ge=0, le=0)]
SecondModel = Annotated[str | None, BeforeValidator(_off_is_none)]


class _Frozen(BaseModel):
    """Frozen, no unknown keys, and a ``ConfigError`` naming the setting on a bad value."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    category: ClassVar[str] = ""  # a section's name ("face"); "" for the whole Config

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc, type(self)) from None


def _differs(name: str, value: str | None, first: str | None) -> None:
    if value is not None and value == first:
        raise ValueError(f"{name} must differ from {name.split('.')[0]}.model ({first!r}); "
                         "set it to none to turn it off")


class FaceSettings(_Frozen):
    """Faces: the model, and the models and passes beside it."""

    category: ClassVar[str] = "face"
    # Which registered model serves the category (see ``models/registry.toml``).
    model: str = "centerface"
    threshold: Prob = Field(0.1, json_schema_extra=HIGHER)
    # Long side, in pixels, of the resized copy the detector sees.
    size: Pixels = Field(960, json_schema_extra=LOWER)
    # Second, coarse face pass (0 turns it off); see detect/centerface.py.
    coarse_size: ZeroInt | Pixels = Field(480, json_schema_extra=LOWER)
    # Stills: the face model also looks at overlapping tiles (this many across the long side),
    # each enlarged to ``size``, for faces a few pixels across. 0 or 1 turns it off.
    still_tiles: int = Field(4, ge=0, le=8, json_schema_extra=LOWER)
    # A second face model of another family, run beside ``model`` on every detected frame:
    # a face either model finds is redacted. None turns it off.
    second_model: SecondModel = Field("yunet", json_schema_extra=OFF)
    second_threshold: Prob = Field(0.5, json_schema_extra=HIGHER)
    # Stills: people too far away for any face model (heads of 1-3 px in a crowd photo) are
    # still found as people by this COCO model; the head end of each person under
    # ``person_max_height`` px is painted as a face. Video frames never use it (cost).
    person_model: SecondModel = Field("mb3-centernet-coco", json_schema_extra=OFF)
    person_threshold: Prob = Field(0.25, json_schema_extra=HIGHER)
    person_max_height: int = Field(80, ge=8, le=4096, json_schema_extra=LOWER)

    @model_validator(mode="after")
    def _others_differ(self) -> FaceSettings:
        _differs("face.second_model", self.second_model, self.model)
        _differs("face.person_model", self.person_model, self.model)
        return self


class PlateSettings(_Frozen):
    """Licence plates."""

    category: ClassVar[str] = "plate"
    model: str = "fastanpr-plate"
    threshold: Prob = Field(0.15, json_schema_extra=HIGHER)
    size: Pixels = Field(800, json_schema_extra=LOWER)
    # Large frames (see Config.large_frame_tiles): the plate model's tiles are small enough
    # that it sees the frame at least at this scale (2560x1920: 4x3 tiles at 800 px): angled
    # plates cut tight, shrunk into the input, go unseen (benchmarks/RESULTS.md). 0 keeps
    # large_frame_tiles.
    tile_scale: ZeroFloat | Annotated[float, Field(ge=0.25, le=2.0)] = Field(
        1.0, json_schema_extra=LOWER)
    # Small frames (long side under ``size``): the plate model also looks at the frame
    # enlarged this many times (at most 2 × size): the model is scale-sensitive, and 25 px
    # plates on 768x432 footage are found at 2× that it misses at 1×. 1 turns it off.
    small_frame_scale: float = Field(2.0, ge=1.0, le=4.0, json_schema_extra=LOWER)


class ScreenSettings(_Frozen):
    """Screens (monitors, laptops, phones)."""

    category: ClassVar[str] = "screen"
    model: str | None = "screens-yolov8n"
    # 0.7, not 0.3: our screen model's scores on stills are poorly calibrated (at 0.3 it
    # painted a screen on 17 of 50 screen-free photos); the second screen model carries most
    # of the recall, and on video our model's boxes down to continue_threshold still continue
    # a screen track (benchmarks/RESULTS.md, screens).
    threshold: Prob = Field(0.7, json_schema_extra=HIGHER)
    # The model was trained at 640 px; larger inputs (stills get 1.5x and 2x this) paint many
    # false screens (models/screens/MODEL_CARD.md).
    size: Pixels = Field(448, json_schema_extra=LOWER)
    # A COCO-trained detector (its tv, laptop and cell phone) beside our own screen model. On
    # the held-out COCO screens it alone covered 74% of the boxes at 0.1, ours 29%
    # (models/screens/MB3_CENTERNET_CARD.md).
    second_model: SecondModel = Field("mb3-centernet-coco", json_schema_extra=OFF)
    second_threshold: Prob = Field(0.1, json_schema_extra=HIGHER)

    @model_validator(mode="after")
    def _second_differs(self) -> ScreenSettings:
        _differs("screen.second_model", self.second_model, self.model)
        return self


class TextSettings(_Frozen):
    """Text; the threshold is the mean text probability inside a region (DB detection,
    detect/text.py)."""

    category: ClassVar[str] = "text"
    model: str = "ppocrv4-det"
    threshold: Prob = Field(0.4, json_schema_extra=HIGHER)
    size: Pixels = Field(1280, json_schema_extra=LOWER)


Section = FaceSettings | PlateSettings | ScreenSettings | TextSettings


class Config(_Frozen):
    """Every knob of a run. Validated on construction; never mutated afterwards.

    >>> Config(face_threshold=0.2).face.threshold  # a flat name of before the sections
    0.2
    >>> Config(**{"plate.size": 960}).plate.size
    960
    """

    categories: tuple[str, ...] = ("face", "plate")
    style: Style = "blur"
    device: Device = "auto"
    face: FaceSettings = Field(default_factory=FaceSettings)
    plate: PlateSettings = Field(default_factory=PlateSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    # Plates and screens scoring at least this but under their threshold are candidates: the
    # tracker uses one only to continue a track that a box over the threshold started (the
    # low-score pass of ByteTrack); alone, a candidate is never painted. A 25 px front plate
    # driving at the camera scored 0.06-0.12 in the frames between its detections
    # (benchmarks/RESULTS.md). 0 turns it off.
    continue_threshold: float = Field(0.05, ge=0.0, lt=1.0, json_schema_extra=HIGHER)
    # Still images are one frame, so their detectors get inputs this many times larger.
    still_scale: float = Field(1.5, ge=0.5, le=4.0, json_schema_extra=LOWER)
    # Stills: YOLO detectors (plates, screens) also run a second pass at this multiple of their
    # still input. The plate model is scale-sensitive: each size finds plates the other misses.
    # 1 turns it off.
    still_fine_scale: float = Field(1.33, ge=1.0, le=3.0, json_schema_extra=LOWER)
    # Large frames (wide-angle body cameras): the face and plate models also run on
    # overlapping tiles (this many across the long side, each at the model's input size) when
    # the frame's long side is at least large_frame_above × that input. 0 or 1 turns it off.
    large_frame_tiles: int = Field(2, ge=0, le=6, json_schema_extra=LOWER)
    large_frame_above: float = Field(2.5, ge=1.0, le=20.0, json_schema_extra=HIGHER)
    # Each box grows by this fraction of its size on every side before rendering.
    margin: float = Field(0.2, ge=0.0, le=2.0)
    crf: int = Field(18, ge=0, le=51)
    encoder_preset: X264Preset = "medium"
    keep_metadata: bool = False
    offline: bool = False
    # Temporal stages (tracking, look-back buffer).
    # 4, not 3: with both at 1080p, 3 measured 0.41–0.44× bare decode→encode and 4 0.46–0.49×
    # (benchmarks/RESULTS.md); coverage between detections comes from StrideCover either way.
    detect_every: int = Field(4, ge=1, le=30, json_schema_extra=HIGHER)
    # ... and never more than this many seconds apart (low frame rates, long strides), and
    # always on the last frame: coverage between detected frames assumes a short, straight path.
    detect_gap_s: float = Field(0.5, gt=0.0, le=2.0, json_schema_extra=HIGHER)
    # Detected frames per detector call (a GPU wants batches; on CPU 1 keeps latency and
    # memory lowest). Same regions whatever the value (tests/test_batched.py).
    detect_batch: int = Field(1, ge=1, le=64)
    # The second look at each output (audit/second_look.py): "off", "stills" or "all" (video
    # too). Video is checked on every ``verify_every``-th frame and the last one, with every
    # detector input scaled by ``verify_scale``; a detection scoring ``verify_threshold`` or
    # more outside the paint is flagged. Below about 0.3 the face model flags crockery and
    # shelves in every frame of the moving benchmark (benchmarks/RESULTS.md).
    verify_output: VerifyChoice = "stills"
    verify_every: int = Field(5, ge=1, le=300)
    verify_threshold: Prob = 0.3
    verify_scale: float = Field(1.25, ge=0.5, le=2.0)
    tracking: bool = Field(True, json_schema_extra=OFF)
    coast_s: Seconds = 0.5
    gap_fill_s: Seconds = 1.0
    # 0.5, not 0.2: a small angled plate first found half a second after it came into view
    # leaked in those frames (wide moving benchmark: 11 frames -> 2). Once a track's second
    # detection gives its motion, the padded frames also get the box moved back along it.
    pad_before_s: Seconds = 0.5
    pad_after_s: Seconds = 0.2
    # Settings that look less than the defaults do (recall_reductions) are refused unless
    # accepted here; then the audit names each one and every output frame gets a second look.
    accept_recall_loss: bool = False
    # `redact render` refuses plans that no reviewer approved.
    require_approval: bool = False

    @model_validator(mode="before")
    @classmethod
    def _into_sections(cls, data: Any) -> Any:
        """Dotted names (``face.threshold``) and the old flat ones (``face_threshold``) go
        into their section; a given section (dict or model) is the base they update."""
        if not isinstance(data, Mapping):
            return data
        flat = flatten(data)
        for name, value in flat.items():  # pydantic would take True as 1
            if isinstance(value, bool) and name in FIELDS and FIELDS[name].annotation is int:
                raise ValueError(f"setting {name!r}: cannot use {value!r} as a whole number")
        return nest(flat)

    @field_validator("categories", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("categories")
    @classmethod
    def _known(cls, cats: tuple[str, ...]) -> tuple[str, ...]:
        if not cats:
            raise ValueError(f"categories is empty; name at least one of {', '.join(CATEGORIES)}")
        unknown = [c for c in cats if c not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown category {unknown[0]!r}; choose from "
                             f"{', '.join(CATEGORIES)}")
        return cats

    @model_validator(mode="after")
    def _across_settings(self) -> Config:
        if self.verify_scale == 1.0:
            raise ValueError("verify_scale must not be 1 (the second look must differ from "
                             "the first)")
        if "screen" in self.categories and not self.screen.model:
            raise ValueError(
                "category 'screen' needs a screen model and none is configured: add a YOLO "
                "weights file with `redact models add NAME WEIGHTS --classes tv=screen,"
                "laptop=screen` and pass `--screen-model NAME` (or set screen.model in a "
                "preset)")
        return self

    def sections(self) -> dict[str, Section]:
        """Each category's own settings, by category."""
        return {"face": self.face, "plate": self.plate, "screen": self.screen,
                "text": self.text}

    def section(self, category: str) -> Section:
        return self.sections()[category]

    def model_for(self, category: str) -> str:
        name = self.section(category).model
        assert name is not None  # guaranteed by the validators for requested categories
        return name

    def lookback_s(self) -> float:
        """How far back a later frame can still change an earlier one (sizes the buffer)."""
        if not self.tracking:
            return 0.0
        return max(self.gap_fill_s, self.pad_before_s)

    def to_dict(self) -> dict[str, Any]:
        """Nested: general settings, and one dict per section. ``Config(**d)`` rebuilds it."""
        return self.model_dump(mode="json")

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` (dotted, flat or section names), validated like a new one
        (``model_copy`` would not validate)."""
        return Config(**{**flatten(self.to_dict()), **flatten(changes)})

    def digest(self) -> str:
        """sha256 of the settings that change the output (used to decide what to redo)."""
        data = self.to_dict()
        data.pop("offline")
        data.pop("detect_batch")  # groups frames per detector call; same regions
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


SECTIONS: dict[str, type[Section]] = {
    "face": FaceSettings, "plate": PlateSettings, "screen": ScreenSettings, "text": TextSettings}
# The names of before the sections: face_threshold → face.threshold, plate_size → plate.size.
FLAT_NAMES = {f"{cat}_{name}": f"{cat}.{name}"
              for cat, model in SECTIONS.items() for name in model.model_fields}


def _leaf_fields() -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for name, info in Config.model_fields.items():
        if name in SECTIONS:
            out.update({f"{name}.{n}": i for n, i in SECTIONS[name].model_fields.items()})
        else:
            out[name] = info
    return out


# Every setting by its dotted name, in the order of ``Config``.
FIELDS = _leaf_fields()
RECALL = {name: info.json_schema_extra["recall"] for name, info in FIELDS.items()
          if isinstance(info.json_schema_extra, dict) and "recall" in info.json_schema_extra}


def flatten(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings by dotted name, from sections (dicts or models), dotted or flat names; a
    dotted or flat name wins over the same setting inside a given section.

    >>> flatten({"face": {"threshold": 0.2}, "plate_size": 960, "margin": 0.3})
    {'face.threshold': 0.2, 'plate.size': 960, 'margin': 0.3}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in SECTIONS and isinstance(value, BaseModel):
            value = value.model_dump()
        if key in SECTIONS and isinstance(value, Mapping):
            out.update({f"{key}.{name}": v for name, v in value.items()})
    for key, value in values.items():
        if not (key in SECTIONS and isinstance(value, BaseModel | Mapping)):
            out[FLAT_NAMES.get(key, key)] = value
    return out


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted names into one dict per section (the inverse of ``flatten``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        cat, dot, name = key.partition(".")
        if dot and cat in SECTIONS and isinstance(out.setdefault(cat, {}), dict):
            out[cat][name] = value
        else:
            out[key] = value
    return out


_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def config_error(exc: ValidationError, model: type[BaseModel] = Config) -> ConfigError:
    """One ``ConfigError`` for pydantic's errors, each naming the setting by dotted name."""
    messages: list[str] = []
    for err in exc.errors():
        text = _message(err, model)
        if text not in messages:
            messages.append(text)
    return ConfigError("; ".join(messages))


def _message(err: Any, model: type[BaseModel]) -> str:
    name, info = _field_at(err["loc"], model)
    kind, value = err["type"], err.get("input")
    if kind == "value_error":  # our own validators' messages name their settings
        return str(err["ctx"]["error"])
    if kind == "extra_forbidden":
        return f"unknown setting {name!r}; known settings: {', '.join(FIELDS)}"
    if kind == "literal_error" and info is not None:
        allowed = ", ".join(map(str, get_args(info.annotation)))
        return f"{name} must be one of {allowed}; got {value!r}"
    if kind in _RANGE_ERRORS and info is not None:
        return f"{name} must be {_allowed(info)}, got {value}"
    return f"setting {name!r}: cannot use {value!r} ({err['msg']})"


def _field_at(loc: tuple[Any, ...], model: type[BaseModel]) -> tuple[str, FieldInfo | None]:
    """The dotted name and field of an error's location (past a union member's tag or a
    tuple index, which name no field)."""
    names = [model.category] if getattr(model, "category", "") else []
    info: FieldInfo | None = None
    current: Any = model
    for i, part in enumerate(loc):
        known = current.model_fields if isinstance(current, type) and \
            issubclass(current, BaseModel) else {}
        if part not in known:
            if known:  # an unknown key of a model: name it as given
                names += [str(p) for p in loc[i:]]
            break
        names.append(str(part))
        info = known[part]
        current = info.annotation
    return ".".join(names), info


def _allowed(info: FieldInfo) -> str:
    """A numeric setting's constraints in words: "between 0 and 1 (exclusive)", or for a
    union, each member's: "0 (off) or between 64 and 4096"."""
    spans = [info.metadata]
    for member in get_args(info.annotation):
        if get_origin(member) is Annotated:
            spans += [m.metadata for m in get_args(member)[1:] if isinstance(m, FieldInfo)]
    return " or ".join(text for text in map(_span, spans) if text)


def _span(metadata: list[Any]) -> str:
    bound = {k: getattr(m, k) for m in metadata for k in ("gt", "ge", "lt", "le")
             if hasattr(m, k)}
    lo, hi = bound.get("gt", bound.get("ge")), bound.get("lt", bound.get("le"))
    if lo is None or hi is None:
        return ""
    if lo == hi:
        return f"{lo:g} (off)"
    text = f"between {lo:g} and {hi:g}"
    if "gt" in bound and "lt" in bound:
        return f"{text} (exclusive)"
    if "gt" in bound or "lt" in bound:
        return f"{text} (exclusive of {bound.get('gt', bound.get('lt')):g})"
    return text


def recall_reductions(config: Config) -> list[str]:
    """Each way ``config`` looks less than the defaults do, in words.

    >>> recall_reductions(Config(tracking=False, detect_every=10))
    ['detect_every 10 (default 4: higher lowers recall)', 'tracking off (default on)']
    >>> recall_reductions(Config(categories=("face",)))
    ['category plate dropped (default face, plate)']
    >>> recall_reductions(Config(face_size=640, screen_second_model="none"))
    ['face.size 640 (default 960: lower lowers recall)',
     'screen.second_model off (default mb3-centernet-coco)']
    """
    default = Config()
    out = [f"category {c} dropped (default {', '.join(default.categories)})"
           for c in default.categories if c not in config.categories]
    now, was = flatten(config.to_dict()), flatten(default.to_dict())
    for name, how in sorted(RECALL.items()):
        value, base = now[name], was[name]
        if how == "off" and base and not value:
            out.append(f"{name} off (default {'on' if base is True else base})")
        elif how == "higher" and value > base:
            out.append(f"{name} {value} (default {base}: higher lowers recall)")
        elif how == "lower" and value < base:
            out.append(f"{name} {value} (default {base}: lower lowers recall)")
    if config.continue_threshold == 0 and default.continue_threshold:
        out.append(f"continue_threshold 0 (off; default {default.continue_threshold})")
    return out


@dataclass(frozen=True)
class Settings:
    """A ``Config`` together with the source of each setting ("default", "preset:NAME", ...),
    by dotted name."""

    config: Config
    sources: Mapping[str, str] = field(default_factory=dict)
    preset: str | None = None

    def describe(self) -> dict[str, dict[str, Any]]:
        values = flatten(self.config.to_dict())
        return {
            name: {"value": values[name], "source": self.sources.get(name, "default")}
            for name in values
        }


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
    """Read a preset by name (``pipelines/NAME.toml``) or path; returns (label, values), the
    values as written (a section's table, e.g. ``[settings.face]``, is a nested dict)."""
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
    Settings may be named dotted (``face.threshold``) or flat (``face_threshold``); sources
    are recorded by dotted name.

    >>> s = load_settings(overrides={"style": "solid", "face_threshold": "0.2"},
    ...                   override_source="api")
    >>> s.config.style, s.sources["style"], s.sources["crf"]
    ('solid', 'api', 'default')
    >>> s.config.face.threshold, s.sources["face.threshold"]
    (0.2, 'api')
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
        for name, raw in flatten(layer).items():
            if name not in FIELDS:
                known = ", ".join(FIELDS)
                raise ConfigError(f"{label}: unknown setting {name!r}; known settings: {known}")
            values[name] = raw
            sources[name] = label
    config = Config(**values)
    return Settings(config=config, sources={n: sources.get(n, "default") for n in FIELDS},
                    preset=preset)
