"""Leak rate on real clips against hand-made boxes (benchmarks/real_boxes.json).

Runs the real pipeline (`redact.redact_paths`) on every clip of ../shared/data/videos that
real_boxes.json samples, reads the painted regions of each annotated frame from the audit
record, and counts a readable face or plate box as *covered* when at least 90% of its area lies
inside the union of all regions painted on that frame (any category: a painted region hides
whatever is under it). Boxes marked readable=false or back_of_head are listed, never scored.

Speed: redact's wall time for all the clips (one model load included) next to a bare PyAV
decode→encode of the same clips with the same encoder settings (benchmarks/speed.py `bare`),
measured just before and just after (mean).

``--scale S`` runs the same frames at another resolution: each clip is resized by S (its
frames' times kept) and its boxes with it. Cameras record at many sizes, and the detectors'
input sizes, tiles and upscale caps make a face of 40 px a different problem from the same
face at 80 px: the settings chosen at one size must hold at the others.

``--look gray|dark`` records the same frames again as a body camera does at night: monochrome
(infrared mode) or underexposed with sensor noise (``night``); the boxes stay where they are.

    python benchmarks/real_footage.py [--presets default,max-recall] [--scale 2]
                                      [--look gray|dark] [--section real-footage] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import BUCKETS, machine, publish, require_shared, size_bucket
from benchmarks.speed import bare

BOXES = Path(__file__).with_name("real_boxes.json")
COVER = 0.9
CATEGORIES = ("face", "plate")
# What counts as a true object when measuring paint where nothing is: anything a redaction
# may rightly cover. Person boxes are not among them (a painted torso is not a face).
TRUE_OBJECTS = ("face", "head", "plate", "screen")


LOOKS = {"gray": "monochrome, as a camera in infrared night mode records",
         "dark": "underexposed to a third of the light, gamma 1.5, sensor noise sigma 3"}


@dataclass
class Tally:
    total: Counter = field(default_factory=Counter)   # (category, bucket) → readable box-frames
    leaks: Counter = field(default_factory=Counter)
    unscored: Counter = field(default_factory=Counter)  # category → unreadable/back-of-head
    unscored_covered: Counter = field(default_factory=Counter)
    per_clip: dict[str, list[int]] = field(default_factory=dict)  # clip → [scored, leaked]
    leaked: list[str] = field(default_factory=list)
    # (half, clip) → [frames, false-paint share summed, worst share, stray regions, their share]
    false: dict[tuple[str, str], list[float]] = field(default_factory=dict)


@dataclass
class Row:
    preset: str
    tally: Tally
    frames: int
    seconds: float
    file_seconds: float
    bare_seconds: float
    counts: Counter
    load: str


def painted_mask(regions: list[dict], width: int, height: int) -> np.ndarray:
    """Pixels painted on one frame, with the renderer's floor/ceil rounding of box edges."""
    mask = np.zeros((height, width), bool)
    for region in regions:
        x1, y1, x2, y2 = region["box"]
        mask[max(0, math.floor(y1)):min(height, math.ceil(y2)),
             max(0, math.floor(x1)):min(width, math.ceil(x2))] = True
    return mask


def frame_regions(audit: dict) -> dict[int, dict]:
    return {entry["frame"]: entry for entry in audit["regions"]}


def score(frames: list[dict], audits: dict[str, dict]) -> Tally:
    tally = Tally()
    for item in frames:
        clip, index = item["clip"], item["frame"]
        entry = frame_regions(audits[clip]).get(index)
        # Frame indices in the audit and in real_boxes.json are both 0-based decode order;
        # a pts mismatch means the two disagree about which picture this is.
        if entry is not None and entry.get("pts") is not None and entry["pts"] != item["pts"]:
            raise SystemExit(f"{clip} frame {index}: audit pts {entry['pts']} != annotated pts "
                             f"{item['pts']}; frame indexing differs")
        regions = entry["regions"] if entry else []
        mask = painted_mask(regions, item["width"], item["height"])
        false_paint(tally, item, regions, mask)
        scored = tally.per_clip.setdefault(clip, [0, 0])
        for box in item["boxes"]:
            x1, y1, x2, y2 = box["box"]
            covered = float(mask[y1:y2, x1:x2].mean()) >= COVER
            cat = box["category"]
            if cat not in CATEGORIES:
                continue  # heads, persons, screens: ground truth for other measures
            if not box["readable"] or box.get("back_of_head"):
                tally.unscored[cat] += 1
                tally.unscored_covered[cat] += covered
                continue
            bucket = size_bucket(box["box"])
            tally.total[cat, bucket] += 1
            scored[0] += 1
            if not covered:
                tally.leaks[cat, bucket] += 1
                scored[1] += 1
                share = float(mask[y1:y2, x1:x2].mean())
                note = f" ({box['note']})" if box.get("note") else ""
                tally.leaked.append(f"{cat} {clip} frame {index} {box['box']} "
                                    f"{x2 - x1}x{y2 - y1} px, {share:.0%} covered{note}")
    return tally


