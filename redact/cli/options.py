"""The one option set of ``run``, ``plan`` and ``render``: settings flags, ``--set KEY=VALUE``
for any preset key, and the batch options. A command declares ``*, opts: Options`` and is
wrapped by ``shared_options``, which adds every option below to its signature."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from redact.errors import ConfigError

_O = typer.Option
# Settings flags: each maps to the setting of the same name (None: not given); a section's
# flag by its flat name (face_threshold → face.threshold), which the loader maps and records.
SETTING_FLAGS: dict[str, Any] = {
    "categories": Annotated[str | None, _O("--categories", "-c",
                                           help="face, plate, head, person, screen, text.")],
    "style": Annotated[str | None, _O(help="blur | pixelate | solid")],
    "device": Annotated[str | None, _O(help="auto | cpu | cuda")],
    "face_size": Annotated[int | None, _O(help="Face detector input, long side px.")],
    "plate_size": Annotated[int | None, _O(help="Plate detector input, long side px.")],
    "face_threshold": Annotated[float | None, _O()],
    "plate_threshold": Annotated[float | None, _O()],
    "screen_model": Annotated[str | None, _O(help="Registered screen model.")],
    "margin": Annotated[float | None, _O(help="Box growth per side, fraction.")],
    "crf": Annotated[int | None, _O(help="x264 CRF (lower = better quality).")],
    "encoder_preset": Annotated[str | None, _O(help="x264 preset.")],
    "detect_every": Annotated[int | None, _O(help="Run detection every Nth frame.")],
    "tracking": Annotated[bool | None, _O("--tracking/--no-tracking")],
    "verify_output": Annotated[str | None, _O(
        help="Second look at each output: off | stills | all (video too).")],
    "verify_every": Annotated[int | None, _O(
        help="Second look on video: every Nth frame (and the last).")],
    "keep_metadata": Annotated[bool | None, _O("--keep-metadata/--strip-metadata",
                                               help="Keep container tags (GPS!).")],
    "offline": Annotated[bool | None, _O("--offline", help="Never fetch models.")],
    "detect_batch": Annotated[int | None, _O(
        help="Detected frames per detector call (GPU: 8-16).")],
    "accept_recall_loss": Annotated[bool | None, _O(
        "--accept-recall-loss", help="Allow settings that look less than the defaults; each "
        "is named in the audit and every output frame gets a second look.")],
    "require_approval": Annotated[bool | None, _O(
        "--require-approval", help="Render only plans a reviewer approved.")],
    "audio_pii": Annotated[bool | None, _O(
        "--audio-pii", help="Transcribe the audio offline and suggest spoken personal data "
        "to mute (names, numbers, addresses, e-mail).")],
    "audio_pii_names": Annotated[str | None, _O(
        "--names", help="With --audio-pii: a UTF-8 file of names to find, one per line.")],
    "transcript_out": Annotated[str | None, _O(
        "--transcript-out", help="Folder for each output's redacted transcript (WebVTT).")],
}
OTHER_FLAGS: dict[str, tuple[Any, Any]] = {
    "preset": (Annotated[str | None, _O(help="Preset name in pipelines/ or a path to a TOML "
                                          "file.")], None),
    "set_": (Annotated[list[str] | None, _O("--set", help="KEY=VALUE for any preset key, "
                                            "e.g. face.threshold=0.2 (repeatable).")], None),
    "as_json": (Annotated[bool, _O("--json", help="Print one JSON document.")], False),
    "quiet": (Annotated[bool, _O("--quiet", "-q", help="No progress output.")], False),
    "debug": (Annotated[bool, _O("--debug", help="Show tracebacks.")], False),
    "state": (Annotated[Path | None, _O(help="Job state DB (default OUT/.redact).")], None),
    "workers": (Annotated[int, _O(help="Files processed in parallel.")], 1),
    "since": (Annotated[str | None, _O(help="Only inputs modified since: ISO time or a "
                                         "duration like 36h, 2d.")], None),
    "sign_key": (Annotated[Path | None, _O(help="Ed25519 private key (PEM) to sign the "
                                           "journal and audit hashes.")], None),
    "force": (Annotated[bool, _O(help="Redo files even if unchanged.")], False),
    "log_file": (Annotated[Path | None, _O(help="Append a log here.")], None),
    "engine": (Annotated[str, _O(help="local | ray (files over a Ray cluster).")], "local"),
    "address": (Annotated[str | None, _O(help="Ray cluster address (default: start a "
                                           "local one).")], None),
    "retries": (Annotated[int, _O(help="Ray: reruns of a file whose worker died, then it "
                                      "is reported failed.")], 2),
}


@dataclass(frozen=True)
class Options:
    flags: dict[str, Any]
    preset: str | None = None
    set_: list[str] | None = None
    as_json: bool = False
    quiet: bool = False
    debug: bool = False
    state: Path | None = None
    workers: int = 1
    since: str | None = None
    sign_key: Path | None = None
    force: bool = False
    log_file: Path | None = None
    engine: str = "local"
    address: str | None = None
    retries: int = 2

    def settings(self):
        """Defaults < preset < environment < ``--set`` < named flags; each value's source is
        recorded (``flag``)."""
        from redact.config import load_settings

        values = parse_set(self.set_ or [])
        values.update({k: v for k, v in self.flags.items() if v is not None})
        return load_settings(self.preset, values)

    def batch_options(self, **extra: Any):
        from redact.batch.jobs import parse_since
        from redact.batch.options import BatchOptions

        if self.workers < 1:
            raise ConfigError("--workers must be at least 1")
        return BatchOptions(state=self.state, workers=self.workers, force=self.force,
                            sign_key=self.sign_key, engine=self.engine, address=self.address,
                            since=parse_since(self.since) if self.since else None,
                            retries=self.retries, **extra)


def parse_set(pairs: list[str]) -> dict[str, str]:
    """``["margin=0.3", "categories=face,plate"]`` → values the settings loader coerces;
    a section's setting by its dotted name or its flat one.

    >>> parse_set(["margin=0.3", "categories=face,plate", "face.second-model=none"])
    {'margin': '0.3', 'categories': 'face,plate', 'face.second_model': 'none'}
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r}: use KEY=VALUE, e.g. --set margin=0.3")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def shared_options(func):
    """Give ``func`` (which takes ``*, opts: Options``) every shared option as a parameter."""
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "opts"]
    kw = inspect.Parameter.KEYWORD_ONLY
    added = [inspect.Parameter(n, kw, default=None, annotation=a) for n, a in SETTING_FLAGS.items()]
    added += [inspect.Parameter(n, kw, default=d, annotation=a)
              for n, (a, d) in OTHER_FLAGS.items()]
    option_fields = {f.name for f in fields(Options)}

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        flags = {n: kwargs.pop(n) for n in SETTING_FLAGS}
        rest = {n: kwargs.pop(n) for n in OTHER_FLAGS if n in option_fields}
        return func(opts=Options(flags=flags, **rest), **kwargs)

    params = own + added
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must read the signature above, not func's
    return wrapper
