"""One file runner for ``run``, ``plan`` and ``render``: every output comes from a sealed
``RedactionPlan``, and its audit record is made from (plan, what was painted, hashes).

A file that fails (bad input, a stage error) fails alone: no output under its final name, a
one-line reason, and the batch goes on.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from redact.audit.record import audit_path_for, build_record, file_entry, now_iso, write_record
from redact.batch.collect import collect_jobs, release_path
from redact.batch.results import BatchReport, FileResult
from redact.config import Config, Settings, flatten, load_settings, recall_reductions
from redact.errors import ConfigError, InputError, RedactError
from redact.io import IMAGE_EXTS, MEDIA_EXTS, VIDEO_EXTS
from redact.io.atomic import TMP_MARK, atomic_output, write_bytes_atomic
from redact.io.hashing import sha256_bytes, sha256_file
from redact.models.store import ModelStore
from redact.plan.build import build_plan
from redact.plan.edits import PlanCheck, verify_seal
from redact.plan.model import RedactionPlan
from redact.plan.seal import store_sealed
from redact.render.painted import Painted

log = logging.getLogger("redact")

ProgressFactory = Callable[[Path], Callable[[int, int], None] | None]

# Settings a render may set for itself: they change how the plan is encoded and checked, not
# what is painted. Any other setting comes from the plan (it was sealed with it).
RENDER_KEYS = ("crf", "encoder_preset", "keep_metadata", "offline", "device", "detect_batch",
               "verify_output", "verify_every", "verify_threshold", "verify_scale",
               "require_approval", "transcript_out")


def render_settings(plan: RedactionPlan, settings: Settings) -> Settings:
    """The plan's own settings, with the render-side ones the caller set explicitly. Any other
    explicit setting that differs from the plan's is refused: it would need a new analysis.
    Settings are compared one by one, by dotted name (``face.threshold``)."""
    values = flatten(plan.settings)
    sources = {k: "plan" for k in values}
    given = flatten(settings.config.to_dict())
    for key, source in settings.sources.items():
        if source == "default" or key not in given:
            continue
        if key in RENDER_KEYS:
            values[key], sources[key] = given[key], source
        elif values.get(key) != given[key]:
            raise ConfigError(
                f"{key} = {given[key]!r} ({source}) but the plan was analysed with "
                f"{values.get(key)!r}; {key} changes what is painted, so plan the file again "
                "with it")
    values["categories"] = tuple(values.get("categories", ()))
    try:
        config = Config(**values)
    except ConfigError as exc:
        raise ConfigError(f"plan field settings: {exc}") from None
    return Settings(config, sources, preset=None)


class FileRunner:
    """Holds the loaded detectors for a batch; each file gets a fresh temporal stage."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore(offline=settings.config.offline or None)
        self._detectors = None
        self._still_detectors = None
        self._second: dict[str, object] = {}
        self._recogniser = None

    @property
    def recogniser(self):
        """The speech recogniser (``--audio-pii``), loaded once over its verified model."""
        if self._recogniser is None:
            from redact.speech.asr import load_recogniser

            self._recogniser = load_recogniser(self.store)
        return self._recogniser

    @property
    def detectors(self):
        """The detectors of video frames (int8 twins on the CPU, ``Config.precision``)."""
        if self._detectors is None:
            from redact.detect.base import DetectorSet

            self._detectors = DetectorSet.from_config(self.settings.config, self.store,
                                                      video=True)
        return self._detectors

    def use_detectors(self, detectors) -> None:
        """Analyse video and stills alike with ``detectors`` (a test's scripted set)."""
        self._detectors = self._still_detectors = detectors

    @property
    def still_detectors(self):
        """The detectors of stills: the float models."""
        if self._still_detectors is None:
            from redact.detect.base import DetectorSet

            self._still_detectors = DetectorSet.from_config(self.settings.config, self.store)
        return self._still_detectors

    def second_look_detectors(self, config: Config):
        """The more sensitive, differently sized detectors of the second look (one set per
        config: a plan's settings may differ from the batch's)."""
        from redact.audit.second_look import second_look_config
        from redact.detect.base import DetectorSet

        key = config.digest()
        if key not in self._second:
            self._second[key] = DetectorSet.from_config(second_look_config(config), self.store)
        return self._second[key]

    def run(self, src: Path, dst: Path, *, progress=None, debug: bool = False,
            plan: RedactionPlan | None = None, plan_check: PlanCheck | None = None,
            input_sha: str | None = None, root: Path | None = None,
            mode: str | None = None, plan_path: Path | None = None) -> FileResult:
        """Redact ``src`` into ``dst`` (mode "run"), render ``plan`` into it ("render", the
        default when a plan is given), or write the plan of ``src`` to ``dst`` ("plan").
        ``input_sha``: the caller's hash of ``src`` (one read of a large input). ``root``: the
        release folder; records name outputs relative to it. ``plan_path``: the plan file
        rendered (its transcript lies beside it)."""
        mode = mode or ("render" if plan is not None else "run")
        src, dst = Path(src).resolve(), Path(dst).resolve()
        root = Path(root).resolve() if root is not None else dst.parent
        t0 = time.monotonic()
        result = FileResult(str(src), None, None, "failed")
        try:
            if dst == src:
                raise InputError(f"{src.name}: output would overwrite the input; choose "
                                 "another output folder")
            if TMP_MARK in dst.name:
                raise InputError(f"{src.name}: name is reserved for temporary files")
            if mode == "plan":
                result = self._plan(src, dst, progress, input_sha, root)
            else:
                result = self._redact(src, dst, progress, plan, plan_check, input_sha, root,
                                      plan_path)
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

    def _plan(self, src: Path, dst: Path, progress, input_sha: str | None,
              root: Path) -> FileResult:
        stat = _check_input(src, videos_only=True)
        check_recall(self.settings.config)
        input_sha = input_sha or sha256_file(src)
        plan, painted, extra = self._video(src, None, src, self.settings.config, None,
                                           input_sha, progress)
        _check_unchanged(src, stat)
        if extra.get("speech") is not None:  # beside the plan, never in a release folder
            from redact.batch.speech import write_transcript

            write_transcript(dst, extra["speech"].transcript)
        store_sealed(plan, root)
        blob = json.dumps(plan.to_json(), indent=1).encode("utf-8")
        write_bytes_atomic(dst, blob)
        return FileResult(str(src), str(dst), None, "ok", counts=dict(painted.counts),
                          frames=extra["frames"]["input"],
                          seal=plan.seal.sha256 if plan.seal else None,
                          output_sha256=sha256_bytes(blob))

    def _redact(self, src: Path, dst: Path, progress, plan: RedactionPlan | None,
                plan_check: PlanCheck | None, input_sha: str | None, root: Path,
                plan_path: Path | None = None) -> FileResult:
        started = now_iso()
        ext = src.suffix.lower()
        stat = _check_input(src, videos_only=plan is not None)
        input_sha = input_sha or sha256_file(src)
        settings = self.settings
        if plan is not None:
            if plan.input_sha256 != input_sha:
                raise ConfigError(f"plan was made for another file (sha256 "
                                  f"{plan.input_sha256[:12]}…, this input {input_sha[:12]}…)")
            settings = render_settings(plan, settings)
            if plan_check is None:  # a plan handed over in memory: its seal must hold
                plan_check = verify_seal(plan)
        if plan_check is None or plan_check.intact:
            check_recall(settings.config)
        config = settings.config
        audit_path = audit_path_for(dst)
        with atomic_output(dst) as tmp:
            if ext in VIDEO_EXTS:
                plan, painted, extra = self._video(src, tmp, dst, config, plan, input_sha,
                                                   progress)
            else:
                plan, painted, extra = self._image(src, tmp, config, input_sha)
            reductions = recall_reductions(config)
            look = self._second_look(tmp, ext, config, painted, whole=bool(reductions))
            _check_unchanged(src, stat)
            out_sha = sha256_file(tmp)
            record = build_record(
                settings=settings, plan=plan, painted=painted, device=extra.pop("device"),
                input_entry=file_entry(src, input_sha, **extra.pop("input")),
                output_entry={**file_entry(tmp, out_sha), "path": release_path(dst, root)},
                started=started, frames=extra.pop("frames"), warnings=extra.pop("warnings"),
                plan_check=plan_check, second_look=look, recall_reductions=reductions)
            # Audit first, output second: an output under its final name always has its record.
            audit_sha = write_record(audit_path, record)
        if config.transcript_out and ext in VIDEO_EXTS:
            _write_vtt(config.transcript_out, dst, plan, extra.get("speech"), plan_path)
        return FileResult(str(src), str(dst), str(audit_path), "ok",
                          counts=dict(painted.counts), frames=record["frames"]["output"],
                          verdict=record["verdict"], output_sha256=out_sha,
                          audit_sha256=audit_sha, seal=plan.seal.sha256 if plan.seal else None)

    def _video(self, src: Path, tmp: Path | None, dst: Path, config: Config,
               plan: RedactionPlan | None, input_sha: str, progress):
        """Analyse (no ``plan``) or replay ``plan``; paint and encode into ``tmp`` unless it is
        None (planning). Returns the plan, what was painted, and the audit's extras."""
        from redact.batch.video import redact_video

        detectors = None if plan is not None else self.detectors
        speech = None
        if plan is None and config.audio_pii:
            from redact.batch.speech import analyse_speech

            speech = analyse_speech(src, config, self.recogniser)
        outcome = redact_video(src, tmp, dst.suffix, config, detectors, progress=progress,
                               plan=plan, audio_ranges=_ranges(speech))
        warnings = outcome.warnings
        if plan is None:
            warnings = detectors.warnings + list(speech.notes if speech else ()) + warnings
            # Rendering kept only the frames' hash (planning keeps the frames).
            plan = build_plan(input_path=src, input_sha=input_sha, settings=config.to_dict(),
                              models=detectors.models, frames=outcome.plan_frames,
                              frame_count=outcome.frames_in, tracks=outcome.tracks,
                              warnings=warnings, audio=speech.audio if speech else (),
                              frames_sha256=None if tmp is None
                              else outcome.frames_digest.hexdigest())
        frames = {"input": outcome.frames_in, "output": outcome.frames_out,
                  "detected": outcome.frames_detected, "max_buffered": outcome.max_buffered}
        return plan, outcome.painted, {
            "device": "plan" if detectors is None else detectors.device, "frames": frames,
            "input": {"kind": "video", "streams": outcome.input_streams},
            "warnings": warnings, "speech": speech}

    def _image(self, src: Path, tmp: Path, config: Config, input_sha: str):
        """A still is a one-frame plan: detect, seal, paint from the plan."""
        from redact.io.image import read_image
        from redact.plan.analyse import FramePlan
        from redact.render.image import render_image

        image = read_image(src)
        detectors = self.still_detectors
        with detectors:  # the detectors work side by side, as on video
            found = detectors.start([image], config.still_scale, still=True).result()[0]
        records = [FramePlan(0, 0, None, found).to_record()] if len(found) else []
        plan = build_plan(input_path=src, input_sha=input_sha, settings=config.to_dict(),
                          models=detectors.models, frames=records, frame_count=1, tracks=[],
                          warnings=list(detectors.warnings))
        painted = render_image(image, plan.regions_for(0), tmp, config, plan.styles())
        return plan, painted, {"device": detectors.device, "input": {"kind": "image"},
                               "frames": {"input": 1, "output": 1, "detected": 1},
                               "warnings": list(detectors.warnings)}

    def _second_look(self, tmp: Path, ext: str, config: Config, painted: Painted, *,
                     whole: bool) -> dict | None:
        """``whole``: the settings lowered recall, so every frame is looked at again."""
        from redact.audit import second_look

        wanted = whole or config.verify_output == "all" or (
            config.verify_output == "stills" and ext in IMAGE_EXTS)
        if not wanted:
            return None
        detectors = self.second_look_detectors(config)
        if ext in IMAGE_EXTS:
            look = second_look.look_at_image(tmp, painted.boxes, detectors, config.still_scale)
        else:
            look = second_look.look_at_video(tmp, painted.boxes, detectors,
                                             every=1 if whole else config.verify_every)
        look.settings = {"threshold": config.verify_threshold,
                         "scale": config.verify_scale, "every": look.every}
        return look.to_dict()


