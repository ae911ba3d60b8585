"""Stateful batches: lock, skip what is already done, resume after a kill, journal each file,
optionally in parallel worker processes."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from redact.audit.journal import Journal, load_private_key
from redact.batch.collect import Job, collect_jobs, release_path
from redact.batch.engines import FileJob
from redact.batch.options import BatchOptions
from redact.batch.results import OK_STATUSES, BatchReport, FileResult
from redact.batch.runner import FileRunner, check_recall, render_settings
from redact.batch.state import OutputLock, Row, StateDB
from redact.config import Settings
from redact.errors import ConfigError, ModelError, SetupError, StageError
from redact.io import VIDEO_EXTS
from redact.io.atomic import sweep_temporaries
from redact.io.hashing import sha256_file
from redact.models.store import ModelStore

# What a batch makes of each input: "run" redacts (analyse + render), "plan" writes the
# editable plan only, "render" paints a video from a given plan. All three go through the same
# lock, job state and journal, so every file in a release folder has a custody entry.
MODES = ("run", "plan", "render")
PLAN_SUFFIX = ".plan.json"


def journaled_seal(plan_path: Path, seal: str) -> bool | None:
    """Whether a `redact plan` batch journaled ``seal`` in the nearest ``.redact/journal.jsonl``
    at or above the plan: None when no entry says so, else whether that entry is signed."""
    for folder in Path(plan_path).resolve().parents:
        journal = folder / ".redact" / "journal.jsonl"
        if not journal.is_file():
            continue
        for line in journal.read_text(encoding="utf-8").splitlines():
            if seal not in line:
                continue
            entry = json.loads(line)
            if entry.get("mode") == "plan" and (entry.get("plan") or {}).get("seal") == seal:
                return "signature" in entry
        return None
    return None


def parse_since(text: str) -> float:
    """``2026-11-27``, ``2026-11-27T18:00``, or a duration back from now: ``36h``, ``2d``."""
    text = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        return time.time() - float(text[:-1]) * units[text[-1]]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(f"--since {text!r}: use an ISO date/time (2026-11-27T18:00) or a "
                          "duration such as 36h or 2d") from None


def model_hashes(settings: Settings, store: ModelStore) -> str:
    specs = store.specs()
    names = sorted({settings.config.model_for(c) for c in settings.config.categories})
    return json.dumps({n: specs[n].sha256 if n in specs else None for n in names},
                      sort_keys=True)


class BatchRunner:
    def __init__(self, settings: Settings, out_dir: Path, options: BatchOptions | None = None,
                 *, progress=None, debug: bool = False,
                 file_runner: FileRunner | None = None, mode: str = "run",
                 plan_path: Path | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown batch mode {mode!r}; known: {', '.join(MODES)}")
        if (mode == "render") != (plan_path is not None):
            raise ConfigError("rendering needs a plan (--plan), and only rendering takes one")
        self.mode = mode
        self.plan_path = Path(plan_path).resolve() if plan_path is not None else None
        self.plan, self.plan_sha, self.plan_check = None, "", None
        if self.plan_path is not None:
            settings = self._load_plan(settings, options or BatchOptions())
        else:
            check_recall(settings.config)
        self.settings = settings
        self.file_runner = file_runner  # tests inject one with a scripted detector
        self.out_dir = Path(out_dir).resolve()
        self.options = options or BatchOptions()
        if self.options.engine not in ("local", "ray"):
            raise ConfigError(f"unknown engine {self.options.engine!r}; known: local, ray")
        if self.options.engine == "ray" and (mode != "run" or self.options.retries < 0):
            raise ConfigError("--engine ray runs `redact run` batches, with --retries 0 or more")
        self.progress = progress
        self.debug = debug
        self.meta_dir = self.out_dir / ".redact"
        self.store = ModelStore(offline=settings.config.offline or None)
        self.signing_key = load_private_key(self.options.sign_key) if self.options.sign_key \
            else None
        self.config_hash = settings.config.digest()
        if self.mode != "run":  # a plan, or a render of a given plan, is another output
            self.config_hash = hashlib.sha256(
                f"{self.mode}:{self.config_hash}:{self.plan_sha}".encode()).hexdigest()
        self.models = model_hashes(settings, self.store)

    def _load_plan(self, settings: Settings, options: BatchOptions) -> Settings:
        """Read the plan once, check its seal and approval; the render's settings are the
        plan's (refused when a given setting would change what is painted)."""
        from redact.plan.edits import check_plan
        from redact.plan.model import read_plan

        assert self.plan_path is not None
        self.plan, self.plan_sha = read_plan(self.plan_path)  # one read: the plan rendered
        if settings.config.require_approval and not self.plan.approved:
            raise ConfigError(f"plan {self.plan_path.name} is not approved and approval is "
                              "required (require_approval); approve it in `redact review`")
        self.plan_check = check_plan(self.plan, self.plan_path,
                                     accept_edits=options.accept_plan_edits)
        self.plan_check = dataclasses.replace(
            self.plan_check, journal_signed=journaled_seal(self.plan_path, self.plan_check.seal))
        rendered = render_settings(self.plan, settings)
        if self.plan_check.intact:
            check_recall(rendered.config)
        return rendered

    def run(self, inputs: Iterable[Path | str] | Path | str) -> BatchReport:
        # One path is one input (not its characters); a generator is read once.
        inputs = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        with OutputLock(self.meta_dir):
            # A killed run may have left temporaries; they never carry a final name.
            sweep_temporaries(self.out_dir)
            db = StateDB(self.options.state or self.meta_dir / "state.sqlite")
            journal = Journal(self.meta_dir / "journal.jsonl", self.signing_key)
            try:
                return self._run(inputs, db, journal)
            finally:
                db.close()

    def _run(self, inputs, db: StateDB, journal: Journal) -> BatchReport:
        jobs, results = collect_jobs(inputs, self.out_dir)
        if self.mode != "run":
            jobs, skipped = self._video_jobs(jobs)
            results += skipped
        todo: list[tuple[Job, Row]] = []
        for job in jobs:
            st = job.src.stat()
            if self.options.since is not None and st.st_mtime < self.options.since:
                results.append(FileResult(str(job.src), None, None, "skipped",
                                          "older than --since"))
                continue
            row = db.get(str(job.src))
            sha = (row.input_sha256 if row and row.input_size == st.st_size
                   and row.input_mtime_ns == st.st_mtime_ns else sha256_file(job.src))
            if not self.options.force and row and self._up_to_date(row, sha, job):
                results.append(FileResult(str(job.src), row.output, row.audit, "skipped",
                                          "unchanged since the last run"))
                continue
            if not self.options.force and self._reviewed_plan(row, job):
                # Nothing lost: a plan a reviewer has edited is never planned over.
                results.append(FileResult(str(job.src), str(job.dst), None, "skipped",
                                          "plan was edited since it was made; kept (re-plan "
                                          "with --force to discard the edits)"))
                continue
            pending = Row(str(job.src), st.st_size, st.st_mtime_ns, sha, self.config_hash,
                          self.models, "running", None, None, None, None, None, time.time(),
                          None, None)
            db.put(pending)
            todo.append((job, pending))
        if todo:
            self._load_once()
        start = {"plan": {"path": str(self.plan_path), "sha256": self.plan_sha}} \
            if self.plan_path else {}
        journal.append("run_start", mode=self.mode,
                       inputs=[str(Path(i).resolve()) for i in inputs],
                       out_dir=str(self.out_dir), config_hash=self.config_hash,
                       models=json.loads(self.models), files=len(todo), **start)
        for (_job, pending), result in zip(todo, self._execute(todo), strict=True):
            results.append(result)
            self._record(db, journal, pending, result)
        report = BatchReport(results)
        journal.append("run_end", ok=sum(r.status == "ok" for r in results),
                       failed=sum(r.status == "failed" for r in results),
                       skipped=sum(r.status == "skipped" for r in results))
        return report

    def _video_jobs(self, jobs: list[Job]) -> tuple[list[Job], list[FileResult]]:
        """Plans and renders are for videos; a plan's output is ``<name>.plan.json``."""
        keep, skipped = [], []
        for job in jobs:
            if job.src.suffix.lower() not in VIDEO_EXTS:
                skipped.append(FileResult(str(job.src), None, None, "skipped",
                                          "plans apply to videos only"))
            elif self.mode == "plan":
                # Named after the input: an .mpg (rendered as .mkv) gets a.mpg.plan.json.
                keep.append(Job(job.src, job.dst.with_name(job.src.name + PLAN_SUFFIX)))
            else:
                keep.append(job)
        return keep, skipped

    def _load_once(self) -> None:
        """Models and device are checked once, before any file: a missing model or an
        unusable GPU is one error for the whole batch (exit 2), not one per file."""
        if self.mode == "render":
            return
        runner = self.file_runner
        try:
            if runner is None and max(1, self.options.workers) == 1 \
                    and self.options.engine == "local":
                runner = self.file_runner = FileRunner(self.settings, store=self.store)
            if runner is not None:
                _ = runner.detectors
            else:  # worker processes load their own; check the weights and device here
                from redact.detect.base import check_models

                config = self.settings.config
                if self.options.engine == "ray":  # the GPUs are on the worker nodes
                    config = config.replace(device="cpu")
                check_models(config, self.store)
        except ConfigError:
            raise
        except (ModelError, StageError) as exc:
            raise SetupError(f"cannot load the detectors: {exc}") from None
        except Exception as exc:  # a backend's own error (ONNX Runtime, torch): one line
            raise SetupError(f"cannot load the detectors: {type(exc).__name__}: "
                             f"{' '.join(str(exc).split())}") from None

    def _reviewed_plan(self, row: Row | None, job: Job) -> bool:
        """A plan file whose content is no longer what this tool wrote (a reviewer's edits)."""
        if self.mode != "plan" or not job.dst.is_file():
            return False
        written = row.output_sha256 if row and row.output == str(job.dst) else None
        return written is None or sha256_file(job.dst) != written

    def _up_to_date(self, row: Row, sha: str, job: Job) -> bool:
        needs_audit = self.mode != "plan"
        if (row.status != "ok" or row.input_sha256 != sha or row.config_hash != self.config_hash
                or row.model_hashes != self.models or not row.output
                or (needs_audit and not row.audit)):
            return False
        out = Path(row.output)
        if out != job.dst or not out.is_file() or sha256_file(out) != row.output_sha256:
            return False
        if not needs_audit:
            return True
        audit = Path(row.audit)
        return audit.is_file() and sha256_file(audit) == row.audit_sha256

    def _execute(self, todo: list[tuple[Job, Row]]):
        from redact.batch import engines

        jobs = [FileJob(job.src, job.dst, row.input_sha256, self.out_dir, self.mode)
                for job, row in todo]
        if self.options.engine == "ray":
            from redact.batch.engine_ray import execute_ray

            yield from execute_ray(self.settings, jobs, self.options, progress=self.progress)
            return
        if max(1, self.options.workers) > 1 and len(jobs) > 1 and self.mode == "run":
            yield from engines.execute_pool(self.settings, jobs, self.options.workers)
            return
        runner = self.file_runner or FileRunner(self.settings, store=self.store)
        yield from engines.execute_local(runner, jobs, progress=self.progress, debug=self.debug,
                                         plan=self.plan, plan_check=self.plan_check,
                                         plan_path=self.plan_path)

    def _record(self, db: StateDB, journal: Journal, pending: Row, result: FileResult) -> None:
        ok = result.status in OK_STATUSES
        # Hashed where they were written (FileRunner); never read back here.
        out_sha = result.output_sha256 if ok and result.output else None
        audit_sha = result.audit_sha256 if ok and result.audit else None
        row = Row(**{**pending.__dict__, "status": result.status, "output": result.output,
                     "output_sha256": out_sha, "audit": result.audit, "audit_sha256": audit_sha,
                     "error": result.error, "finished": time.time(),
                     "seconds": result.seconds})
        entry = {"mode": self.mode, "status": result.status, "error": result.error,
                 "input": {"path": result.input, "sha256": pending.input_sha256},
                 "config_hash": self.config_hash, "models": json.loads(self.models)}
        if self.plan_path is not None and self.plan_check is not None:
            entry["plan"] = {"sha256": self.plan_sha, "seal": self.plan_check.seal,
                             "changed": list(self.plan_check.changed)}
        elif result.seal:  # the seal of the plan this file was made from (signed with the entry)
            entry["plan"] = {"seal": result.seal}
        # Outputs are named relative to the release folder: the journal then vouches for the
        # folder wherever it is copied (a records portal, a disk handed to a court).
        if ok and result.output:
            entry["output"] = {"path": release_path(Path(result.output), self.out_dir),
                               "sha256": out_sha}
        if ok and result.audit:
            entry["audit"] = {"path": release_path(Path(result.audit), self.out_dir),
                              "sha256": audit_sha}
        if result.verdict:
            entry["verdict"] = result.verdict
        journal.append("file", **entry)
        db.put(row)
