"""Assisted tracking on real clips: one box drawn on the object's first annotated frame, followed
by ``redact.review.assist.follow_in_video`` (what ``redact review``'s Track button runs), scored
against hand-made boxes of that one object.

Ground truth: ``benchmarks/assist_boxes.json`` (objects picked from ``benchmarks/real_boxes.json``,
hand-made boxes on every 4th-7th frame, plus boxes added for this benchmark), each box drawn on
frames decoded with PyAV. The score is the share of annotated frames where the object is visible
on which the followed box (interpolated between keyframes, as a manual item renders) has
IoU >= 0.5 with the hand-made box; a frame past where tracking stopped counts as a miss.

    python -m benchmarks.assist            # prints a table; --publish writes RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import machine, publish
from redact.plan.model import ManualItem

HERE = Path(__file__).parent
VIDEOS = HERE.parent.parent / "shared" / "data" / "videos"
KINDS = ("face turned away", "plate", "logo", "hand")  # what issue 19's criterion names
PLANS = HERE.parent / "bench-out" / "assist-plans"


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / u if u > 0 else 0.0


def plan_for(clip: str, plans: Path) -> dict:
    """The clip's plan as `redact plan` makes it with the default settings (what a reviewer
    has open in `redact review`), made once into ``plans`` and read from there after."""
    path = plans / f"{clip}.plan.json"
    if not path.exists():
        import redact
        from redact.batch.runner import plan_file

        plans.mkdir(parents=True, exist_ok=True)
        result = plan_file(VIDEOS / clip, path, redact.load_settings())
        if result.status != "ok":
            raise SystemExit(f"redact plan failed on {clip}: {result.error}")
    return json.loads(path.read_text())


def run_object(obj: dict, plans: Path | None = PLANS) -> dict:
    """``plans``: where the clips' plans are kept, whose detections anchor the box (None:
    no anchors)."""
    from redact.review.assist import follow_in_video, plan_anchors

    truth = {int(f): b for f, b in obj["boxes"].items()}
    first = min(truth)
    path = VIDEOS / obj["clip"]
    anchors = None if plans is None else plan_anchors(plan_for(obj["clip"], plans))
    t = time.perf_counter()
    got = follow_in_video(path, first, truth[first], direction="both", anchors=anchors)
    seconds = time.perf_counter() - t
    item = ManualItem.model_validate_json(json.dumps({"keyframes": got.keyframes()}))
    scored = {f: b for f, b in truth.items() if f != first}
    ious = {}
    for f, b in scored.items():
        box = item.box_at(f)
        ious[f] = 0.0 if box is None else iou(box.tolist(), b)
    hits = sum(v >= 0.5 for v in ious.values())
    tracked = max(got.boxes) - min(got.boxes) + 1
    return {"object": obj["name"], "clip": obj["clip"], "split": obj.get("split", "report"),
            "kind": obj.get("kind", ""),
            "annotated": len(scored),
            "hits": int(hits), "share": hits / max(1, len(scored)), "ious": ious,
            "mean_iou": sum(ious.values()) / max(1, len(ious)),
            "tracked": f"{min(got.boxes)}–{max(got.boxes)}",
            "stopped": f"{got.forward[1]} after {got.forward[0]}",
            "keyframes": len(item.keyframes or ()), "ms_per_frame": 1000 * seconds / tracked,
            "anchor": f"{got.tied}, {got.pulled} frames" if got.tied else "–"}


def _cv2_version() -> str:
    import cv2

    return cv2.__version__


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--publish", action="store_true")
    ap.add_argument("--split", choices=("tune", "report"), help="only the objects of this split")
    ap.add_argument("--plans", type=Path, default=PLANS,
                    help="where the clips' plans are made once and kept")
    ap.add_argument("--no-anchors", action="store_true", help="follow without the plans")
    args = ap.parse_args()
    objects = json.loads((HERE / "assist_boxes.json").read_text())["objects"]
    objects = [o for o in objects if args.split in (None, o.get("split", "report"))]
    rows = [run_object(o, None if args.no_anchors else args.plans) for o in objects]
    publish("assisted-tracking", report_lines(rows), args.publish)


def report_lines(rows: list[dict]) -> list[str]:
    rows = sorted(rows, key=lambda r: r["split"] != "report")  # report objects first
    lines = ["| object | clip | split | tracked frames | stopped | tied to (pulled) | keyframes "
             "| annotated frames | IoU ≥ 0.5 | mean IoU | ms per frame |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['object']} | {r['clip']} | {r['split']} | {r['tracked']} | "
                     f"{r['stopped']} | {r['anchor']} | "
                     f"{r['keyframes']} | {r['annotated']} | {r['hits']}/{r['annotated']} "
                     f"({100 * r['share']:.0f} %) | {r['mean_iou']:.2f} | "
                     f"{r['ms_per_frame']:.1f} |")
    lines.append("")
    for split in ("tune", "report"):
        mine = [r for r in rows if r["split"] == split]
        if not mine:
            continue
        total = sum(r["annotated"] for r in mine)
        hits = sum(r["hits"] for r in mine)
        met = sorted({r["clip"] for r in mine if r["share"] >= 0.9 and r["kind"] in KINDS})
        short = [f"{r['object']} ({100 * r['share']:.0f} %)" for r in mine if r["share"] < 0.9]
        ms = sorted(r["ms_per_frame"] for r in mine)
        lines.append(f"{split.capitalize()} objects: {hits}/{total} annotated frames "
                     f"({100 * hits / total:.0f} %) with IoU ≥ 0.5; ≥ 90 % of its frames for "
                     f"an object of the kinds {', '.join(KINDS)} on {len(met)} clip(s)"
                     f"{': ' + ', '.join(met) if met else ''}; under 90 %: "
                     f"{'; '.join(short) or 'none'}. Time per frame "
                     f"{ms[0]:.1f}-{ms[-1]:.1f} ms (median {ms[len(ms) // 2]:.1f}).")
        if split == "report":
            lines.append(f"Issue 19's target (≥ 90 % of the frames where the object is visible, "
                         f"report objects, at least 3 clips): "
                         f"{'met' if len(met) >= 3 else 'not met'} ({len(met)} clips).")
    lines += ["", f"Measured on {machine()}, OpenCV {_cv2_version()} (a shared machine).", "",
              *NOTES]
    return lines


NOTES = [
    "One box (the hand-made one) drawn on the object's first annotated frame; scored on the "
    "other annotated frames (`benchmarks/assist_boxes.json`: boxes every 4-7 frames, every "
    "frame for the two egoblur heads). A frame after tracking stopped counts as a miss. Split: "
    "the follower's constants were chosen on the `tune` objects only; `report` objects were not "
    "used to choose them, and each object's split was set before the follower first ran on it "
    "(the tune heads from `real_boxes.json` and the three heads drawn on "
    "intel_one-by-one-person-detection were added for this; the one report head among them, "
    "*man in black*, was drawn and split before any run). Anchors: the detections (`source` "
    "detected or continued) of each clip's plan as `redact plan` makes it with the default "
    "settings (faces and plates, detection on every 4th frame), which is what `redact review` "
    "hands the follower; *tied to*: the category of the detection the drawn box was tied to and "
    "on how many frames one pulled it. Time per frame: wall time of `follow_in_video` (decode "
    "of the video up to the last tracked frame included, which is most of the 80-110 ms a frame "
    "of the 2560x1920 egoblur clip; the plan is made beforehand, as in review) over the frames "
    "tracked.",
    "",
    "Follower: median flow (a 10x10 grid of points followed by pyramidal Lucas-Kanade "
    "forwards and back; the better half by forward-backward error and patch correlation votes "
    "the shift and the change of size), seeded with the last frame's motion; a template "
    "search 2 box sizes around the expected place when the flow fails; lost after 3 frames of "
    "poor flow or poor correlation with the drawn and the last good patch. New: detections as "
    "anchors. The drawn box is tied to the plan's detection overlapping it by IoU ≥ 0.5 on its "
    "frame (or on the first of the next 8 frames that has one: a default plan detects on every "
    "4th frame), as corners in units of that detection's size; each later detection of that "
    "category that, so placed, overlaps the followed box by IoU ≥ 0.5 pulls the box 0.3 of the "
    "way (position and size). Boxes given back are cut to the picture. On the tune objects "
    "(mean IoU over objects): 0.789 before, 0.792 with the cut, 0.812 with anchors; with the "
    "drawn frame's detections taken away, 0.802 with the 8-frame tie against 0.792 without. "
    "Plain `opencv-python-headless`, no model file.",
    "",
    "Where it fails: the two store-aisle heads, as before (the report run before the 8-frame "
    "tie gave the same rows). No anchor helps them: the faces the plan finds in the straw hat "
    "overlap its head box by IoU 0.31-0.39 on its first frames (under the tie's 0.5), and the "
    "blonde head has none. The straw hat turns away and its box lags the head (the collar and "
    "shoulder in the lower part of the drawn box move less than the head) and keeps the drawn "
    "height while "
    "the hand-made box shrinks to the hat; the blonde head is drawn on a motion-blurred frame "
    "as it enters and its box shrinks to half the head as the hair turns. The rear plate is not "
    "tied either: the plan's plate boxes are looser than the hand-made ones (IoU about 0.35).",
    "",
    "Tried on the tune objects and dropped (mean IoU over objects). Against 0.812 with "
    "anchors: the plan's tracked and interpolated boxes as anchors besides its detections 0.758; "
    "a tie at IoU 0.3 0.798 (the ponytail, tied to a face found in her head, fell to 7/11 as "
    "she turned). Against 0.792 without: the COCO person model's `head` boxes as anchors (raw "
    "detections on every frame, tie at 0.3: 0.688; placed by the tie, they overlap the "
    "hand-made heads by IoU 0.1-0.6); width and height changing apart 0.780; points voting with "
    "a weight falling off from the box's centre 0.790-0.793; corner features instead of (or "
    "besides) the grid 0.785-0.791; a colour model of the drawn box (likelihood moments, or the "
    "box best holding the object's colours) pulling the box 0.56-0.76; smoothing the boxes over "
    "±1-4 frames 0.751-0.787; a Lucas-Kanade window of 7 or 15 px, 14x14 points, a working size "
    "of 32 or 64 px: 0.778-0.803 (the best, 0.801-0.803, not kept: within what a second tune "
    "set would need to confirm). Earlier: a grid over the inner 60-80 % of the box, leaving out "
    "points that move with the background, a template re-centring after the flow; MIL + "
    "template check 19/41 on the first five objects; CSRT (opencv-contrib) 21/41.",
]


if __name__ == "__main__":
    main()
