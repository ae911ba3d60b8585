"""Speed: redact fps on a 1080p clip next to a bare PyAV decode→encode of the same clip with the
same encoder settings, measured in the same run (this machine is shared and noisy, so only
the ratio means anything).

The 1080p clip is made from real footage: the egocentric EgoBlur clip in ../shared/data
(two people at a table), resized to 1920x1080 and played forward/backward to 90 frames.

    python benchmarks/speed.py [--frames 90] [--variants JSON-LIST]
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


def make_1080p(path: Path, frames: int) -> None:
    import av
    import cv2

    with av.open(str(require_shared(SOURCE))) as src:
        images = [cv2.resize(f.to_ndarray(format="bgr24"), (1920, 1080),
                             interpolation=cv2.INTER_AREA) for f in src.decode(video=0)]
    loop = images + images[-2:0:-1]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.options = {"crf": "16", "preset": "fast"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(loop[i % len(loop)], format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


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


def pipeline(src: Path, dst: Path, overrides: dict) -> tuple[float, dict]:
    import redact
    from redact.batch.runner import FileRunner

    settings = redact.load_settings(overrides=overrides, override_source="benchmark")
    runner = FileRunner(settings)
    runner.detectors  # load models outside the timed region  # noqa: B018
    t0 = time.monotonic()
    result = runner.run(src, dst)
    seconds = time.monotonic() - t0
    if result.status != "ok":
        raise SystemExit(f"pipeline failed: {result.error}")
    return result.frames / seconds, result.counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--variants", default='[{}, {"detect_every": 3}, '
                        '{"categories": ["face", "plate", "screen"]}]')
    parser.add_argument("--section", default="speed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import redact

    defaults = redact.Config()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip1080.mp4"
        make_1080p(clip, args.frames)
        rows = []
        for overrides in json.loads(args.variants):
            cfg = redact.load_settings(overrides=overrides).config
            before = bare(clip, Path(tmp) / "bare.mp4", cfg.crf, cfg.encoder_preset)
            fps, counts = pipeline(clip, Path(tmp) / "out.mp4", overrides)
            after = bare(clip, Path(tmp) / "bare.mp4", cfg.crf, cfg.encoder_preset)
            base = (before + after) / 2
            rows.append((overrides, fps, base, fps / base, counts))
            print(overrides, f"{fps:.2f} fps vs bare {base:.2f} fps → {fps / base:.2f}x", counts,
                  flush=True)
    lines = [
        "## Speed on 1080p (benchmarks/speed.py)",
        "",
        f"Machine: {machine()}. Clip: {args.frames} frames 1920x1080 made from `{SOURCE}`; "
        f"faces and plates on; encoder libx264 crf {defaults.crf} preset "
        f"{defaults.encoder_preset} mbtree=0 in both runs. Bare = PyAV decode→encode of the "
        "same clip, measured just before and after each pipeline run (mean).",
        "",
        "| settings (over defaults) | redact fps | bare fps | ratio | regions |",
        "|---|---|---|---|---|",
    ]
    for overrides, fps, base, ratio, counts in rows:
        label = json.dumps(overrides) if overrides else "defaults"
        lines.append(f"| `{label}` | {fps:.2f} | {base:.2f} | **{ratio:.2f}×** | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(counts.items()))} |")
    publish(args.section, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
