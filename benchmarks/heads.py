"""Heads and persons on real clips against hand-made boxes (benchmarks/real_boxes.json).

Runs the real pipeline (`redact.redact_paths`) on the clips real_boxes.json samples, once per
row (a row = settings over a preset), reads the painted regions of each annotated frame from
the audit record (benchmarks/real_footage.py `painted_mask`), and counts a `head` or `person`
box-frame *covered* when at least 90% of its area lies inside the union of all regions painted
on that frame (any category). Reported per half (`half` in real_boxes.json: settings were
chosen on `tune`; `report` is the held-out half): heads overall, heads whose face is not
readable (seen from behind, turned away, too small) and those noted as seen from behind; and
the share of each frame painted where no true head (resp. person) is.

    python benchmarks/heads.py [--rows JSON] [--clips a.mp4,b.mp4] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, publish, require_shared
from benchmarks.real_footage import BOXES, COVER, frame_regions, painted_mask

HALVES = ("tune", "report")
ROWS = {"default+head": {"categories": ["face", "plate", "head"]},
        "default+person": {"categories": ["face", "plate", "person"]},
        "max-recall": {}}
# What may rightly be painted, for the paint-where-nothing-is measure of each category.
ALLOWED = {"head": ("face", "head", "plate", "screen"),
           "person": ("face", "head", "person", "plate", "screen")}


def kinds(box: dict) -> list[str]:
    """The subsets a head or person box is counted in besides "all"."""
    out = ["all"]
    if not box["readable"]:
        out.append("face not readable")
    if "behind" in box.get("note", ""):
        out.append("seen from behind")
    return out


def score(frames: list[dict], audits: dict[str, dict], category: str) -> dict:
    """(half, subset) → [box-frames, covered]; (half, "false") → [frames, share summed, worst];
    "missed" → descriptions."""
    out: dict = {"missed": []}
    for item in frames:
        clip, half = item["clip"], item["half"]
        entry = frame_regions(audits[clip]).get(item["frame"])
        if entry is not None and entry.get("pts") is not None and entry["pts"] != item["pts"]:
            raise SystemExit(f"{clip} frame {item['frame']}: audit pts {entry['pts']} != "
                             f"annotated pts {item['pts']}")
        w, h = item["width"], item["height"]
        mask = painted_mask(entry["regions"] if entry else [], w, h)
        truth = painted_mask([b for b in item["boxes"] if b["category"] in ALLOWED[category]],
                             w, h)
        share = float((mask & ~truth).sum()) / (w * h)
        acc = out.setdefault((half, "false"), [0, 0.0, 0.0])
        acc[0], acc[1], acc[2] = acc[0] + 1, acc[1] + share, max(acc[2], share)
        for box in item["boxes"]:
            if box["category"] != category:
                continue
            x1, y1, x2, y2 = box["box"]
            inside = float(mask[y1:y2, x1:x2].mean())
            for kind in kinds(box):
                tally = out.setdefault((half, kind), [0, 0])
                tally[0] += 1
                tally[1] += inside >= COVER
            if inside < COVER:
                out["missed"].append(f"{half} {clip} frame {item['frame']} {box['box']} "
                                     f"{inside:.0%} covered ({box.get('note', '')})")
    return out


def run_row(label: str, overrides: dict, clips: list[Path], tmp: Path) -> tuple[dict, float,
                                                                                Counter]:
    import redact

    base = label.split("+")[0]
    settings = redact.load_settings(preset=None if base == "default" else base,
                                    overrides=overrides, override_source="benchmark")
    t0 = time.monotonic()
    report = redact.redact_paths(clips, tmp / f"out-{label}", settings)
    seconds = time.monotonic() - t0
    audits, counts = {}, Counter()
    for result in report.results:
        if result.status != "ok":
            raise SystemExit(f"{label}: redact failed on {Path(result.input).name}: "
                             f"{result.error}")
        audits[Path(result.input).name] = json.loads(Path(result.audit).read_text())
        counts.update(result.counts)
    print(f"{label}: {seconds:.1f} s, {dict(counts)}", flush=True)
    return audits, seconds, counts


def pct(tally: list[int] | None) -> str:
    if not tally or not tally[0]:
        return "–"
    return f"{tally[1] / tally[0]:.1%} ({tally[1]}/{tally[0]})"


def lines_for(label: str, category: str, s: dict) -> list[str]:
    out = []
    for half in HALVES:
        n, total, worst = s.get((half, "false"), [0, 0.0, 0.0])
        cells = [pct(s.get((half, k))) for k in ("all", "face not readable", "seen from behind")]
        if half == "report":
            cells[0] = f"**{cells[0]}**"
        out.append(f"| {label} | {category} | {half} | {' | '.join(cells)} | "
                   f"{total / max(n, 1):.1%} | {worst:.0%} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default=json.dumps(ROWS),
                        help='JSON {label: overrides}; a label "PRESET+x" runs over PRESET, '
                             '"default+x" over the defaults')
    parser.add_argument("--clips", default="", help="comma-separated subset (for a quick look)")
    parser.add_argument("--section", default="heads-persons")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    videos = require_shared("videos")
    frames = json.loads(BOXES.read_text())["frames"]
    if args.clips:
        frames = [f for f in frames if f["clip"] in args.clips.split(",")]
    clips = [videos / name for name in sorted({f["clip"] for f in frames})]
    rows = json.loads(args.rows)
    table = ["| settings | category | half | covered | face not readable | seen from behind "
             "| painted where no true one is (mean) | worst frame |",
             "|---|---|---|---|---|---|---|---|"]
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in rows.items():
            audits, seconds, counts = run_row(label, overrides, clips, Path(tmp))
            cats = [c for c in ("head", "person") if c in _categories(label, overrides)]
            for cat in cats:
                s = score(frames, audits, cat)
                table += lines_for(label, cat, s)
                notes.append(f"Not covered ({label}, {cat}): "
                             + ("; ".join(s["missed"]) or "none"))
            notes.append(f"{label}: {seconds:.0f} s for {len(clips)} clips; regions painted "
                         + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    n_half = Counter(f["half"] for f in frames)
    lines = ["## Heads and persons on real footage (benchmarks/heads.py)", "",
             f"Machine: {machine()}. Ground truth: `benchmarks/real_boxes.json` ("
             f"{n_half['tune']} tune frames, {n_half['report']} report frames, "
             f"{len(clips)} clips). Settings (head.threshold, person.threshold and the head "
             "derivation in redact/detect/people.py) were chosen on `tune` only; `report` is "
             f"held out. A box-frame is covered when ≥{COVER:.0%} of its area lies inside the "
             "regions the audit lists as painted on that frame (any category). Painted where "
             "no true one is: the share of the frame painted outside every true head, face, "
             "plate and screen box (for `person`: also outside person boxes), margin included.",
             "", *table, "", *("- " + n for n in notes)]
    publish(args.section, lines, write=not args.no_write)


def _categories(label: str, overrides: dict) -> tuple[str, ...]:
    import redact

    base = label.split("+")[0]
    return redact.load_settings(preset=None if base == "default" else base,
                                overrides=overrides).config.categories


if __name__ == "__main__":
    main()
