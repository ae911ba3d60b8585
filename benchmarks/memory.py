"""Peak memory vs clip length: the look-back buffer must keep memory flat.

Generates textured low-resolution clips of 1 and 10 minutes (so the 10-minute run is cheap on
2 cores), redacts each in a fresh process with the real models and the default temporal
settings, and reports each process's peak RSS. Then
one short 1080p run gives the absolute level for full-HD frames.

The textured clips paint nothing, so they show the frames held, not the plan. ``--real-minutes``
adds clips looped from real footage at 640x360, 30 fps (two people at a table, faces in every
frame: ../shared/data/videos/egoblur_test_face_video.mp4), at the default settings: what a
long recording costs per painted region (the plan keeps every frame's regions until the
audit is written).

    python benchmarks/memory.py [--minutes 1 10] [--fps 10] [--real-minutes 1 4]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, publish
from benchmarks.speed import make_clip as speed_clip

CHILD = r"""
import json, resource, sys
import redact
from redact.batch.runner import FileRunner
overrides = json.loads(sys.argv[3])
runner = FileRunner(redact.load_settings(overrides=overrides, override_source="benchmark"))
result = runner.run(sys.argv[1], sys.argv[2])
audit = json.load(open(result.audit)) if result.audit else {}
print(json.dumps({"status": result.status, "error": result.error, "frames": result.frames,
                  "max_buffered": audit.get("frames", {}).get("max_buffered"),
                  "regions": sum((result.counts or {}).values()),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_clip(path: Path, seconds: float, fps: int, width: int, height: int) -> None:
    import av
    import numpy as np

    n = int(seconds * fps)
    y, x = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "28"}
        for i in range(n):
            img = np.stack([(x + 3 * i) % 256, (y + i) % 256, (x * y + i) % 256], 2)
            frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)


def measure(clip: Path, out: Path, overrides: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(clip), str(out),
                           json.dumps(overrides)], capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["status"] != "ok":  # a failed run's peak says nothing: never publish it
        raise SystemExit(f"{clip.name}: {result['error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--real-minutes", type=float, nargs="*", default=[1, 4])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    # Defaults, but for the encoder: video frames are not enlarged for the detectors
    # (max_upscale), so a 320x180 clip is cheap as it is. (Smaller detector inputs, as this
    # once used, are refused now: they lower recall.)
    small = {"encoder_preset": "ultrafast"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            clip = Path(tmp) / f"long{minutes}.mp4"
            make_clip(clip, minutes * 60, args.fps, 320, 180)
            r = measure(clip, Path(tmp) / f"out{minutes}.mp4", small)
            rows.append((f"{minutes:g} min, 320x180 @ {args.fps} fps", r))
            print(rows[-1], flush=True)
        for minutes in args.real_minutes:
            clip = Path(tmp) / f"real{minutes}.mp4"
            speed_clip(clip, int(minutes * 60 * 30), (640, 360))
            r = measure(clip, Path(tmp) / f"real_out{minutes}.mp4", {})
            rows.append((f"{minutes:g} min, real faces, 640x360 @ 30 fps, default settings", r))
            print(rows[-1], flush=True)
        clip = Path(tmp) / "hd.mp4"
        make_clip(clip, 4, 30, 1920, 1080)
        r = measure(clip, Path(tmp) / "hd_out.mp4", {})
        rows.append(("4 s, 1920x1080 @ 30 fps, default settings", r))
        print(rows[-1], flush=True)
    lines = [
        "## Peak memory vs clip length (benchmarks/memory.py)",
        "",
        f"Machine: {machine()}. Each run in a fresh process with the real models; peak RSS "
        "of that process, at the default settings (the 320x180 clips with x264's ultrafast "
        "preset). The 320x180 clips are textured and paint nothing; the real-face clips paint "
        "every frame, and their plan (every frame's regions) is held until the audit is "
        "written.",
        "",
        "| clip | frames | max frames buffered | regions painted | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for label, r in rows:
        lines.append(f"| {label} | {r['frames']} | {r['max_buffered']} | {r['regions']} | "
                     f"{r['peak_rss_mb']:.0f} MB |")
    publish("memory", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
