"""Files and folders in, redacted outputs and audit records out; one file's failure never
stops the batch."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redact.audit.record import audit_path_for, build_record, file_entry, now_iso, write_record
from redact.config import Config, Settings, load_settings
from redact.errors import ConfigError, InputError, RedactError
from redact.io import IMAGE_EXTS, MEDIA_EXTS, VIDEO_EXTS
from redact.io.atomic import TMP_MARK, atomic_output
from redact.io.hashing import sha256_file
from redact.models.store import ModelStore

log = logging.getLogger("redact")

ProgressFactory = Callable[[Path], Callable[[int, int], None] | None]


@dataclass
class FileResult:
    input: str
    output: str | None
    audit: str | None
    status: str  # "ok" | "failed" | "skipped"
    error: str | None = None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    # The second look at the output (``verify_output``): None when not run, "clean", or
    # "review" when a face, plate or screen was still found outside what was painted.
    verdict: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchReport:
    results: list[FileResult]

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 all ok; 1 any failed; 4 none failed but an output was flagged for review (a
        scheduled job can hold the release back)."""
        if not self.ok:
            return 1
        return 4 if any(r.verdict == "review" for r in self.results) else 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results]}


OK_STATUSES = ("ok",)


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


def _as_settings(config: Config | Settings | None) -> Settings:
    if config is None:
        return load_settings()
    if isinstance(config, Config):
        return Settings(config=config, sources={k: "api" for k in config.to_dict()})
    return config


def collect_jobs(inputs: Iterable[Path | str], out_dir: Path) -> tuple[list[Job], list[FileResult]]:
    """Expand folders recursively. Outputs mirror the path relative to each input folder."""
    out_dir = Path(out_dir).resolve()
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]  # one path, not an iterable of its characters
    jobs: list[Job] = []
    early: list[FileResult] = []
    for raw in inputs:
        root = Path(raw).resolve()
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                if out_dir in path.parents or TMP_MARK in path.name or any(
                        part == ".redact" for part in path.parts):
                    continue  # never re-redact our own outputs, temporaries or job state
                if path.suffix.lower() in MEDIA_EXTS:
                    jobs.append(Job(path, out_dir / path.relative_to(root)))
                else:
                    early.append(FileResult(str(path), None, None, "skipped",
                                            "not a supported video or image type"))
        elif root.is_file():
            if root.suffix.lower() not in MEDIA_EXTS:
                early.append(FileResult(str(root), None, None, "failed",
                                        f"unsupported file type {root.suffix or '(none)'}; "
                                        f"supported: {' '.join(MEDIA_EXTS)}"))
            else:
                jobs.append(Job(root, out_dir / root.name))
        else:
            early.append(FileResult(str(root), None, None, "failed", "no such file or folder"))
    # Two inputs mapping to one output (same relative path under two input folders) would
    # silently overwrite each other: the later ones fail instead.
    seen: dict[Path, Path] = {}
    unique: list[Job] = []
    for job in jobs:
        if job.dst in seen:
            early.append(FileResult(str(job.src), None, None, "failed",
                                    f"output {job.dst} would also be written for {seen[job.dst]}; "
                                    "redact these inputs into separate output folders"))
        else:
            seen[job.dst] = job.src
            unique.append(job)
    return unique, early


def redact_paths(inputs: Iterable[Path | str], out_dir: Path | str,
                 config: Config | Settings | None = None, *,
                 progress: ProgressFactory | None = None, debug: bool = False,
                 store: ModelStore | None = None) -> BatchReport:
    """Redact every supported file under ``inputs`` into ``out_dir``."""
    settings = _as_settings(config)
    jobs, results = collect_jobs(inputs, Path(out_dir))
    runner = FileRunner(settings, store=store)
    root = Path(out_dir).resolve()
    for job in jobs:
        results.append(runner.run(job.src, job.dst, progress=progress(job.src) if progress
                                  else None, debug=debug, root=root))
    return BatchReport(results)


