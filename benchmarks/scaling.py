"""Scaling: the same files through the local engine and through a local Ray cluster of 1, 2
and 4 workers (one CPU and one detector thread per file), frames per second and per core.

Wall time covers the whole batch as a user sees it, including starting the cluster's workers
and each worker's model load. This machine is shared: the load average is written beside the
numbers, and only runs made together in one invocation compare.

    python benchmarks/scaling.py [--files 4] [--workers 1,2,4] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, publish, require_shared

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def batch(inputs: Path, out: Path, **options) -> tuple[int, float]:
    import redact
    from redact.batch.jobs import BatchRunner
    from redact.batch.options import BatchOptions

    settings = redact.load_settings(overrides={"device": "cpu"}, override_source="benchmark")
    t0 = time.monotonic()
    report = BatchRunner(settings, out, BatchOptions(**options)).run(inputs)
    seconds = time.monotonic() - t0
    failed = [r for r in report.results if r.status != "ok"]
    if failed:
        raise SystemExit(f"{failed[0].input}: {failed[0].status} {failed[0].error}")
    return sum(r.frames for r in report.results), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--section", default="scaling")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import ray

    videos = require_shared("videos")
    clips = sorted(videos.glob("intel_asl_*.mp4"))[: args.files]
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for clip in clips:
            shutil.copy(clip, inputs / clip.name)
        runs: list[tuple[str, int, dict]] = [("local engine, 1 process", cores, {}),
                                             ("local engine, --workers 2", cores,
                                              {"workers": 2})]
        runs += [(f"Ray, {w} worker(s)", min(w, cores), {"engine": "ray", "ray_cpus": w})
                 for w in map(int, args.workers.split(","))]
        for i, (label, used, options) in enumerate(runs):
            ray_cpus = options.pop("ray_cpus", None)
            if ray_cpus:
                ray.init(num_cpus=ray_cpus, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            load = os.getloadavg()[0]
            try:
                frames, seconds = batch(inputs, Path(tmp) / f"out{i}", **options)
            finally:
                if ray_cpus:
                    ray.shutdown()
            load = (load + os.getloadavg()[0]) / 2
            fps = frames / seconds
            rows.append((label, frames, seconds, fps, fps / used, load))
            print(f"{label}: {frames} frames in {seconds:.1f} s = {fps:.2f} fps, "
                  f"{fps / used:.2f} fps/core, load {load:.1f}", flush=True)
    names = ", ".join(c.name for c in clips)
    lines = [
        "## Scaling with Ray workers (benchmarks/scaling.py)",
        "",
        f"Machine: {machine()}. Files: {len(clips)} clips of ../shared/data/videos "
        f"({names}; 640x480, about 63 frames each), default settings, `--device cpu`. "
        "Ray: a local cluster of N CPUs, one file per task (`num_cpus=1`, one detector "
        "thread). Wall time includes starting the workers and loading the models in each. "
        "fps/core divides by the cores the run could use (at most this machine's "
        f"{cores}). **This machine is shared with other sessions**: the load average (mean of "
        "before and after each run) shows how busy it was; compare rows of one table only.",
        "",
        "| engine | frames | seconds | fps | fps per core | load average |",
        "|---|---|---|---|---|---|",
    ]
    for label, frames, seconds, fps, per_core, load in rows:
        lines.append(f"| {label} | {frames} | {seconds:.1f} | {fps:.2f} | {per_core:.2f} | "
                     f"{load:.1f} |")
    publish(args.section, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
