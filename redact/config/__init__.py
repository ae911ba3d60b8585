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

from redact.config.loading import (
    ENV_VARS,
    Settings,
    _data_dir,
    list_presets,
    load_preset,
    load_settings,
    preset_dir,
)
from redact.config.messages import config_error
from redact.config.model import (
    FIELDS,
    FLAT_NAMES,
    RECALL,
    SECTIONS,
    Config,
    flatten,
    nest,
    recall_reductions,
)
from redact.config.sections import (
    CATEGORIES,
    DEVICES,
    STYLES,
    VERIFY_CHOICES,
    X264_PRESETS,
    FaceSettings,
    HeadSettings,
    PersonSettings,
    PlateSettings,
    ScreenSettings,
    Section,
    TextSettings,
)

__all__ = [
    "CATEGORIES", "DEVICES", "ENV_VARS", "FIELDS", "FLAT_NAMES", "RECALL", "SECTIONS", "STYLES",
    "VERIFY_CHOICES", "X264_PRESETS", "Config", "FaceSettings", "HeadSettings",
    "PersonSettings", "PlateSettings",
    "ScreenSettings", "Section", "Settings", "TextSettings", "_data_dir", "config_error",
    "flatten", "list_presets", "load_preset", "load_settings", "nest", "preset_dir",
    "recall_reductions",
]
