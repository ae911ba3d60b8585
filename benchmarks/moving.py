"""Moving-object benchmark with exact per-frame ground truth.

Builds a test video: real face and plate crops from ../shared/data blended onto a real
background clip (../shared/data/videos), each moving, growing or shrinking, entering and
leaving the frame, and briefly hidden behind an occluder. Every visible object-frame has an
exact ground-truth box. Then runs the pipeline with tracking on/off and detect-every 1/2/3
and measures, per category, the object-frame leak rate (SSIM inside the box between the input
and the redacted output above 0.75) and the longest run of consecutive leaked frames.

    python benchmarks/moving.py [--frames 150]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import leaked, machine, publish, require_shared

W, H = 1280, 720
BACKGROUND = "videos/intel_store-aisle-detection.mp4"


@dataclass(eq=False)
class Obj:
    category: str
    crop: np.ndarray  # BGR crop with context
    inner: tuple[float, float, float, float]  # GT box inside the crop, fractions
    start: int
    end: int
    p0: tuple[float, float]  # top-left at start (px)
    v: tuple[float, float]  # px per frame
    s0: float  # crop width at start (px)
    s1: float  # crop width at end
    hidden: tuple[int, int]  # frames [a, b) behind the occluder


def load_crops(kind: str, min_side: int, count: int, rng) -> list[tuple[np.ndarray, tuple]]:
    root = require_shared(f"{kind}s")
    ann = json.loads((root / "annotations.json").read_text())
    cands = []
    for entry in ann["images"]:
        for box in entry["boxes"]:
            if min(box[2] - box[0], box[3] - box[1]) >= min_side:
                cands.append((entry["file"], box))
    picks = [cands[i] for i in rng.choice(len(cands), size=count, replace=False)]
    crops = []
    for file, (x1, y1, x2, y2) in picks:
        img = cv2.imread(str(root / file))
        bw, bh = x2 - x1, y2 - y1
        cx1, cy1 = max(0, int(x1 - 0.4 * bw)), max(0, int(y1 - 0.4 * bh))
        cx2, cy2 = min(img.shape[1], int(x2 + 0.4 * bw)), min(img.shape[0], int(y2 + 0.4 * bh))
        crop = img[cy1:cy2, cx1:cx2].copy()
        ch, cw = crop.shape[:2]
        crops.append((crop, ((x1 - cx1) / cw, (y1 - cy1) / ch, (x2 - cx1) / cw,
                             (y2 - cy1) / ch)))
    return crops


def scenario(frames: int, seed: int = 7) -> list[Obj]:
    rng = np.random.default_rng(seed)
    faces = load_crops("face", 40, 4, rng)
    plates = load_crops("plate", 60, 3, rng)
    objs = []
    specs = [  # category, start, end, p0, v, s0, s1, hidden
        ("face", 0, frames, (100, 200), (4.0, 0.5), 150, 110, (40, 44)),
        ("face", 10, frames, (W - 50, 300), (-6.0, -0.5), 120, 170, (80, 83)),  # enters right
        ("face", 20, frames - 20, (600, 60), (1.5, 2.5), 80, 130, (100, 104)),
        ("face", 0, frames, (900, 450), (-3.0, -1.0), 190, 90, (60, 63)),  # shrinks
        ("plate", 0, frames, (300, 550), (5.0, -1.0), 220, 260, (30, 33)),
        ("plate", 30, frames, (1000, 80), (-2.0, 3.0), 180, 140, (120, 124)),
        ("plate", 0, frames - 30, (50, 420), (3.0, 0.0), 260, 200, (70, 72)),  # leaves left? no
    ]
    crops = {"face": iter(faces), "plate": iter(plates)}
    for cat, a, b, p0, v, s0, s1, hid in specs:
        crop, inner = next(crops[cat])
        objs.append(Obj(cat, crop, inner, a, b, p0, v, s0, s1, hid))
    return objs


def place(obj: Obj, i: int):
    """Crop placement (x, y, w, h) at frame i, or None when not on screen."""
    if not obj.start <= i < obj.end:
        return None
    k = i - obj.start
    a = k / max(1, obj.end - obj.start - 1)
    w = obj.s0 + (obj.s1 - obj.s0) * a
    h = w * obj.crop.shape[0] / obj.crop.shape[1]
    return obj.p0[0] + obj.v[0] * k, obj.p0[1] + obj.v[1] * k, w, h


def build(path: Path, frames: int, objs: list[Obj]) -> list[list[tuple[str, list[float]]]]:
    import av

    with av.open(str(require_shared(BACKGROUND))) as src:
        bg = [cv2.resize(f.to_ndarray(format="bgr24"), (W, H)) for f in src.decode(video=0)]
    bg = bg + bg[-2:0:-1]
    truth: list[list[tuple[str, list[float]]]] = []
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"crf": "12", "preset": "fast"}
        vs.time_base = vs.codec_context.time_base = Fraction(1, 30000)
        t = 0
        for i in range(frames):
            img = bg[i % len(bg)].copy()
            gt = []
            for k, obj in enumerate(objs):
                p = place(obj, i)
                if p is None:
                    continue
                x, y, w, h = p
                crop = cv2.resize(obj.crop, (max(2, int(w)), max(2, int(h))))
                ch, cw = crop.shape[:2]
                x0, y0 = int(x), int(y)
                sx1, sy1 = max(0, -x0), max(0, -y0)
                dx1, dy1 = max(0, x0), max(0, y0)
                dx2, dy2 = min(W, x0 + cw), min(H, y0 + ch)
                if dx2 <= dx1 or dy2 <= dy1:
                    continue
                img[dy1:dy2, dx1:dx2] = crop[sy1:sy1 + dy2 - dy1, sx1:sx1 + dx2 - dx1]
                box = [x0 + obj.inner[0] * cw, y0 + obj.inner[1] * ch,
                       x0 + obj.inner[2] * cw, y0 + obj.inner[3] * ch]
                cb = [max(0, box[0]), max(0, box[1]), min(W, box[2]), min(H, box[3])]
                visible = (cb[2] - cb[0]) * (cb[3] - cb[1]) >= 0.5 * (box[2] - box[0]) * (
                    box[3] - box[1])
                if obj.hidden[0] <= i < obj.hidden[1]:
                    # occluder: a grey panel over the whole object
                    img[dy1:dy2, dx1:dx2] = 90
                    visible = False
                gt.append((obj.category, cb, visible, k))
            truth.append(gt)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            # mildly variable frame rate: alternate 33 ms and 34 ms steps
            frame.pts, frame.time_base = t, Fraction(1, 30000)
            t += 1000 if i % 2 else 1001
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return truth


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def score(orig, red, truth, n_objs):
    stats = {}
    runs = {k: 0 for k in range(n_objs)}
    longest = {k: 0 for k in range(n_objs)}
    for i, gt in enumerate(truth):
        for cat, box, visible, k in gt:
            if not visible:
                runs[k] = 0
                continue
            s = stats.setdefault(cat, {"frames": 0, "leaks": 0, "longest": 0})
            s["frames"] += 1
            if leaked(orig[i], red[i], box):
                s["leaks"] += 1
                runs[k] += 1
                longest[k] = max(longest[k], runs[k])
                s["longest"] = max(s["longest"], runs[k])
            else:
                runs[k] = 0
    return stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--variants", default=json.dumps(
        [{"tracking": False, "detect_every": 1}, {"tracking": True, "detect_every": 1},
         {"tracking": False, "detect_every": 2}, {"tracking": True, "detect_every": 2},
         {"tracking": False, "detect_every": 3}, {"tracking": True, "detect_every": 3}]))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import redact
    from redact.pipeline.batch import FileRunner

    objs = scenario(args.frames)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "moving.mp4"
        truth = build(clip, args.frames, objs)
        orig = decode(clip)
        for overrides in json.loads(args.variants):
            settings = redact.load_settings(overrides=overrides, override_source="benchmark")
            runner = FileRunner(settings)
            runner.detectors  # noqa: B018  (load models outside the timing)
            t0 = time.monotonic()
            result = runner.run(clip, Path(tmp) / "out.mp4")
            secs = time.monotonic() - t0
            if result.status != "ok":
                raise SystemExit(result.error)
            stats = score(orig, decode(Path(tmp) / "out.mp4"), truth, len(objs))
            rows.append((settings.config, stats, args.frames / secs))
            print(overrides, stats, f"{args.frames / secs:.2f} fps", flush=True)
    lines = [
        "## Moving objects with exact ground truth (benchmarks/moving.py)",
        "",
        f"Machine: {machine()}. Video: {args.frames} frames {W}x{H}, ~30 fps with alternating "
        f"33.3/33.4 ms steps (VFR), background `{BACKGROUND}`; 4 real face crops and 3 real "
        "plate crops moving, scaling, entering/leaving and hidden for 2–4 frames each. A visible "
        "object-frame leaks when SSIM(input, output) inside its box is above 0.75.",
        "",
        "| tracking | detect every | face leak | face longest run | plate leak | "
        "plate longest run | fps (720p) |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, stats, fps in rows:
        f, p = stats.get("face", {}), stats.get("plate", {})
        lines.append(
            f"| {'on' if config.tracking else 'off'} | {config.detect_every} | "
            f"{f['leaks']}/{f['frames']} ({100 * f['leaks'] / f['frames']:.1f}%) | "
            f"{f['longest']} | {p['leaks']}/{p['frames']} "
            f"({100 * p['leaks'] / p['frames']:.1f}%) | {p['longest']} | {fps:.2f} |")
    publish("moving", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
