"""Stateful batches: lock, skip what is already done, resume after a kill, journal each file,
optionally in parallel worker processes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from redact.audit.journal import Journal, load_private_key
from redact.config import Settings
from redact.errors import ConfigError
from redact.io.atomic import sweep_temporaries
from redact.models.store import ModelStore, sha256_file
from redact.pipeline.batch import BatchReport, FileResult, FileRunner, Job, collect_jobs
from redact.pipeline.state import OutputLock, Row, StateDB


@dataclass(frozen=True)
class BatchOptions:
    state: Path | None = None  # default OUT/.redact/state.sqlite
    workers: int = 1
    since: float | None = None  # only inputs modified at/after this epoch time
    sign_key: Path | None = None
    force: bool = False


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
                 file_runner: FileRunner | None = None) -> None:
        self.settings = settings
        self.file_runner = file_runner  # tests inject one with a scripted detector
        self.out_dir = Path(out_dir).resolve()
        self.options = options or BatchOptions()
        self.progress = progress
        self.debug = debug
        self.meta_dir = self.out_dir / ".redact"
        self.store = ModelStore(offline=settings.config.offline or None)
        self.signing_key = load_private_key(self.options.sign_key) if self.options.sign_key \
            else None
        self.config_hash = settings.config.digest()
        self.models = model_hashes(settings, self.store)

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
            pending = Row(str(job.src), st.st_size, st.st_mtime_ns, sha, self.config_hash,
                          self.models, "running", None, None, None, None, None, time.time(),
                          None, None)
            db.put(pending)
            todo.append((job, pending))
        journal.append("run_start", inputs=[str(Path(i).resolve()) for i in inputs],
                       out_dir=str(self.out_dir), config_hash=self.config_hash,
                       models=json.loads(self.models), files=len(todo))
        for (_job, pending), result in zip(todo, self._execute(todo), strict=True):
            results.append(result)
            self._record(db, journal, pending, result)
        report = BatchReport(results)
        journal.append("run_end", ok=sum(r.status == "ok" for r in results),
                       failed=sum(r.status == "failed" for r in results),
                       skipped=sum(r.status == "skipped" for r in results))
        return report

    def _up_to_date(self, row: Row, sha: str, job: Job) -> bool:
        if (row.status != "ok" or row.input_sha256 != sha or row.config_hash != self.config_hash
                or row.model_hashes != self.models or not row.output or not row.audit):
            return False
        out, audit = Path(row.output), Path(row.audit)
        if out != job.dst or not out.is_file() or not audit.is_file():
            return False
        return sha256_file(out) == row.output_sha256 and sha256_file(audit) == row.audit_sha256

    def _execute(self, todo: list[tuple[Job, Row]]):
        workers = max(1, self.options.workers)
        if workers == 1 or len(todo) <= 1:
            runner = self.file_runner or FileRunner(self.settings, store=self.store)
            for job, row in todo:
                yield runner.run(job.src, job.dst, debug=self.debug,
                                 progress=self.progress(job.src) if self.progress else None,
                                 input_sha=row.input_sha256)
            return
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                 initargs=(self.settings, threads)) as pool:
            yield from pool.map(_worker_run, [(j.src, j.dst, r.input_sha256) for j, r in todo])

    def _record(self, db: StateDB, journal: Journal, pending: Row, result: FileResult) -> None:
        out_sha = sha256_file(Path(result.output)) if result.status == "ok" else None
        audit_sha = sha256_file(Path(result.audit)) if result.status == "ok" else None
        row = Row(**{**pending.__dict__, "status": result.status, "output": result.output,
                     "output_sha256": out_sha, "audit": result.audit, "audit_sha256": audit_sha,
                     "error": result.error, "finished": time.time(),
                     "seconds": result.seconds})
        entry = {"status": result.status, "error": result.error,
                 "input": {"path": result.input, "sha256": pending.input_sha256},
                 "config_hash": self.config_hash, "models": json.loads(self.models)}
        if result.status == "ok":
            entry["output"] = {"path": result.output, "sha256": out_sha}
            entry["audit"] = {"path": result.audit, "sha256": audit_sha}
        journal.append("file", **entry)
        db.put(row)


_WORKER: dict = {}


def _worker_init(settings: Settings, threads: int) -> None:
    # Each process gets its share of the cores instead of all of them.
    from redact.detect.base import set_cpu_threads

    os.environ["OMP_NUM_THREADS"] = str(threads)
    set_cpu_threads(threads)
    _WORKER["runner"] = FileRunner(settings)


def _worker_run(args) -> FileResult:
    src, dst, input_sha = args
    return _WORKER["runner"].run(src, dst, input_sha=input_sha)
