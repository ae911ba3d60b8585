"""The fixed splits of ``../shared/data``: screens' train/validation part, and every scored
photo set's tune/report halves.

At least a third of the screen boxes go to validation; the screen model never trains on them.
The split is committed as ``training/screens_split.json``; ``make_split`` rebuilds it
identically from the annotations and the seed.

Scoring (issue 18): thresholds and rules are chosen on the ``tune`` half of a set and the
``report`` half is what we quote. ``halves`` assigns each image by the sha256 of its file
name alone (never by what a model does on it), so the split is fixed before any result is
seen and the same for every benchmark. For screens only the ``val`` part and the negatives
are halved; the ``train`` part trained our screen model and is never scored.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from pathlib import Path

SEED = 20261128
VAL_FRACTION = 0.36  # of the boxes, at least 1/3
SPLIT_FILE = Path(__file__).with_name("screens_split.json")
HALVES = ("tune", "report")


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


def halves(files: list[str]) -> dict[str, str]:
    """File → ``"tune"`` or ``"report"``: the files ordered by the sha256 of their base name,
    then dealt alternately, so each half holds half the images (one more in ``tune`` for an
    odd count). A file's half depends only on the names in its set.

    >>> halves(["b.jpg", "a.jpg", "c.jpg"]) == halves(["c.jpg", "a.jpg", "b.jpg"])
    True
    >>> sorted(halves(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]).values())
    ['report', 'report', 'tune', 'tune']
    """
    order = sorted(files, key=lambda f: (hashlib.sha256(Path(f).name.encode()).hexdigest(), f))
    return {f: HALVES[i % 2] for i, f in enumerate(order)}


def split_halves(entries: list[dict]) -> dict[str, list[dict]]:
    """Annotation entries (``{"file": ...}``) by half, each half in the entries' order."""
    which = halves([e["file"] for e in entries])
    return {h: [e for e in entries if which[e["file"]] == h] for h in HALVES}


def screen_halves(ann: dict) -> dict[str, tuple[list[dict], list[dict]]]:
    """The screens set's scored images by half: (positives of the ``val`` part, negatives).
    The ``train`` part is left out: it trained our screen model."""
    val = set(load_split()["val"])
    positives = split_halves([e for e in ann["images"] if e["file"] in val])
    negatives = split_halves(ann["negatives"])
    return {h: (positives[h], negatives[h]) for h in HALVES}


if __name__ == "__main__":
    import sys

    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[1].parent / "shared" / "data"
    split = make_split(shared / "screens" / "annotations.json")
    SPLIT_FILE.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    print(f"train {len(split['train'])} images, val {len(split['val'])} images "
          f"({split['val_boxes']}/{split['total_boxes']} boxes)")
