"""Engines execute file jobs with given settings, like ``concurrent.futures`` executors: here
in this process (one loaded runner), or over a pool of worker processes. The Ray engine is in
engine_ray.py. Every engine yields one ``FileResult`` per job, in job order; the batch (jobs.py)
keeps the lock, job state and journal whichever engine runs the files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from redact.batch.results import FileResult
from redact.batch.runner import FileRunner
from redact.config import Settings
from redact.plan.edits import PlanCheck
from redact.plan.model import RedactionPlan


@dataclass(frozen=True)
class FileJob:
    src: Path
    dst: Path
    input_sha: str
    root: Path  # the release folder: records name outputs relative to it
    mode: str = "run"  # "run" | "plan" | "render"


def execute_local(runner: FileRunner, jobs: list[FileJob], *,
                  progress: Callable | None = None, debug: bool = False,
                  plan: RedactionPlan | None = None, plan_check: PlanCheck | None = None,
                  plan_path: Path | None = None) -> Iterator[FileResult]:
    for job in jobs:
        yield runner.run(job.src, job.dst, progress=progress(job.src) if progress else None,
                         debug=debug, input_sha=job.input_sha, root=job.root, mode=job.mode,
                         plan=plan if job.mode == "render" else None, plan_check=plan_check,
                         plan_path=plan_path if job.mode == "render" else None)


def execute_pool(settings: Settings, jobs: list[FileJob], workers: int,
                 ) -> Iterator[FileResult]:
    """``run`` jobs over worker processes, each with its share of the cores."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    # Trap: a CUDA runtime this process has touched does not survive a fork; GPU workers
    # start as fresh interpreters instead.
    from redact.detect.base import resolve_device

    context = get_context("spawn") if resolve_device(settings.config.device) == "cuda" else None
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                             initargs=(settings, threads), mp_context=context) as pool:
        yield from pool.map(_worker_run, jobs)


_WORKER: dict = {}


def _worker_init(settings: Settings, threads: int) -> None:
    from redact.detect.base import set_cpu_threads

    os.environ["OMP_NUM_THREADS"] = str(threads)
    set_cpu_threads(threads)
    _WORKER["runner"] = FileRunner(settings)


def _worker_run(job: FileJob) -> FileResult:
    return _WORKER["runner"].run(job.src, job.dst, input_sha=job.input_sha, root=job.root)
