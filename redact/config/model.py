"""``Config``: every knob of a run, general settings beside one section per category; the
names settings go by (dotted, and the flat ones of before the sections); and how a config
looks less than the defaults do."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

from redact.config.sections import (
    CATEGORIES,
    HIGHER,
    LOWER,
    OFF,
    Device,
    FaceSettings,
    HeadSettings,
    PersonSettings,
    PlateSettings,
    Precision,
    Prob,
    ScreenSettings,
    Seconds,
    Section,
    Style,
    TextSettings,
    VerifyChoice,
    X264Preset,
    _Frozen,
)


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
    # "auto": on the CPU, a model with an int8 twin in models/int8/ runs as that twin (about
    # twice as fast; recall parity measured per model in models/int8/MODEL_CARD.md); on a GPU,
    # and with "float", the float model runs. The audit names the model that ran.
    precision: Precision = "auto"
    face: FaceSettings = Field(default_factory=FaceSettings)
    plate: PlateSettings = Field(default_factory=PlateSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    head: HeadSettings = Field(default_factory=HeadSettings)
    person: PersonSettings = Field(default_factory=PersonSettings)
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
    # Dark frames (a body camera at night): a frame whose mean brightness is under this (of
    # 255) is looked at twice, as recorded and brightened to a mean of about 100, and what
    # either look finds is redacted; what is written is the frame as recorded
    # (detect/exposure.py). The annotated daylight clips lie at 53-148 (their darkest frame:
    # 53): none of their frames is looked at twice. Recorded again underexposed (a mean of
    # 6-39) they left readable plates uncovered (benchmarks/RESULTS.md, *dark*). 0 turns it
    # off.
    dark_below: float = Field(48.0, ge=0.0, le=255.0, json_schema_extra=LOWER)
    # Each box grows by this fraction of its size on every side before rendering; face
    # boxes by less above and below (face.margin_above, face.margin_below; render/paint.py).
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
    # leaked in those frames (wide moving benchmark: 11 frames -> 2). Once a second confident
    # detection gives a track's motion, the padded frames also get the box moved back along
    # it (tracker.py ``_rematch``).
    pad_before_s: Seconds = 0.5
    pad_after_s: Seconds = 0.2
    # A track last seen at the frame's edge and moving out through it keeps coasting, while
    # its predicted box is still partly inside, up to this long (tracker.py ``_leaving``).
    edge_coast_s: Seconds = Field(1.5, json_schema_extra=LOWER)
    # Settings that look less than the defaults do (recall_reductions) are refused unless
    # accepted here; then the audit names each one and every output frame gets a second look.
    accept_recall_loss: bool = False
    # `redact render` refuses plans that no reviewer approved.
    require_approval: bool = False
    # --- spoken personal data (redact/speech/, README "Speech") ---------------------------
    # Transcribe every audio stream offline and suggest ranges to mute (plan audio[], source
    # "suggested"; muted unless a reviewer rejects them). Off: video redaction is unchanged.
    audio_pii: bool = False
    # A clerk's names to find (--names FILE: UTF-8, one per line), beside the shipped list.
    audio_pii_names: str | None = None
    # Seconds added before each suggested range (after it: at least 0.3 s), and muted after a
    # cue word ("my name is", "date of birth"); chosen on the tune half of the speech
    # benchmark (benchmarks/speech.py, Whisper tiny.en).
    audio_pii_pad_s: float = Field(0.2, ge=0.0, le=5.0, json_schema_extra=LOWER)
    audio_pii_cue_s: float = Field(2.0, ge=0.0, le=10.0, json_schema_extra=LOWER)
    # A folder for the redacted transcript (WebVTT, muted words as [redacted]) of each output.
    transcript_out: str | None = None

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
                "text": self.text, "head": self.head, "person": self.person}

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
    "face": FaceSettings, "plate": PlateSettings, "screen": ScreenSettings, "text": TextSettings,
    "head": HeadSettings, "person": PersonSettings}
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