def _ranges(speech) -> tuple:
    from redact.plan.model import AudioItem

    return tuple(AudioItem.model_validate(a) for a in speech.audio) if speech else ()


def _write_vtt(folder: str, dst: Path, plan: RedactionPlan, speech,
               plan_path: Path | None) -> None:
    """The redacted WebVTT of ``dst``: from this run's transcript, or the one beside the
    rendered plan (a plan without one has no transcript to write)."""
    from redact.batch.speech import write_vtt
    from redact.speech.transcript import load_transcript, transcript_path_for

    transcript = speech.transcript if speech is not None else (
        load_transcript(transcript_path_for(plan_path)) if plan_path is not None else None)
    if transcript is not None:
        write_vtt(folder, dst, transcript, plan)


def check_recall(config: Config) -> None:
    """Refuse settings that look less than the defaults do, unless accepted by name."""
    reductions = recall_reductions(config)
    if reductions and not config.accept_recall_loss:
        raise ConfigError(
            f"these settings lower recall below the defaults: {'; '.join(reductions)}. Use the "
            "defaults, or pass --accept-recall-loss (preset key accept_recall_loss): the "
            "reductions are then named in each audit record and every frame of each output "
            "gets a second look, whose verdict decides the exit code")


def _check_input(src: Path, *, videos_only: bool):
    ext = src.suffix.lower()
    if ext not in MEDIA_EXTS:
        raise InputError(f"{src.name}: unsupported file type")
    if videos_only and ext not in VIDEO_EXTS:
        raise InputError(f"{src.name}: plans apply to videos only")
    stat = src.stat()
    if stat.st_size == 0:
        raise InputError(f"{src.name}: file is empty (0 bytes)")
    return stat


def _check_unchanged(src: Path, before) -> None:
    # A stat, not a second hash: the input was hashed once, and a change during the run
    # shows in its size or modification time.
    after = src.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise InputError(f"{src.name}: input changed while it was being redacted")


def _as_settings(config: Config | Settings | None) -> Settings:
    if config is None:
        return load_settings()
    if isinstance(config, Config):
        return Settings(config=config, sources={k: "api" for k in flatten(config.to_dict())})
    return config


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


def plan_file(src: Path | str, dst: Path | str, settings: Settings, *,
              runner: FileRunner | None = None, progress=None,
              input_sha: str | None = None, root: Path | None = None) -> FileResult:
    """Detect and track without rendering; write the sealed plan JSON to ``dst``."""
    runner = runner or FileRunner(settings)
    return runner.run(Path(src), Path(dst), progress=progress, input_sha=input_sha,
                      root=root, mode="plan")
