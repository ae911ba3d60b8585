"""The settings' types and one section per category (``FaceSettings``, ``PlateSettings``,
...), each read by that category's detectors."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from redact.config.messages import config_error

Style = Literal["blur", "pixelate", "solid"]
Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "float"]
VerifyChoice = Literal["off", "stills", "all"]
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                     "slower", "veryslow"]
CATEGORIES = ("face", "plate", "screen", "text", "head", "person")
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
    # Video: the fine pass enlarges a frame at most this many times (stills keep ``size``).
    # 1.0: a 640x360 frame is looked at once at 640 px, not at 960 plus a coarse 480 pass;
    # on the annotated real footage of 480x270 to 768x432 no face leaked that did not leak at
    # 960 (benchmarks/RESULTS.md, speed). 4: enlarge up to ``size`` (the old behaviour).
    max_upscale: float = Field(1.0, ge=1.0, le=4.0, json_schema_extra=LOWER)
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
    # Video: a face track whose detections all score under this is tentative, painted only
    # once a second detection continues it (the frames before are filled back from the
    # look-back buffer); one that never is, is dropped. Tree tops and car bodies score
    # 0.1-0.2 for a single frame. 0 paints every detection (tracker.py).
    confirm_score: float = Field(0.5, ge=0.0, le=1.0, json_schema_extra=HIGHER)
    # ... or once the second model sees a face there scoring at least this (under its own
    # threshold: such a box alone is never painted).
    agree_threshold: float = Field(0.2, ge=0.05, lt=1.0, json_schema_extra=HIGHER)
    # Face boxes grow by ``margin`` × their width on each side, as every box does, but only
    # by these fractions of it × their height above and below: the margin follows where the
    # detectors' boxes miss the face (real footage, tune half; benchmarks/RESULTS.md
    # *real-footage-margin*). The annotated face (ear or cheek edge to edge) reaches past the
    # box's sides by up to 0.3-0.5 of its width on turned faces, while its hairline and chin
    # lie within a tenth of the box's height of its top and bottom; below the chin is the
    # neck, painted for nothing (the most of the paint on nothing beside large faces). At
    # 0.5 no readable face of the tune half falls under 90% covered that did not at 1 (the
    # lowest stay 92%, and 82% for a turned face whose box is 62% of its width); 0.25 below
    # leaked three, and sides grown by 0.15 of the width instead of 0.2 leaked two.
    margin_above: float = Field(0.5, ge=0.0, le=4.0)
    margin_below: float = Field(0.5, ge=0.0, le=4.0)
    # ... but never by less than the whole margin of a face this many px tall: on small
    # faces the detectors miss by pixels, not by a share of the box (at half the margin two
    # faces of 4 and 12 px leaked on the photo tune half; benchmarks/leak_images.py). Faces
    # up to this tall grow by the whole margin on every side. 0: no floor.
    margin_full_height: int = Field(16, ge=0, le=4096)
    # A turned face's box is widened on the side the face reaches (its far cheek and ear) by
    # this × its width × how far past frontal the landmarks say it is turned
    # (detect/landmarks.py). 0: boxes as the models give them.
    turn_reach: float = Field(0.5, ge=0.0, le=2.0, json_schema_extra=LOWER)

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
    # that it sees the frame at least at this scale (2560x1920: 4x3 tiles at 800 px; at 0.5,
    # 2x2 tiles of up to 1600 px): angled plates cut tight, shrunk into the input, go unseen
    # (benchmarks/RESULTS.md). 0 keeps large_frame_tiles.
    tile_scale: ZeroFloat | Annotated[float, Field(ge=0.25, le=2.0)] = Field(
        1.0, json_schema_extra=LOWER)
    # Small frames (long side under ``size``): the plate model also looks at the frame
    # enlarged this many times (at most 2 × size): the model is scale-sensitive, and 25 px
    # plates on 768x432 footage are found at 2× that it misses at 1×. 1 turns it off.
    small_frame_scale: float = Field(2.0, ge=1.0, le=4.0, json_schema_extra=LOWER)
    # ... on video, not the whole frame but square windows (a fifth of the long side)
    # around the whole-frame pass's boxes scoring at least this, at most 4 a frame: the
    # enlarged whole frame cost the most of any pass at 640x360 (benchmarks/RESULTS.md,
    # speed). From 0.05, not 0.01: at 0.01 the windows went around nearly every patch of
    # texture (56 windows in 24 detected frames of a 640x360 clip without a plate, 7 at
    # 0.05), 7% of a 640x360 run's CPU time, while the small-plates tune half and the real
    # footage's tune plates kept every plate they had (95/106, 10/10; benchmarks/RESULTS.md,
    # *closer-floor*). 0: the whole frame enlarged, as on stills.
    closer_threshold: float = Field(0.05, ge=0.0, lt=1.0, json_schema_extra=HIGHER)
    # Video: the whole-frame pass enlarges a frame at most this many times (the closer look
    # and the vehicle crops enlarge where plates can be). 4: up to ``size``.
    max_upscale: float = Field(1.0, ge=1.0, le=4.0, json_schema_extra=LOWER)
    # Video and stills: a COCO model finds vehicles (car, motorcycle, bus, truck) on each
    # detected frame, and the plate model looks again at the crop around each, enlarged so
    # that the vehicle is ``vehicle_size`` px long (at most 4x): small and angled plates keep
    # roughly their share of a vehicle. On the held-out half of plates shrunk to 10-50 px and
    # turned 15-75 degrees, with real car-park frames, the plate detector covered 95 of 105
    # with it, 49 without (benchmarks/RESULTS.md, small-plates). 0 or a vehicle_model of none
    # turns it off.
    vehicle_model: SecondModel = Field("mb3-centernet-coco", json_schema_extra=OFF)
    vehicle_threshold: Prob = Field(0.05, json_schema_extra=HIGHER)
    vehicle_size: ZeroInt | Pixels = Field(640, json_schema_extra=LOWER)
    # A second plate model run beside ``model`` on every detected frame, on the whole frame
    # (and the windows of small frames) but not the vehicle crops: a plate either model
    # finds is redacted. Ours, fine-tuned from fastanpr-plate on small, angled and washed-out
    # plates (models/plates/MODEL_CARD.md): fastanpr scored a 23 px white plate on a white
    # car seen from above under 0.02 at every scale; alone, ours lost close-up plates of
    # 300-450 px on photos that fastanpr covers. None turns it off. Threshold: on the real
    # footage's tune half the float model at 0.15 painted words on a sweater and a monitor's
    # logo (paint where nothing is 0.88% -> 1.04%), at 0.3 0.90%. Its int8 twin, which video
    # runs on the CPU, scores such patches higher: 0.96% at 0.3, 0.88% at 0.4, with no
    # readable plate left and the small-plates tune half as covered as at 0.3 (95/106; 0.5
    # lost one, 94/106). max-recall keeps 0.3.
    second_model: SecondModel = Field("plates-yolov8n", json_schema_extra=OFF)
    second_threshold: Prob = Field(0.4, json_schema_extra=HIGHER)
    # The second model's own closer look and tiles. Its closer-look windows go around its
    # boxes from 0.05 (chosen while the first model's ``closer_threshold`` was 0.01): the
    # small-plates tune half kept every plate at 0.05-0.2 (95/106), and its cost at 640x360
    # fell from 1.8 to 1.0 CPU s per 23 detected frames. Its tiles see a large frame at half
    # scale (2560x1920: 2x2 tiles, against the first model's 4x3 at full scale): it was
    # trained on plates of 10-160 px, and the wide moving scene's turned plates (70-300 px)
    # stay covered, at a third of the tiles' cost.
    second_closer_threshold: float = Field(0.05, ge=0.0, lt=1.0, json_schema_extra=HIGHER)
    second_tile_scale: ZeroFloat | Annotated[float, Field(ge=0.25, le=2.0)] = Field(
        0.5, json_schema_extra=LOWER)

    @model_validator(mode="after")
    def _vehicle_differs(self) -> PlateSettings:
        _differs("plate.vehicle_model", self.vehicle_model, self.model)
        _differs("plate.second_model", self.second_model, self.model)
        return self


class ScreenSettings(_Frozen):
    """Screens (monitors, laptops, phones)."""

    category: ClassVar[str] = "screen"
    model: str | None = "screens-yolov8n"
    # Our model's boxes from ``threshold`` up are painted where the second screen model also
    # found a screen (IoU ≥ 0.3 with one of its boxes over ``second_threshold``), and by
    # themselves only from ``alone_threshold`` up. Its scores on stills are poorly calibrated:
    # alone at 0.3 it painted a screen on 17 of 50 screen-free photos, and at 0.7 its lone
    # boxes were half the false screens on them while covering no box the second model missed
    # (benchmarks/RESULTS.md, screens). Without a second model ``threshold`` alone decides. On
    # video, boxes down to continue_threshold still continue a screen track.
    threshold: Prob = Field(0.3, json_schema_extra=HIGHER)
    alone_threshold: Prob = Field(0.95, json_schema_extra=HIGHER)
    # The model was trained at 640 px; larger inputs (stills get 1.5x and 2x this) paint many
    # false screens (models/screens/MODEL_CARD.md).
    size: Pixels = Field(448, json_schema_extra=LOWER)
    # A COCO-trained detector (its tv, laptop and cell phone) beside our own screen model. On
    # the held-out COCO screens it alone covered 74% of the boxes at 0.1, ours 29%
    # (models/screens/MB3_CENTERNET_CARD.md).
    second_model: SecondModel = Field("mb3-centernet-coco", json_schema_extra=OFF)
    second_threshold: Prob = Field(0.1, json_schema_extra=HIGHER)
    # Stills: the second model also looks at squares of the photo (its input is a fixed
    # square, so the whole photo reaches it stretched); their screen boxes count only where
    # they overlap one it found on the whole photo. Alone they painted false screens; agreed,
    # on the tune half they covered a laptop beside a tv and painted no screen-free photo
    # (the report half: no change; detect/coco.py, benchmarks/RESULTS.md, screens).
    second_square_views: bool = Field(True, json_schema_extra=OFF)

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


class HeadSettings(_Frozen):
    """Heads, whichever way they face (opt-in; on in the max-recall preset). The COCO
    model's people, each cut to its head end, sized by the person box's shape
    (detect/people.py); faces the face models find are painted by the ``face`` category."""

    category: ClassVar[str] = "head"
    model: str = "mb3-centernet-coco"
    # 0.1: on the tune half of benchmarks/real_boxes.json, 0.15 lost seated and partly hidden
    # people (benchmarks/RESULTS.md, heads-persons).
    threshold: Prob = Field(0.1, json_schema_extra=HIGHER)
    # The COCO graph's input is fixed at 512 px (it ignores this); a user-added YOLO head
    # model reads it.
    size: Pixels = Field(512, json_schema_extra=LOWER)


class PersonSettings(_Frozen):
    """Whole people, for minors and victims (opt-in): the COCO model's person boxes."""

    category: ClassVar[str] = "person"
    model: str = "mb3-centernet-coco"
    threshold: Prob = Field(0.1, json_schema_extra=HIGHER)
    size: Pixels = Field(512, json_schema_extra=LOWER)


Section = (FaceSettings | PlateSettings | ScreenSettings | TextSettings | HeadSettings
           | PersonSettings)