def redact_file(src: Path | str, dst: Path | str, config: Config | Settings | None = None, *,
                store: ModelStore | None = None) -> FileResult:
    """Redact one file; returns its result (status "failed" with a reason on bad input)."""
    return FileRunner(_as_settings(config), store=store).run(Path(src), Path(dst))


def release_path(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to the release folder ``root``."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name


class FileRunner:
    """Holds the loaded detectors for a batch; each file gets a fresh temporal stage."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore(offline=settings.config.offline or None)
        self._detectors = None
        self._second: dict[str, object] = {}

    @property
    def detectors(self):
        if self._detectors is None:
            from redact.detect.base import DetectorSet

            self._detectors = DetectorSet.from_config(self.settings.config, self.store)
        return self._detectors

    def second_look_detectors(self, config: Config):
        """The more sensitive, differently sized detectors of the second look (one set per
        config: a plan's settings may differ from the batch's)."""
        from redact.audit.second_look import second_look_config
        from redact.detect.base import DetectorSet

        key = config.digest()
        if key not in self._second:
            self._second[key] = DetectorSet.from_config(second_look_config(config), self.store)
        return self._second[key]

    def _second_look(self, tmp: Path, ext: str, config: Config, log_) -> dict | None:
        from redact.audit import second_look

        wanted = config.verify_output == "all" or (
            config.verify_output == "stills" and ext in IMAGE_EXTS)
        if not wanted:
            return None
        detectors = self.second_look_detectors(config)
        painted = second_look.painted_by_frame(log_.frames)
        if ext in IMAGE_EXTS:
            look = second_look.look_at_image(tmp, painted, detectors, config.still_scale)
        else:
            look = second_look.look_at_video(tmp, painted, detectors,
                                             every=config.verify_every)
        look.settings = {"threshold": config.verify_threshold,
                         "scale": config.verify_scale, "every": look.every}
        return look.to_dict()

    def run(self, src: Path, dst: Path, *, progress=None, debug: bool = False,
            plan=None, input_sha: str | None = None, root: Path | None = None) -> FileResult:
        """``input_sha``: the caller's hash of ``src`` (saves one read of a large input; the
        input is still re-hashed after redaction to catch changes during the run). ``root``:
        the release folder; the audit record names the output relative to it, so a copy of
        the folder anywhere can still be checked against its records."""
        src, dst = Path(src).resolve(), Path(dst).resolve()
        root = Path(root).resolve() if root is not None else dst.parent
        started, t0 = now_iso(), time.monotonic()
        result = FileResult(str(src), None, None, "failed")
        try:
            if dst == src:
                raise InputError(f"{src.name}: output would overwrite the input; choose "
                                 "another output folder")
            if TMP_MARK in dst.name:
                raise InputError(f"{src.name}: name is reserved for temporary files")
            result = self._run(src, dst, started, progress, plan, input_sha, root)
        except RedactError as exc:
            result.error = str(exc)
        except Exception as exc:  # fail closed: any unexpected error fails this file only
            result.error = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
            if debug:
                traceback.print_exc()
        result.seconds = round(time.monotonic() - t0, 3)
        if result.status == "failed":
            log.debug("failed %s: %s", src, result.error)
        return result

    def _run(self, src: Path, dst: Path, started: str, progress, plan,
             input_sha: str | None, root: Path) -> FileResult:
        settings = self.settings
        ext = src.suffix.lower()
        if ext not in MEDIA_EXTS:
            raise InputError(f"{src.name}: unsupported file type")
        if src.stat().st_size == 0:
            raise InputError(f"{src.name}: file is empty (0 bytes)")
        input_sha = input_sha or sha256_file(src)
        if plan is not None:
            if ext not in VIDEO_EXTS:
                raise InputError(f"{src.name}: plans apply to videos only")
            if plan.input_sha256 != input_sha:
                raise ConfigError(f"plan was made for another file (sha256 "
                                  f"{plan.input_sha256[:12]}…, this input {input_sha[:12]}…)")
            # Render with the plan's own settings so an unedited plan reproduces `run`.
            values = dict(plan.settings)
            values["categories"] = tuple(values.get("categories", ()))
            try:
                plan_config = Config(**values)
            except TypeError as exc:
                raise ConfigError(f"plan field settings: {exc}") from None
            settings = Settings(plan_config, {k: "plan" for k in values}, preset=None)
        config = settings.config
        detectors = None if plan is not None else self.detectors
        models = plan.models if plan is not None else detectors.models
        device = "plan" if plan is not None else detectors.device
        audit_path = audit_path_for(dst)
        with atomic_output(dst) as tmp:
            if ext in VIDEO_EXTS:
                from redact.render.video import redact_video

                outcome = redact_video(src, tmp, dst.suffix, config, detectors,
                                       progress=progress, plan=plan,
                                       audio_ranges=plan.audio if plan is not None else ())
                log_ = outcome.log
                frames = {"input": outcome.frames_in, "output": outcome.frames_out,
                          "detected": outcome.frames_detected,
                          "max_buffered": outcome.max_buffered}
                input_extra = {"kind": "video", "streams": outcome.input_streams}
                warnings, tracks = outcome.warnings, outcome.tracks
            elif ext in IMAGE_EXTS:
                from redact.render.image import redact_image

                log_ = redact_image(src, tmp, config, detectors)
                frames = {"input": 1, "output": 1, "detected": 1}
                input_extra, warnings, tracks = {"kind": "image"}, [], []
            if detectors is not None:
                warnings = detectors.warnings + warnings
            look = self._second_look(tmp, ext, config, log_)
            if sha256_file(src) != input_sha:
                raise InputError(f"{src.name}: input changed while it was being redacted")
            record = build_record(
                settings=settings, models=models, device=device,
                input_entry=file_entry(src, input_sha, **input_extra),
                output_entry={**file_entry(tmp, sha256_file(tmp)),
                              "path": release_path(dst, root)},
                started=started, frames=frames, log=log_, tracks=tracks, warnings=warnings,
                plan_edits=plan.edits if plan is not None else None, second_look=look,
            )
            # Audit first, output second: an output under its final name always has its record.
            write_record(audit_path, record)
        return FileResult(str(src), str(dst), str(audit_path), "ok",
                          counts=dict(log_.counts), frames=frames["output"],
                          verdict=look["verdict"] if look else None)


def plan_file(src: Path | str, dst: Path | str, settings: Settings, *,
              runner: FileRunner | None = None, progress=None,
              input_sha: str | None = None) -> FileResult:
    """Detect and track without rendering; write the plan JSON to ``dst`` (atomically)."""
    from redact.audit.record import write_json_streaming
    from redact.plan.model import build_plan_document
    from redact.render.video import redact_video

    src, dst = Path(src).resolve(), Path(dst).resolve()
    runner = runner or FileRunner(settings)
    t0 = time.monotonic()
    try:
        if src.suffix.lower() not in VIDEO_EXTS:
            raise InputError(f"{src.name}: plans apply to videos only")
        if src.stat().st_size == 0:
            raise InputError(f"{src.name}: file is empty (0 bytes)")
        input_sha = input_sha or sha256_file(src)
        outcome = redact_video(src, None, src.suffix, settings.config, runner.detectors,
                               progress=progress, collect_plan=True)
        if sha256_file(src) != input_sha:
            raise InputError(f"{src.name}: input changed while it was being planned")
        doc = build_plan_document(input_path=src, input_sha=input_sha, settings=settings,
                                  models=runner.detectors.models, frames=outcome.plan_frames,
                                  frame_count=outcome.frames_in, tracks=outcome.tracks,
                                  warnings=outcome.warnings)
        write_json_streaming(dst, doc)
    except RedactError as exc:
        return FileResult(str(src), None, None, "failed", str(exc),
                          round(time.monotonic() - t0, 3))
    except Exception as exc:  # fail closed: no plan, one line
        return FileResult(str(src), None, None, "failed",
                          f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}",
                          round(time.monotonic() - t0, 3))
    return FileResult(str(src), str(dst), None, "ok", seconds=round(time.monotonic() - t0, 3),
                      counts=dict(outcome.log.counts), frames=outcome.frames_in)