def false_paint(tally: Tally, item: dict, regions: list[dict], painted: np.ndarray) -> None:
    """Paint where no true object is: its share of the frame, and the painted regions that
    touch no true object at all."""
    w, h = item["width"], item["height"]
    truth = painted_mask([b for b in item["boxes"] if b["category"] in TRUE_OBJECTS], w, h)
    share = float((painted & ~truth).sum()) / (w * h)
    strays = []
    for region in regions:
        x1, y1, x2, y2 = region["box"]
        cut = truth[max(0, math.floor(y1)):min(h, math.ceil(y2)),
                    max(0, math.floor(x1)):min(w, math.ceil(x2))]
        if not cut.any():
            strays.append(region)
    acc = tally.false.setdefault((item.get("half", "-"), item["clip"]), [0, 0.0, 0.0, 0, 0.0])
    acc[0] += 1
    acc[1] += share
    acc[2] = max(acc[2], share)
    acc[3] += len(strays)
    # the part of ``share`` painted by regions on nothing at all (the rest is paint around
    # true objects: the margin and the tracker's padding)
    acc[4] += float(painted_mask(strays, w, h).sum()) / (w * h)


def precision_table(rows: list[Row]) -> list[str]:
    lines = ["| settings | half | clip | frames | painted where nothing is (mean) | of which by "
             "regions touching nothing | worst frame | regions touching nothing, per frame |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for half in ("tune", "report"):
            items = sorted((clip, acc) for (h, clip), acc in row.tally.false.items()
                           if h == half)
            for clip, (n, total, worst, stray, stray_area) in items:
                lines.append(f"| {row.preset} | {half} | {clip} | {n} | {total / n:.2%} | "
                             f"{stray_area / n:.2%} | {worst:.1%} | {stray / n:.1f} |")
            n = sum(acc[0] for _, acc in items)
            if n:
                lines.append(f"| {row.preset} | {half} | **all** | {n} | "
                             f"**{sum(a[1] for _, a in items) / n:.2%}** | "
                             f"{sum(a[4] for _, a in items) / n:.2%} | "
                             f"{max(a[2] for _, a in items):.1%} | "
                             f"{sum(a[3] for _, a in items) / n:.1f} |")
    return lines


def night(image: np.ndarray, look: str, rng: np.random.Generator) -> np.ndarray:
    """A frame as a body camera records it at night: ``gray``, the monochrome picture of a
    camera in infrared mode (luma only); ``dark``, underexposed (a third of the light, the
    shadows crushed by a gamma of 1.5) with sensor noise (sigma 3 of 255)."""
    import cv2

    if look == "gray":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    dim = 255.0 * (image.astype(np.float32) / 255.0) ** 1.5 / 3.0
    noisy = dim + rng.normal(0.0, 3.0, image.shape).astype(np.float32)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def scaled_clip(src: Path, dst: Path, scale: float, look: str = "") -> tuple[int, int]:
    """``src`` resized by ``scale`` (even sides, x264 crf 14) into ``dst``, every frame at its
    own pts and time base, and with ``look`` (see ``night``) when given; returns the new
    size."""
    import av
    import cv2

    rng = np.random.default_rng(0)

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        v = inp.streams.video[0]
        size = (round(v.codec_context.width * scale / 2) * 2,
                round(v.codec_context.height * scale / 2) * 2)
        vs = out.add_stream("libx264", rate=v.average_rate)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.time_base = vs.codec_context.time_base = v.time_base
        vs.options = {"crf": "14", "preset": "fast"}
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        for frame in inp.decode(v):
            image = frame.to_ndarray(format="bgr24")
            if size != (image.shape[1], image.shape[0]):
                image = cv2.resize(image, size, interpolation=interp)
            if look:
                image = night(image, look, rng)
            copy = av.VideoFrame.from_ndarray(image, format="bgr24")
            copy.pts, copy.time_base = frame.pts, frame.time_base
            for packet in vs.encode(copy):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return size


def scaled_frames(frames: list[dict], sizes: dict[str, tuple[int, int]]) -> list[dict]:
    """The annotated frames with their boxes moved onto the resized clips."""
    out = []
    for item in frames:
        w, h = sizes[item["clip"]]
        sx, sy = w / item["width"], h / item["height"]
        boxes = [{**b, "box": [math.floor(b["box"][0] * sx), math.floor(b["box"][1] * sy),
                               math.ceil(b["box"][2] * sx), math.ceil(b["box"][3] * sy)]}
                 for b in item["boxes"]]
        out.append({**item, "width": w, "height": h, "boxes": boxes})
    return out


def bare_seconds(clips: list[Path], tmp: Path, crf: int, preset: str) -> float:
    t0 = time.monotonic()
    for clip in clips:
        bare(clip, tmp / "bare.mp4", crf, preset)
    return time.monotonic() - t0


def run_preset(preset: str, clips: list[Path], frames: list[dict], tmp: Path,
               overrides: dict | None = None) -> Row:
    """``preset`` names a row: a preset ("default" = none), or ``base+label`` with
    ``overrides`` applied on top of ``base``."""
    import redact

    base = preset.split("+")[0]
    settings = redact.load_settings(preset=None if base == "default" else base,
                                    overrides=overrides or {}, override_source="benchmark")
    cfg = settings.config
    out = tmp / f"out-{preset}"
    load_before = os.getloadavg()[0]
    before = bare_seconds(clips, tmp, cfg.crf, cfg.encoder_preset)
    t0 = time.monotonic()
    report = redact.redact_paths(clips, out, settings)
    seconds = time.monotonic() - t0
    after = bare_seconds(clips, tmp, cfg.crf, cfg.encoder_preset)
    load = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
    audits, counts = {}, Counter()
    for result in report.results:
        if result.status != "ok":
            raise RuntimeError(f"redact failed on {Path(result.input).name}: {result.error}")
        audits[Path(result.input).name] = json.loads(Path(result.audit).read_text())
        counts.update(result.counts)
    row = Row(preset, score(frames, audits), sum(r.frames for r in report.results), seconds,
              sum(r.seconds for r in report.results), (before + after) / 2, counts, load)
    print(f"{preset}: {row.frames} frames, redact {seconds:.1f} s, bare {row.bare_seconds:.1f} s,"
          f" {len(row.tally.leaked)} leaked", flush=True)
    return row


def rate(leaks: int, total: int) -> str:
    return f"{leaks / total:.1%}" if total else "–"


def table(rows: list[Row]) -> list[str]:
    lines = ["| settings | category | box-frames | leaked | leak rate | "
             + " | ".join(f"{b.replace('-', '–').replace('>=', '≥')} px" for b in BUCKETS)
             + " | not scored (covered) |",
             "|---|---|---|---|---|" + "---|" * len(BUCKETS) + "---|"]
    for row in rows:
        t = row.tally
        for cat in CATEGORIES:
            total = sum(t.total[cat, b] for b in BUCKETS)
            leaks = sum(t.leaks[cat, b] for b in BUCKETS)
            cells = " | ".join(f"{t.leaks[cat, b]}/{t.total[cat, b]}" for b in BUCKETS)
            lines.append(f"| {row.preset} | {cat} | {total} | {leaks} | **{rate(leaks, total)}** "
                         f"| {cells} | {t.unscored[cat]} ({t.unscored_covered[cat]}) |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", default="default,max-recall",
                        help="comma-separated; 'default' = no preset")
    parser.add_argument("--extra", default="{}",
                        help='JSON rows over a preset, e.g. {"default+text": {"categories": '
                             '["face", "plate", "text"]}}')
    parser.add_argument("--scale", type=float, default=1.0,
                        help="resize every clip (and its boxes) by this first")
    parser.add_argument("--look", choices=("gray", "dark"), default=None,
                        help="record every clip as a camera at night would first (see night())")
    parser.add_argument("--section", default="real-footage")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    videos = require_shared("videos")
    data = json.loads(BOXES.read_text())
    if data.get("schema") != "redact.realboxes/1":
        raise SystemExit(f"{BOXES}: unknown schema {data.get('schema')!r}")
    frames = data["frames"]
    names = sorted({f["clip"] for f in frames})
    clips = [videos / name for name in names]
    missing = [str(c) for c in clips if not c.exists()]
    if missing:
        raise SystemExit(f"skipped: clips absent from ../shared/data: {', '.join(missing)}")

    rows, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        if args.scale != 1 or args.look:
            (Path(tmp) / "scaled").mkdir()
            sizes = {c.name: scaled_clip(c, Path(tmp) / "scaled" / c.name, args.scale,
                                         args.look or "")
                     for c in clips}
            clips = [Path(tmp) / "scaled" / c.name for c in clips]
            frames = scaled_frames(frames, sizes)
        jobs = [(p.strip(), None) for p in args.presets.split(",") if p.strip()]
        jobs += list(json.loads(args.extra).items())
        for preset, overrides in jobs:
            try:
                rows.append(run_preset(preset, clips, frames, Path(tmp), overrides))
            except RuntimeError as exc:  # keep the rows already measured
                print(f"{preset}: {exc}", file=sys.stderr, flush=True)
                failed.append(f"{preset}: {exc}")

    boxes = [b for f in frames for b in f["boxes"]]
    per_cat = {cat: Counter("readable" if b["readable"] and not b.get("back_of_head") else
                            "back of head" if b.get("back_of_head") else "unreadable"
                            for b in boxes if b["category"] == cat) for cat in CATEGORIES}
    described = "; ".join(f"{cat}: " + ", ".join(f"{n} {k}" for k, n in sorted(c.items()))
                          for cat, c in per_cat.items())
    lines = [
        "## Real footage against hand-made boxes (benchmarks/real_footage.py"
        + (f" --scale {args.scale:g}" if args.scale != 1 else "")
        + (f" --look {args.look}" if args.look else "") + ")",
        "",
        f"Machine: {machine()}. Ground truth: `benchmarks/real_boxes.json`, {len(frames)} frames "
        f"of {len(names)} clips from `../shared/data/videos`, boxes drawn and checked by eye at "
        f"full resolution ({described}). "
        + (f"**Every clip resized by {args.scale:g}** (x264 crf 14, each frame at its own "
           f"time) and its boxes with it. " if args.scale != 1 else "")
        + (f"**Every clip recorded again as `{args.look}`** ({LOOKS[args.look]}; x264 crf 14, "
           "each frame at its own time). " if args.look else "")
        + "Each clip is redacted whole by `redact.redact_paths`; "
        f"a readable box-frame leaks unless ≥{COVER:.0%} of its area lies inside the union of "
        "the regions the audit record lists as painted on that frame (any category). "
        "Unreadable and back-of-head boxes are not scored; the last column says how many of "
        "them were covered anyway. Size = the box's short side.",
        "",
        *table(rows),
        "",
        f"Paint where nothing is, per half of the annotated frames (`half` in "
        f"real_boxes.json; choose settings on `tune`, report `report`): the share of the "
        f"frame painted outside every true object ({', '.join(TRUE_OBJECTS)} boxes, legible "
        f"or not), and painted regions that touch none.",
        "",
        *precision_table(rows),
        "",
        "| settings | frames | redact wall (1 model load) | per-file sum | bare decode→encode "
        "| speed vs bare | load avg (1 min) | regions painted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row.preset} | {row.frames} | {row.seconds:.1f} s | "
                     f"{row.file_seconds:.1f} s | {row.bare_seconds:.1f} s | "
                     f"**{row.bare_seconds / row.seconds:.2f}×** | {row.load} | "
                     f"{', '.join(f'{k} {v}' for k, v in sorted(row.counts.items()))} |")
    for failure in failed:
        lines += ["", f"Not measured: {failure}"]
    for row in rows:
        per_clip = "; ".join(f"{clip} {leaked}/{scored}"
                             for clip, (scored, leaked) in sorted(row.tally.per_clip.items()))
        lines += ["", f"Leaked / scored box-frames per clip ({row.preset}): {per_clip}"]
        lines += ["", f"Leaked box-frames ({row.preset}): "
                  + ("; ".join(row.tally.leaked) if row.tally.leaked else "none")]
    publish(args.section, lines, write=not args.no_write and bool(rows))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
