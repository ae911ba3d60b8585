"""Replay screen rules offline on the screens set: each screen model's raw boxes are cached
once per photo, then any rule is scored in a second, per half, without a model.

    python benchmarks/screen_rules.py cache  raw.json    # both screen models, low floors
    python benchmarks/screen_rules.py replay raw.json --regions regions.json

``regions.json`` is ``benchmarks/screens.py --dump``: the face and plate regions of a real run
(they cover some screens: phones at the ear, laptops on laps); its screen regions are replaced
by the replayed ones. Scoring is screens.py's (coverage with the run's margin).
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
    the screen boxes painted (a list of xyxy)."""
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
                dets = fuse(Detections.from_lists(boxes, [1.0] * len(boxes),
                                                  ["screen"] * len(boxes)))
                boxes = dets.xyxy.tolist()
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["cache"])
    parser.add_argument("raw", type=Path)
    args = parser.parse_args()
    cache(args.raw)


if __name__ == "__main__":
    main()
