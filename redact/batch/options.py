"""How a batch runs (not what it paints): job state, workers, engine, signing, consent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BatchOptions:
    state: Path | None = None  # default OUT/.redact/state.sqlite
    workers: int = 1
    since: float | None = None  # only inputs modified at/after this epoch time
    sign_key: Path | None = None
    force: bool = False
    # Where files run: "local" (this machine) or "ray" (a Ray cluster; batch/engine_ray.py).
    engine: str = "local"
    address: str | None = None  # Ray cluster address; None starts a local one
    retries: int = 2  # Ray: runs of a file after its worker died, before it is reported failed
    cpus_per_file: float = 1.0  # Ray resources declared per file
    gpus_per_file: float = 0.25  # Ray, --device cuda: four files share a GPU
    # Render a plan whose sealed analysis was edited: every change is listed in the audit
    # record and the file's verdict is "review" (exit 4). Without it such a plan is refused.
    accept_plan_edits: bool = False
