"""Settings from defaults, presets, the environment and explicit values, with where each
value came from."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redact.config.model import FIELDS, Config, flatten
from redact.errors import ConfigError


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
    package = Path(__file__).resolve().parents[1]  # redact/
    packaged = package / "_data" / kind
    if packaged.is_dir():
        return packaged
    return package.parent / kind


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
