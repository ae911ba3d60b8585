"""Replay screen rules offline on the screens set: each screen model's raw boxes are cached
once per photo, then any rule is scored in a second, per half, without a model.

    python benchmarks/screen_rules.py cache  raw.json    # both screen models, low floors
    python benchmarks/screen_rules.py replay raw.json --regions regions.json

``regions.json`` is ``benchmarks/screens.py --dump``: the face and plate regions of a real run
(they cover some screens: phones at the ear, laptops on laps); its screen regions are replaced
by the replayed ones, grown by the run's margin as the renderer grows them. Scoring is
screens.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import require_shared
from benchmarks.screens import KINDS, SIZES, coverage, painted_mask, size_of
from training.split import screen_halves

FLOORS = {"screens-yolov8n": 0.05, "mb3-centernet-coco": 0.02}


def cache(out: Path) -> None:
    import cv2

    from redact.config import Config
    from redact.detect.base import DetectorSet
    from redact.detect.coco import COCO80
    from redact.io.image import read_image
    from redact.models import ModelStore

    root = require_shared("screens")
    ann = json.loads((root / "annotations.json").read_text())
    entries = [e for pos, neg in screen_halves(ann).values() for e in pos + neg]
    config = Config(categories=("screen",), screen_threshold=FLOORS["screens-yolov8n"],
                    screen_second_threshold=FLOORS["mb3-centernet-coco"])
    yolo, coco = DetectorSet.from_config(config, ModelStore()).detectors
    raw: dict[str, dict] = {}
    for e in entries:
        image = read_image(root / e["file"])
        found = yolo.detect([image], config.still_scale, still=True)[0]
        h, w = image.shape[:2]
        rgb = cv2.resize(image, (coco.side, coco.side), interpolation=cv2.INTER_AREA
                         if max(w, h) > coco.side else cv2.INTER_LINEAR)[:, :, ::-1]
        det = coco.session.run(None, {coco.input.name: rgb[None].astype(np.float32)})[0][0]
        det = det[np.isin(det[:, 5].astype(int), sorted(coco.class_category))
                  & (det[:, 4] >= FLOORS["mb3-centernet-coco"])]
        boxes = det[:, :4] * np.array([w, h, w, h], np.float32) / coco.side
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        raw[Path(e["file"]).name] = {
            "size": [w, h],
            "screens-yolov8n": [[*map(float, b), float(s), "screen"]
                                for b, s in zip(found.xyxy, found.score, strict=True)],
            "mb3-centernet-coco": [[*map(float, b[:4]), float(d[4]), COCO80[int(d[5])]]
                                   for b, d in zip(boxes, det, strict=True)],
        }
        print(e["file"], len(raw[Path(e["file"]).name]["screens-yolov8n"]),
              len(raw[Path(e["file"]).name]["mb3-centernet-coco"]), flush=True)
    out.write_text(json.dumps(raw))


def replay_score(raw: dict, regions: dict, rule, ann: dict) -> dict[str, dict]:
    """Per half: recall per box group and negatives painted, with ``rule(raw_entry)`` giving
    the screen boxes painted (a list of x1, y1, x2, y2, score: fusing goes by score)."""
    from redact.detect.detections import Detections, fuse

    out = {}
    for half, (pos, neg) in {**screen_halves(ann), "all": (
            [e for p, _ in screen_halves(ann).values() for e in p],
            [e for _, n in screen_halves(ann).values() for e in n])}.items():
        hits = {k: [0, 0] for k in ["all", ">=32", *SIZES, *KINDS]}
        fp = 0
        for e in pos + neg:
            name = Path(e["file"]).name
            boxes = rule(raw[name])
            if len(boxes):
                dets = fuse(Detections.from_lists([b[:4] for b in boxes], [b[4] for b in boxes],
                                                  ["screen"] * len(boxes)))
                # painted as rendered: grown by the margin (the dumped regions already are)
                w, h = raw[name]["size"]
                boxes = dets.expanded(regions[name]["margin"], w, h).xyxy.tolist()
            kept = [{"regions": [r for r in f["regions"] if r["category"] != "screen"]}
                    for f in regions[name]["regions"]]
            kept.append({"regions": [{"category": "screen", "box": b} for b in boxes]})
            audit = {"config": {"margin": {"value": regions[name]["margin"]}}, "regions": kept}
            if not e["boxes"]:
                fp += bool(boxes)
                continue
            mask = painted_mask(audit, e["width"], e["height"])
            for box, label in zip(e["boxes"], e["labels"], strict=True):
                ok = coverage(mask, box) >= 0.9
                for key in ("all", size_of(box), label, ">=32" if size_of(box) != "<32" else None):
                    if key:
                        hits[key][0] += ok
                        hits[key][1] += 1
        out[half] = {"hits": hits, "fp": fp, "negatives": len(neg)}
    return out


def union(ours: float, coco: float):
    """The rule before issue 18: each model's boxes over its own threshold."""
    def rule(entry: dict) -> list[list[float]]:
        return ([b[:5] for b in entry["screens-yolov8n"] if b[4] >= ours]
                + [b[:5] for b in entry["mb3-centernet-coco"] if b[4] >= coco])
    return rule


def agreement(floor: float, alone: float, coco: float):
    """Our boxes from ``floor`` up where a COCO box over ``coco`` overlaps (IoU ≥ AGREE_IOU),
    from ``alone`` up by themselves; COCO's over ``coco``: ``DetectorSet``'s rule."""
    from redact.detect.base import AGREE_IOU
    from redact.detect.detections import iou_matrix

    def rule(entry: dict) -> list[list[float]]:
        ours = np.array([b[:5] for b in entry["screens-yolov8n"] if b[4] >= floor],
                        np.float32).reshape(-1, 5)
        theirs = np.array([b[:5] for b in entry["mb3-centernet-coco"] if b[4] >= coco],
                          np.float32).reshape(-1, 5)
        seen = iou_matrix(ours[:, :4], theirs[:, :4]).max(axis=1, initial=0.0)
        keep = (ours[:, 4] >= alone) | (seen >= AGREE_IOU)
        return ours[keep].tolist() + theirs.tolist()
    return rule


def replay(raw_path: Path, regions_path: Path | None) -> None:
    from redact.config import Config

    raw = json.loads(raw_path.read_text())
    ann = json.loads((require_shared("screens") / "annotations.json").read_text())
    regions = (json.loads(regions_path.read_text()) if regions_path else
               {name: {"margin": Config().margin, "regions": []} for name in raw})
    s = Config().screen
    rules = {"before: ours ≥ 0.7 or COCO ≥ 0.1": union(0.7, 0.1),
             f"agreement: ours ≥ {s.threshold} agreed or ≥ {s.alone_threshold}, COCO ≥ "
             f"{s.second_threshold}": agreement(s.threshold, s.alone_threshold,
                                                s.second_threshold)}
    print("| rule | half | all boxes | ≥ 32 px | negatives painted |\n|---|---|---|---|---|")
    for name, rule in rules.items():
        for half, r in replay_score(raw, regions, rule, ann).items():
            (a, n), (b, m) = r["hits"]["all"], r["hits"][">=32"]
            print(f"| {name} | {half} | {100 * a / n:.1f}% ({a}/{n}) | "
                  f"{100 * b / m:.1f}% ({b}/{m}) | {r['fp']}/{r['negatives']} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["cache", "replay"])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--regions", type=Path, default=None)
    args = parser.parse_args()
    if args.mode == "cache":
        cache(args.raw)
    else:
        replay(args.raw, args.regions)


if __name__ == "__main__":
    main()
