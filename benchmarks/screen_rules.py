"""Replay screen rules offline on the screens set: each screen model's raw boxes are cached
once per photo, then any rule is scored in a second, per half, without a model.

    python benchmarks/screen_rules.py cache  raw.json    # both screen models, low floors
    python benchmarks/screen_rules.py cache  plates.json --set plates   # screen-free photos
    python benchmarks/screen_rules.py replay raw.json --regions regions.json [--half tune]
                                             [--plates plates.json]

Besides each model as the pipeline runs it, ``cache`` keeps each extra look apart (our model
at other input sizes and mirrored, the COCO model mirrored, on square tiles and on a 2x2
grid) with its seconds, for rules that add a pass. ``--half tune`` prints the tune half only:
choose rules there, and look at ``report`` once, for the chosen one.

``regions.json`` is ``benchmarks/screens.py --dump``: the face and plate regions of a real run
(they cover some screens: phones at the ear, laptops on laps); its screen regions are replaced
by the replayed ones, grown by the run's margin as the renderer grows them. Scoring is
screens.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import require_shared
from benchmarks.screens import KINDS, SIZES, coverage, painted_mask, size_of
from training.split import screen_halves

FLOORS = {"screens-yolov8n": 0.05, "mb3-centernet-coco": 0.02}


def _flip(boxes: list[list], width: int) -> list[list]:
    """Boxes found on the mirrored photo, back in the photo's pixels."""
    return [[width - b[2], b[1], width - b[0], b[3], *b[4:]] for b in boxes]


def cache(out: Path, which: str = "screens") -> None:
    """Each photo's raw screen boxes: each model as the pipeline runs it (the keys the
    rules read), and under ``passes`` each extra look apart (our model at other input sizes
    and mirrored; the COCO model mirrored and on tiles), with its seconds under ``times``.
    ``which``: the screens set (val halves, positives and negatives) or the plate photos
    (presumed screen-free)."""
    import time

    from redact.config import Config
    from redact.detect.base import DetectorSet
    from redact.detect.coco import COCO80, run_centernet
    from redact.detect.tiles import Tile, tile_grid
    from redact.io.image import read_image
    from redact.models import ModelStore

    root = require_shared(which)
    ann = json.loads((root / "annotations.json").read_text())
    entries = ([e for pos, neg in screen_halves(ann).values() for e in pos + neg]
               if which == "screens" else ann["images"])
    config = Config(categories=("screen",), screen_threshold=FLOORS["screens-yolov8n"],
                    screen_second_threshold=FLOORS["mb3-centernet-coco"])
    yolo, coco = DetectorSet.from_config(config, ModelStore()).detectors
    wanted = sorted(coco.class_category)

    def ours(image: np.ndarray, scale: float) -> list[list]:
        found = yolo._detect_at([image], scale)[0][0]
        return [[*map(float, b), float(s), "screen"]
                for b, s in zip(found.xyxy, found.score, strict=True)]

    def theirs(image: np.ndarray, tiles: list[Tile] | None = None) -> list[list]:
        h, w = image.shape[:2]
        rows = []
        for tile in tiles or [Tile(0, 0, w, h)]:
            boxes, scores, classes = run_centernet(coco.session, coco.input.name, coco.side,
                                                   tile.crop(image))
            keep = np.isin(classes, wanted) & (scores >= FLOORS["mb3-centernet-coco"])
            boxes = boxes[keep] + np.array([tile.x1, tile.y1] * 2, np.float32)
            boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
            boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
            rows += [[*map(float, b), float(s), COCO80[int(c)]]
                     for b, s, c in zip(boxes, scores[keep], classes[keep], strict=True)]
        return rows

    def square_tiles(w: int, h: int) -> list[Tile]:
        """Squares of the short side along the long side, overlapping: the COCO model's
        input is a fixed square, so a photo's aspect is otherwise stretched to it."""
        side, long_side = min(w, h), max(w, h)
        count = max(1, int(np.ceil((long_side - side) / (0.5 * side) - 1e-9)) + 1)
        starts = np.linspace(0, long_side - side, count).round().astype(int)
        return [Tile(int(s), 0, int(s) + side, h) if w >= h else Tile(0, int(s), w, int(s) + side)
                for s in starts]

    def pipeline(image: np.ndarray) -> list[list]:
        found = yolo.detect([image], config.still_scale, still=True)[0]
        return [[*map(float, b), float(s), "screen"]
                for b, s in zip(found.xyxy, found.score, strict=True)]

    def mirrored(look: Callable[[np.ndarray], list[list]]) -> Callable[[np.ndarray], list]:
        return lambda image: _flip(look(np.ascontiguousarray(image[:, ::-1])), image.shape[1])

    big = config.still_scale
    fine = big * config.still_fine_scale
    looks: dict[str, Callable[[np.ndarray], list[list]]] = {
        "screens-yolov8n": pipeline,
        "mb3-centernet-coco": theirs,
        "ours-448": partial(ours, scale=1.0),
        "ours-640": partial(ours, scale=640 / yolo.size),
        "ours-672": partial(ours, scale=big),
        "ours-896": partial(ours, scale=fine),
        "ours-672-flip": mirrored(partial(ours, scale=big)),
        "ours-896-flip": mirrored(partial(ours, scale=fine)),
        "coco-flip": mirrored(theirs),
        "coco-squares": lambda image: theirs(image, square_tiles(*image.shape[1::-1])),
        "coco-grid2": lambda image: theirs(image, tile_grid(*image.shape[1::-1], 2)),
    }
    raw: dict[str, dict] = {}
    for e in entries:
        image = read_image(root / e["file"])
        h, w = image.shape[:2]
        entry: dict = {"size": [w, h], "passes": {}, "times": {}}
        for name, look in looks.items():
            t0 = time.perf_counter()
            boxes = look(image)
            entry["times"][name] = time.perf_counter() - t0
            if name in FLOORS:
                entry[name] = boxes
            else:
                entry["passes"][name] = boxes
        raw[Path(e["file"]).name] = entry
        print(e["file"], {k: round(v, 3) for k, v in entry["times"].items()}, flush=True)
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


