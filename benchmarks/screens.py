"""Screen redaction on real photos: the validation part of ../shared/data/screens (COCO tv,
laptop and cell-phone boxes; the split is training/screens_split.json, never trained on) and
its 50 negatives, each scored whole and by half (``training/split.py``: rules and thresholds
are chosen on ``tune``, the figures to quote are ``report``'s).

Runs the real pipeline (`redact.redact_paths`, default settings plus `screen` when it is not a
default) and scores the **audit record**: a box counts as covered when at least 90% of its area
lies inside the union of the painted regions (each region's `box` as the audit records it:
the painted rectangle, the margin already added). A negative counts as a false positive when
any `screen` region is painted on it.
Pixel checks would not do: a switched-off screen looks the same blurred or not.

    python benchmarks/screens.py [--part val|train|all] [--extra-settings JSON] [--no-write]
                                 [--dump regions.json] [--half tune|report]

``--dump`` keeps every image's painted regions (for replaying screen rules offline,
``benchmarks/screen_rules.py``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import machine, publish, require_shared
from training.split import HALVES, load_split, screen_halves

COVER = 0.9
SIZES = ["<32", "32-96", ">96"]
KINDS = ["tv", "laptop", "phone"]


def size_of(box) -> str:
    side = ((box[2] - box[0]) * (box[3] - box[1])) ** 0.5
    return "<32" if side < 32 else "32-96" if side <= 96 else ">96"


def painted_mask(audit: dict, width: int, height: int,
                 categories: tuple[str, ...] | None = None) -> np.ndarray:
    """The union of the painted regions of a still's audit record, as a boolean mask."""
    # The audit records what was painted, margin included: growing the boxes again by the
    # margin (as this benchmark did before issue 18) overstated coverage.
    mask = np.zeros((height, width), bool)
    for frame in audit["regions"]:
        for region in frame["regions"]:
            if categories and region["category"] not in categories:
                continue
            x1, y1, x2, y2 = region["box"]
            x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
            x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
            mask[y1:y2, x1:x2] = True
    return mask


def coverage(mask: np.ndarray, box) -> float:
    x1, y1, x2, y2 = (int(v) for v in box)
    area = mask[y1:y2, x1:x2]
    return float(area.mean()) if area.size else 1.0


def run(entries: list[dict], images: Path, overrides: dict) -> tuple[dict[str, dict], float]:
    import redact

    settings = redact.load_settings(overrides=overrides, override_source="benchmark")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        for e in entries:  # a copy: the pipeline never writes to inputs, but be sure
            shutil.copyfile(images / e["file"], src / Path(e["file"]).name)
        t0 = time.monotonic()
        report = redact.redact_paths([src], out, settings)
        seconds = time.monotonic() - t0
        failed = [r for r in report.results if r.status != "ok"]
        if failed:
            raise SystemExit(f"{len(failed)} image(s) failed: {failed[0].error}")
        audits = {Path(e["file"]).name: json.loads(
            (out / f"{Path(e['file']).name}.audit.json").read_text()) for e in entries}
    return audits, seconds


def score(positives: list[dict], negatives: list[dict], audits: dict[str, dict]) -> dict:
    """Recall per box group (``hits[key] = [covered, boxes]``) and negatives painted."""
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in positives:
        mask = painted_mask(audits[Path(e["file"]).name], e["width"], e["height"])
        for box, label in zip(e["boxes"], e["labels"], strict=True):
            ok = coverage(mask, box) >= COVER
            for key in ("all", size_of(box), label, ">=32" if size_of(box) != "<32" else None):
                if key:
                    hits[key][0] += ok
                    hits[key][1] += 1
    fp = sum(bool(painted_mask(audits[Path(e["file"]).name], e["width"], e["height"],
                               ("screen",)).any()) for e in negatives)
    return {"hits": hits, "fp": fp, "negatives": len(negatives), "images": len(positives)}


def pct(part: dict, key: str) -> str:
    got, n = part["hits"][key]
    return f"{100 * got / n:.1f}% ({got}/{n})" if n else "-"


