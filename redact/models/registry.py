"""Which models exist: the shipped ``models/registry.toml`` plus user-added ones.

User-added models (any ultralytics YOLO weights, e.g. a screen detector) live in
``<cache>/user-models.json`` next to their verified weights, so ``export``/``import`` carry them.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redact.config import _data_dir
from redact.errors import ConfigError
from redact.models.cache import default_cache_dir

KINDS = ("centerface", "yolo", "yunet", "dbtext", "coco-centernet", "pocketsphinx",
         "whisper")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str
    file: str
    sha256: str
    license: str
    categories: dict[str, tuple[str, ...]]
    source: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # The float model this one is the int8 twin of (models/int8/): run in its place on the
    # CPU unless ``precision = "float"`` (detect/base.py ``runtime_spec``).
    int8_of: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"model {self.name!r}: kind must be one of {', '.join(KINDS)}")
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ConfigError(f"model {self.name!r}: sha256 must be 64 lowercase hex digits")
        if not self.categories:
            raise ConfigError(f"model {self.name!r}: categories map is empty")

    def class_to_category(self) -> dict[str, str]:
        return {cls: cat for cat, classes in self.categories.items() for cls in classes}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "file": self.file, "sha256": self.sha256,
                "license": self.license, "description": self.description,
                "categories": {k: list(v) for k, v in self.categories.items()},
                "source": dict(self.source),
                **({"int8_of": self.int8_of} if self.int8_of else {})}


def _spec(name: str, raw: dict[str, Any]) -> ModelSpec:
    try:
        return ModelSpec(
            name=name, kind=raw["kind"], file=raw["file"], sha256=raw["sha256"].lower(),
            license=raw.get("license", "unknown"),
            categories={k: tuple(v) for k, v in raw["categories"].items()},
            source=dict(raw.get("source", {})), description=raw.get("description", ""),
            int8_of=raw.get("int8_of", ""),
        )
    except (KeyError, AttributeError, TypeError) as exc:
        raise ConfigError(f"model {name!r}: registry entry is missing or malformed ({exc})") \
            from None


def builtin_registry_path() -> Path:
    return _data_dir("models") / "registry.toml"


def user_registry_path(cache_dir: Path) -> Path:
    return cache_dir / "user-models.json"


def load_user_models(cache_dir: Path) -> dict[str, dict[str, Any]]:
    path = user_registry_path(cache_dir)
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the user model list ({exc}); fix or delete it") \
            from None


def list_models(cache_dir: Path | None = None) -> dict[str, ModelSpec]:
    data = tomllib.loads(builtin_registry_path().read_text(encoding="utf-8"))
    specs = {name: _spec(name, raw) for name, raw in data.get("models", {}).items()}
    for name, raw in load_user_models(cache_dir or default_cache_dir()).items():
        specs[name] = _spec(name, raw)
    return specs


def get_model(name: str, cache_dir: Path | None = None) -> ModelSpec:
    specs = list_models(cache_dir)
    if name not in specs:
        raise ConfigError(
            f"unknown model {name!r}; known models: {', '.join(sorted(specs))} "
            "(add one with `redact models add`)"
        )
    return specs[name]
