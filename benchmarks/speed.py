"""Speed at the resolutions body cameras record (640x360, 1280x720, 1920x1080, 2560x1920):
redact fps next to a bare PyAV decode→encode of the same clip with the same encoder settings,
measured in the same run (this machine is shared and noisy, so only the ratio means
anything), with each run's peak memory and where its time goes.

The clips are made from real footage: the egocentric EgoBlur clip in ../shared/data (two
people at a table), resized and played forward/backward to 90 frames.

Each row is ``--repeats`` rounds of bare, redact, bare; the row gives the round with the
median ratio and the range over the rounds. On a shared machine a single round at 640x360
(under three seconds) moved by as much as a tenth of the ratio; the CPU-seconds ratio (the
bare run's CPU time over redact's, both processes' user + system time) moves less with the
load and is given beside it.

    python benchmarks/speed.py [--frames 90] [--repeats 3] [--sizes 640x360,...]
                               [--variants JSON-LIST] [--variant-sizes 1920x1080,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, publish, require_shared

SOURCE = "videos/egoblur_test_face_video.mp4"


def make_clip(path: Path, frames: int, size: tuple[int, int] = (1920, 1080)) -> None:
    import av
    import cv2

    with av.open(str(require_shared(SOURCE))) as src:
        images = [cv2.resize(f.to_ndarray(format="bgr24"), size, interpolation=cv2.INTER_AREA)
                  for f in src.decode(video=0)]
    loop = images + images[-2:0:-1]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"crf": "16", "preset": "fast"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(loop[i % len(loop)], format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


def cpu_seconds() -> float:
    """This process's CPU time so far, every thread's, user + system."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare(src: Path, dst: Path, crf: int, preset: str) -> float:
    """Decode → encode with PyAV alone: the floor any redaction tool pays."""
    import av

    t0 = time.monotonic()
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        sv = inp.streams.video[0]
        sv.thread_type = "AUTO"
        vs = out.add_stream("libx264", rate=sv.average_rate)
        vs.width, vs.height, vs.pix_fmt = sv.codec_context.width, sv.codec_context.height, \
            "yuv420p"
        vs.time_base = vs.codec_context.time_base = sv.time_base
        # The same x264 options as redact's encoder (io/encode.py: macroblock tree off, for
        # outputs that are a pure function of their input).
        vs.options = {"crf": str(crf), "preset": preset, "x264-params": "mbtree=0"}
        n = 0
        for frame in inp.decode(sv):
            for p in vs.encode(frame):
                out.mux(p)
            n += 1
        for p in vs.encode():
            out.mux(p)
    return n / (time.monotonic() - t0)


def _pipeline(src: Path, dst: Path, overrides: dict, *, timed: bool):
    import resource

    import redact
    from redact.batch.runner import FileRunner

    settings = redact.load_settings(overrides=overrides, override_source="benchmark")
    runner = FileRunner(settings)
    runner.detectors  # load models outside the timed region  # noqa: B018
    stages = _time_stages(runner) if timed else {}
    cpu0, t0 = cpu_seconds(), time.monotonic()
    result = runner.run(src, dst)
    seconds = time.monotonic() - t0
    stages["cpu"] = cpu_seconds() - cpu0
    if result.status != "ok":
        raise SystemExit(f"pipeline failed: {result.error}")
    stages["wall"] = seconds
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return result.frames / seconds, result.counts, rss, stages