def table(parts: dict[str, dict]) -> list[str]:
    names = list(parts)
    return [
        "| boxes | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| all | " + " | ".join(f"**{pct(parts[n], 'all')}**" for n in names) + " |",
        "| ≥ 32 px (sqrt area) | " + " | ".join(f"**{pct(parts[n], '>=32')}**" for n in names)
        + " |",
        *[f"| {k}{' px' if k in SIZES else ''} | "
          + " | ".join(pct(parts[n], k) for n in names) + " |" for k in SIZES + KINDS],
        "| negatives with a painted screen | " + " | ".join(
            f"**{p['fp']}/{p['negatives']} ({100 * p['fp'] / max(1, p['negatives']):.0f}%)**"
            for p in parts.values()) + " |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["val", "train", "all"], default="val")
    parser.add_argument("--extra-settings", default="{}")
    parser.add_argument("--section", default="screens")
    parser.add_argument("--dump", type=Path, default=None)
    parser.add_argument("--rescore", type=Path, default=None,
                        help="score a --dump of an earlier run instead of running")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--half", choices=HALVES, default=None,
                        help="part val: run and score one half only (a shorter run; --dump "
                             "each and --rescore the merged dumps for the whole table)")
    args = parser.parse_args()
    if args.half and args.part != "val":
        parser.error("--half needs --part val")
    import redact

    root = require_shared("screens")
    ann = json.loads((root / "annotations.json").read_text())
    split = load_split()
    wanted = set(split["val"]) if args.part == "val" else set(split["train"]) \
        if args.part == "train" else {e["file"] for e in ann["images"]}
    positives = [e for e in ann["images"] if e["file"] in wanted]
    negatives = ann["negatives"]
    if args.half:
        positives, negatives = screen_halves(ann)[args.half]
    overrides = json.loads(args.extra_settings)
    defaults = redact.Config()
    cats = list(overrides.get("categories", defaults.categories))
    if "screen" not in cats:
        cats.append("screen")
    overrides["categories"] = cats
    if args.rescore:
        audits = {name: {"config": {"margin": {"value": d["margin"]}}, "regions": d["regions"]}
                  for name, d in json.loads(args.rescore.read_text()).items()}
        seconds = float("nan")
    else:
        audits, seconds = run(positives + negatives, root, overrides)
    if args.dump:
        args.dump.write_text(json.dumps({name: {"margin": a["config"]["margin"]["value"],
                                                "regions": a["regions"]}
                                         for name, a in audits.items()}))
    parts = {"all": score(positives, negatives, audits)}
    if args.half:
        parts = {args.half: parts["all"]}
    elif args.part == "val":
        for half, (pos, neg) in screen_halves(ann).items():
            parts[half] = score(pos, neg, audits)
        parts = {h: parts[h] for h in (*HALVES, "all")}

    label = json.dumps({k: v for k, v in overrides.items() if k != "categories"}) or "{}"
    first = parts.get("all", next(iter(parts.values())))
    lines = [
        "## Screens on real photos (benchmarks/screens.py)",
        "",
        f"Machine: {machine()}. Part `{args.part}` of `../shared/data/screens` "
        + (f"(half `{args.half}` only) " if args.half else "")
        + f"({len(positives)} images, {first['hits']['all'][1]} boxes; split in "
        "`training/screens_split.json`, never trained on) and "
        + (f"its {len(negatives)} negatives" if args.half else "its 50 negatives")
        + (", each halved by `training/split.py` (rules chosen on `tune`, quote `report`)"
           if args.part == "val" else "") + ". Categories "
        f"{','.join(cats)}; other settings: defaults + `{label}`. Scored on the audit "
        f"record: covered = at least {COVER:.0%} of the box inside the painted regions "
        f"(the audit's boxes, margin included, not grown again). "
        + (f"Rescored from the regions of an earlier run (`{args.rescore.name}`)."
           if args.rescore else
           f"{len(positives) + len(negatives)} images in {seconds:.0f} s."),
        "",
        *table(parts),
    ]
    publish(args.section, lines, write=not args.no_write)


if __name__ == "__main__":
    main()
