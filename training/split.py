"""The fixed train/validation split of ``../shared/data/screens`` (by image).

At least a third of the screen boxes go to validation; the screen model never trains on them.
The split is committed as ``training/screens_split.json``; ``make_split`` rebuilds it
identically from the annotations and the seed.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

SEED = 20261128
VAL_FRACTION = 0.36  # of the boxes, at least 1/3
SPLIT_FILE = Path(__file__).with_name("screens_split.json")


def make_split(annotations: Path) -> dict[str, list[str]]:
    data = json.loads(annotations.read_text(encoding="utf-8"))
    images = sorted(data["images"], key=lambda im: im["file"])
    total = sum(len(im["boxes"]) for im in images)
    order = list(range(len(images)))
    random.Random(SEED).shuffle(order)
    val, boxes = [], 0
    for i in order:
        if boxes >= math.ceil(total * VAL_FRACTION):
            break
        val.append(images[i]["file"])
        boxes += len(images[i]["boxes"])
    val_set = set(val)
    train = [im["file"] for im in images if im["file"] not in val_set]
    return {"seed": SEED, "val_boxes": boxes, "total_boxes": total,
            "train": sorted(train), "val": sorted(val)}


def load_split() -> dict[str, list[str]]:
    return json.loads(SPLIT_FILE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    import sys

    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1].parent / "shared" / "data"
    split = make_split(shared / "screens" / "annotations.json")
    SPLIT_FILE.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    print(f"train {len(split['train'])} images, val {len(split['val'])} images "
          f"({split['val_boxes']}/{split['total_boxes']} boxes)")
