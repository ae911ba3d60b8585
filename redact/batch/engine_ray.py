"""The Ray engine: a batch's files run as Ray tasks on a cluster, one task per file.

The driver (``BatchRunner``) keeps everything it keeps for the local engine: the output lock,
the job state, the journal and its signatures, and the idempotent-rerun checks. Workers only
run ``FileRunner.run``, which writes the output and its audit record under temporary names in
the output folder and renames them when complete, so the output folder must be on storage every
node sees at the same path (NFS, CephFS, a cloud file share).

Per file, not per time segment: cutting a video at keyframes and joining the pieces without
re-encoding would need every piece's x264 state, timestamps and the tracker's look-back to agree
at the seams; until that is shown frame- and timestamp-exact, a file is one task.

A worker that dies mid-file (killed, out of memory, node lost) leaves at most a ``.redact-tmp``
file; Ray runs the task again up to ``retries`` times, then the file is reported failed. The
driver sweeps temporaries once every task has ended.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redact.errors import ConfigError, SetupError

if TYPE_CHECKING:
    from redact.batch.engines import FileJob
    from redact.batch.options import BatchOptions
    from redact.batch.results import FileResult
    from redact.config import Settings

ENGINES = ("local", "ray")
# Environment a worker needs to find the same models as the driver (nothing else is copied).
FORWARDED_ENV = ("REDACT_MODEL_DIR", "REDACT_OFFLINE", "REDACT_DEVICE")
POLL_S = 0.5


def import_ray() -> Any:
    # Trap: Ray reports usage to its maintainers unless this is set before it starts a
    # cluster; redaction runs must not reach the network.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise SetupError('--engine ray needs Ray: pip install "redact[ray]" (on every node)') \
            from None
    return ray


def connect(address: str | None) -> bool:
    """Join ``address`` (or start a local cluster); True when this call started Ray."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    env = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False, runtime_env={"env_vars": env})
    except ConnectionError as exc:
        raise SetupError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return True


class _Progress:
    """A Ray actor: the frames each file has reached, reported by whichever node runs it."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, int, int]] = {}

    def update(self, key: str, done: int, total: int, pid: int) -> None:
        self.files[key] = (done, total, pid)

    def snapshot(self) -> dict[str, tuple[int, int, int]]:
        return dict(self.files)


_RUNNERS: dict[str, Any] = {}  # per worker process: models load once, not once per file


def _run_file(settings, src: str, dst: str, input_sha: str, root: str, threads: int,
              progress, key: str) -> FileResult:
    from redact.batch.runner import FileRunner
    from redact.detect.base import set_cpu_threads

    # Keyed by every setting and its source (the digest leaves some out, and the audit
    # records them all): a long-lived worker may serve batches with other settings.
    key_settings = repr(settings)
    runner = _RUNNERS.get(key_settings)
    if runner is None:
        set_cpu_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        _RUNNERS.clear()  # one set of models per worker process
        runner = _RUNNERS[key_settings] = FileRunner(settings)
    pid = os.getpid()
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= POLL_S or done == total:
            last[0] = now
            progress.update.remote(key, done, total, pid)

    progress.update.remote(key, 0, 0, pid)
    return runner.run(Path(src), Path(dst), input_sha=input_sha, root=Path(root),
                      progress=report)


def execute_ray(settings: Settings, jobs: list[FileJob], options: BatchOptions, *,
                progress: Callable | None = None) -> Iterator[FileResult]:
    """Yield each file's result in ``jobs`` order (the journal's order is the local engine's)."""
    if any(job.mode != "run" for job in jobs):
        raise ConfigError("--engine ray runs `redact run` batches; plan and render run locally")
    if options.retries < 0:
        raise ConfigError("--retries must be 0 or more")
    ray = import_ray()
    started = connect(options.address)
    refs: list[Any] = []
    consumed = 0
    try:
        progress_actor = ray.remote(num_cpus=0)(_Progress).remote()
        resources: dict[str, float] = {"num_cpus": options.cpus_per_file}
        if settings.config.device == "cuda":
            resources["num_gpus"] = options.gpus_per_file
        task = ray.remote(max_retries=options.retries, retry_exceptions=False,
                          **resources)(_run_file)
        threads = max(1, int(options.cpus_per_file))
        refs = [task.remote(settings, str(job.src), str(job.dst), job.input_sha,
                            str(job.root), threads, progress_actor, str(i))
                for i, job in enumerate(jobs)]
        bars = _Bars(progress, [job.src for job in jobs])
        for i, ref in enumerate(refs):
            consumed = i
            while not ray.wait([ref], timeout=POLL_S)[0]:
                bars.show(ray.get(progress_actor.snapshot.remote()))
            bars.show(ray.get(progress_actor.snapshot.remote()))
            yield _visible(_result(ray, ref, jobs[i], options.retries))
        consumed = len(refs)
    finally:
        from redact.io.atomic import sweep_temporaries

        # The driver is stopping early (an error, Ctrl-C): no task may go on writing into the
        # folder once its lock is released.
        for ref in refs[consumed:]:
            with contextlib.suppress(Exception):  # already finished, or its node is gone
                ray.cancel(ref, force=True)
        # Every task has ended (or the driver is stopping them): what a dead worker left
        # behind can go. The driver holds the lock, so no other run writes here.
        if started:
            ray.shutdown()
        for root in {job.root for job in jobs}:
            sweep_temporaries(root)


def _result(ray: Any, ref: Any, job: FileJob, retries: int) -> FileResult:
    """The task's result, or a failed one saying why the cluster could not give it."""
    from redact.batch.results import FileResult

    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # e.g. redact missing on that node
        cause = getattr(exc, "cause", None) or exc
        why = " ".join(str(cause).split())[:300]
        return FileResult(str(job.src), None, None, "failed",
                          f"the Ray task failed on its node: {type(cause).__name__}: {why}")
    except ray.exceptions.RayError as exc:
        # Ray already ran it `retries` more times; it never completed.
        why = " ".join(str(exc).split())[:300]
        return FileResult(str(job.src), None, None, "failed",
                          f"worker lost {retries + 1} time(s) on this file "
                          f"({type(exc).__name__}): {why}")


def _visible(result: FileResult) -> FileResult:
    """Fail closed when a worker wrote where the driver cannot see (no shared storage)."""
    if result.status != "ok":
        return result
    missing = [p for p in (result.output, result.audit) if p and not Path(p).is_file()]
    if missing:
        result.status, result.output, result.audit = "failed", None, None
        result.error = (f"a worker reported {missing[0]} written but the driver cannot see "
                        "it: put the output folder on storage every Ray node shares")
    return result


class _Bars:
    """Forwards the cluster-wide progress to the CLI's per-file bars."""

    def __init__(self, factory: Callable | None, sources: list[Path]) -> None:
        self.factory, self.sources = factory, sources
        self.bars: dict[str, Callable[[int, int], None] | None] = {}

    def show(self, files: dict[str, tuple[int, int, int]]) -> None:
        if self.factory is None:
            return
        for key, (done, total, _pid) in files.items():
            if key not in self.bars:
                self.bars[key] = self.factory(self.sources[int(key)])
            bar = self.bars[key]
            if bar is not None:
                bar(done, total)