def _over(boxes: list, floor: float) -> np.ndarray:
    """Cached boxes (x1, y1, x2, y2, score, ...) scoring ``floor`` or more, as (N, 5)."""
    return np.array([b[:5] for b in boxes if b[4] >= floor], np.float32).reshape(-1, 5)


def _confirmed(ours: np.ndarray, theirs: np.ndarray, alone: float) -> list[list[float]]:
    """Ours from ``alone`` up, or where one of ``theirs`` overlaps (IoU ≥ AGREE_IOU); and
    theirs: ``DetectorSet``'s agreement rule."""
    from redact.detect.base import AGREE_IOU
    from redact.detect.detections import iou_matrix

    seen = iou_matrix(ours[:, :4], theirs[:, :4]).max(axis=1, initial=0.0)
    keep = (ours[:, 4] >= alone) | (seen >= AGREE_IOU)
    return ours[keep].tolist() + theirs.tolist()


def agreement(floor: float, alone: float, coco: float):
    """Our boxes from ``floor`` up where a COCO box over ``coco`` overlaps (IoU ≥ AGREE_IOU),
    from ``alone`` up by themselves; COCO's over ``coco``: ``DetectorSet``'s rule."""
    def rule(entry: dict) -> list[list[float]]:
        return _confirmed(_over(entry["screens-yolov8n"], floor),
                          _over(entry["mb3-centernet-coco"], coco), alone)
    return rule


def square_views(floor: float, alone: float, coco: float):
    """``agreement`` with the COCO model's square views (``screen.second_square_views``,
    ``CocoCenterNetDetector._square_views``): its boxes over ``coco`` on squares of the photo
    count where they overlap (IoU ≥ AGREE_IOU) one of its boxes on the whole photo, and then
    also confirm ours, as in the pipeline."""
    from redact.detect.base import AGREE_IOU
    from redact.detect.detections import iou_matrix

    def rule(entry: dict) -> list[list[float]]:
        whole = _over(entry["mb3-centernet-coco"], coco)
        squares = _over(entry["passes"]["coco-squares"], coco)
        touch = iou_matrix(squares[:, :4], whole[:, :4]).max(axis=1, initial=0.0)
        theirs = np.concatenate([whole, squares[touch >= AGREE_IOU]])
        return _confirmed(_over(entry["screens-yolov8n"], floor), theirs, alone)
    return rule


def replay(raw_path: Path, regions_path: Path | None, half: str | None = None,
           plates_path: Path | None = None) -> None:
    from redact.config import Config

    raw = json.loads(raw_path.read_text())
    plates = json.loads(plates_path.read_text()) if plates_path else None
    ann = json.loads((require_shared("screens") / "annotations.json").read_text())
    regions = (json.loads(regions_path.read_text()) if regions_path else
               {name: {"margin": Config().margin, "regions": []} for name in raw})
    s = Config().screen
    rules = {"before: ours ≥ 0.7 or COCO ≥ 0.1": union(0.7, 0.1),
             f"agreement: ours ≥ {s.threshold} agreed or ≥ {s.alone_threshold}, COCO ≥ "
             f"{s.second_threshold}": agreement(s.threshold, s.alone_threshold,
                                                s.second_threshold)}
    if "passes" in next(iter(raw.values())):
        rules[f"+ square views agreed, COCO ≥ {s.second_threshold}"] = square_views(
            s.threshold, s.alone_threshold, s.second_threshold)
    print("| rule | half | all boxes | ≥ 32 px | negatives painted |"
          + (" plate photos painted |" if plates else "")
          + "\n|---|---|---|---|---|" + ("---|" if plates else ""))
    for name, rule in rules.items():
        for which, r in replay_score(raw, regions, rule, ann).items():
            if half and which != half:
                continue
            (a, n), (b, m) = r["hits"]["all"], r["hits"][">=32"]
            painted = (f" {sum(bool(rule(e)) for e in plates.values())}/{len(plates)} |"
                       if plates else "")
            print(f"| {name} | {which} | {100 * a / n:.1f}% ({a}/{n}) | "
                  f"{100 * b / m:.1f}% ({b}/{m}) | {r['fp']}/{r['negatives']} |{painted}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["cache", "replay"])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--regions", type=Path, default=None)
    parser.add_argument("--set", choices=["screens", "plates"], default="screens",
                        help="cache: the photos (plates: presumed screen-free)")
    parser.add_argument("--half", choices=["tune", "report", "all"], default=None,
                        help="replay: print this half only")
    parser.add_argument("--plates", type=Path, default=None,
                        help="replay: a cache of the plate photos; count those painted")
    args = parser.parse_args()
    if args.mode == "cache":
        cache(args.raw, args.set)
    else:
        replay(args.raw, args.regions, args.half, args.plates)


if __name__ == "__main__":
    main()
