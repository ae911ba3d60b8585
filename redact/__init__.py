"""redact: privacy redaction for body-worn-camera footage.

``import redact`` stays light: torch, ultralytics, ONNX Runtime and PyAV are imported only when
a file is actually processed (tests/test_config.py checks this in a fresh interpreter).

>>> import redact
>>> redact.Config().style
'blur'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from redact.errors import (
    ConfigError,
    InputError,
    LockError,
    ModelError,
    RedactError,
    StageError,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "InputError",
    "LockError",
    "ModelError",
    "RedactError",
    "StageError",
    "__version__",
    "redact_file",
    "redact_paths",
]

# Public names that live in submodules, resolved on first access so that importing the
# package never drags in numpy-heavy modules a caller may not need.
_LAZY = {
    "Config": "redact.config:Config",
    "Settings": "redact.config:Settings",
    "load_settings": "redact.config:load_settings",
    "redact_file": "redact.batch.runner:redact_file",
    "redact_paths": "redact.batch.runner:redact_paths",
}

if TYPE_CHECKING:
    from redact.batch.runner import redact_file, redact_paths
    from redact.config import Config, Settings, load_settings  # noqa: F401


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'redact' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(import_module(module), attr)