def _timer(stages: dict, key: str, fn):
    def wrapped(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[key] = stages.get(key, 0.0) + time.perf_counter() - t0
    return wrapped


def _time_stages(runner) -> dict:
    """Busy seconds per stage. Detectors run in their own threads beside decode, paint and
    encode, so the stages overlap and add up to more than the wall time."""
    import redact.batch.video as video
    import redact.render.video as render
    from redact.io.encode import VideoWriter

    stages: dict[str, float] = {}
    for d in runner.detectors.detectors:
        d.detect = _timer(stages, f"detect {type(d).__name__}", d.detect)
    decode = video.iter_frames

    def timed_frames(*args, **kwargs):
        frames = decode(*args, **kwargs)
        while True:
            t0 = time.perf_counter()
            try:
                frame = next(frames)
            except StopIteration:
                return
            finally:
                stages["decode"] = stages.get("decode", 0.0) + time.perf_counter() - t0
            yield frame

    video.iter_frames = timed_frames
    render.paint = _timer(stages, "paint", render.paint)
    VideoWriter.write = _timer(stages, "encode", VideoWriter.write)
    VideoWriter.close = _timer(stages, "encode", VideoWriter.close)
    return stages


def _child(args) -> tuple:
    src, dst, overrides = args
    return _pipeline(Path(src), Path(dst), overrides, timed=True)


def measure(src: Path, dst: Path, overrides: dict) -> tuple[float, dict, float, dict]:
    """One run in a fresh process: its peak memory is this run's alone."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_child, (str(src), str(dst), overrides)).result()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080,2560x1920")
    parser.add_argument("--variants", default='[{"detect_every": 3}, '
                        '{"categories": ["face", "plate", "screen"]}]',
                        help="settings run besides the defaults, at --variant-sizes")
    parser.add_argument("--variant-sizes", default="1920x1080",
                        help="the sizes (of --sizes) that run the variants too")
    parser.add_argument("--section", default="speed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import redact

    defaults = redact.Config()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    variant_sizes = {tuple(int(v) for v in s.split("x")) for s in args.variant_sizes.split(",")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            clip = Path(tmp) / f"clip{size[0]}x{size[1]}.mp4"
            make_clip(clip, args.frames, size)
            extra = json.loads(args.variants) if size in variant_sizes else []
            for overrides in [{}, *extra]:
                rows.append((size, overrides,
                             *_row(clip, Path(tmp), overrides, args.repeats)))
    lines = _lines(args, defaults, rows)
    publish(args.section, lines, write=not args.no_write)


def _row(clip: Path, tmp: Path, overrides: dict, repeats: int) -> tuple:
    import redact

    cfg = redact.load_settings(overrides=overrides).config
    rounds = []
    for _ in range(max(1, repeats)):
        cpu0 = cpu_seconds()
        before = bare(clip, tmp / "bare.mp4", cfg.crf, cfg.encoder_preset)
        cpu1 = cpu_seconds()
        fps, counts, rss, stages = measure(clip, tmp / "out.mp4", overrides)
        cpu2 = cpu_seconds()
        after = bare(clip, tmp / "bare.mp4", cfg.crf, cfg.encoder_preset)
        bare_cpu = (cpu1 - cpu0 + cpu_seconds() - cpu2) / 2
        base = (before + after) / 2
        print(clip.name, overrides, f"{fps:.2f} fps vs bare {base:.2f} fps → {fps / base:.2f}x",
              f"cpu {bare_cpu:.2f}/{stages['cpu']:.2f} s → {bare_cpu / stages['cpu']:.2f}x",
              f"{rss:.0f} MB", counts, {k: round(v, 1) for k, v in stages.items()}, flush=True)
        rounds.append((fps / base, fps, base, rss, counts, stages, bare_cpu / stages["cpu"]))
    ordered = sorted(rounds, key=lambda r: r[0])
    _, fps, base, _, counts, stages, _ = ordered[len(ordered) // 2]
    spread = (ordered[0][0], ordered[-1][0])
    cpu_ratios = sorted(r[6] for r in rounds)
    return fps, base, max(r[3] for r in rounds), counts, stages, spread, \
        cpu_ratios[len(cpu_ratios) // 2]


def _lines(args, defaults, rows) -> list[str]:
    lines = [
        "## Speed by resolution (benchmarks/speed.py)",
        "",
        f"Machine: {machine()}. Clips: {args.frames} frames at each size, made from "
        f"`{SOURCE}` (two people at a table, resized); encoder libx264 crf {defaults.crf} "
        f"preset {defaults.encoder_preset} mbtree=0 in both runs. Bare = PyAV decode→encode "
        "of the same clip, measured just before and after each redact run (mean). Each redact "
        "run is a fresh process (models loaded outside the timing); peak RSS is the largest "
        f"of those processes'. {args.repeats} round(s) per row: the row is the round with "
        "the median ratio, the range is over the rounds; CPU ratio = the bare run's CPU "
        "seconds over redact's (median of the rounds).",
        "",
        "| resolution | settings (over defaults) | redact fps | bare fps | ratio | range | "
        "CPU ratio | peak RSS | regions |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, overrides, fps, base, rss, counts, _stages, spread, cpu_ratio in rows:
        label = json.dumps(overrides) if overrides else "defaults"
        lines.append(f"| {size[0]}×{size[1]} | `{label}` | {fps:.2f} | {base:.2f} | "
                     f"**{fps / base:.2f}×** | {spread[0]:.2f}–{spread[1]:.2f} | "
                     f"{cpu_ratio:.2f}× | {rss:.0f} MB | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))} |")
    keys = sorted({k for *_, stages, _s, _c in rows for k in stages} - {"wall", "cpu"})
    lines += ["", "Where the time goes at the defaults (the median round): busy seconds per "
              "stage (detectors run in threads beside decode, paint and encode, so stages "
              "overlap), and the run's CPU seconds:", "",
              "| resolution | wall | CPU | " + " | ".join(keys) + " |",
              "|---|---|---|" + "---|" * len(keys)]
    for size, overrides, *_rest, stages, _spread, _cpu in rows:
        if not overrides:
            lines.append(f"| {size[0]}×{size[1]} | {stages['wall']:.1f} s | "
                         f"{stages['cpu']:.1f} s | "
                         + " | ".join(f"{stages.get(k, 0.0):.1f} s" for k in keys) + " |")
    return lines


if __name__ == "__main__":
    main()
