"""Black-box leak rate on the annotated stills in ../shared/data (faces and plates).

Runs the real pipeline (`redact.redact_paths`, default settings) on each image folder, then
compares each ground-truth box between the original and the redacted output: a box *leaks*
when the structural similarity inside it is still above 0.75.

    python benchmarks/leak_images.py [--extra-settings JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import BUCKETS, leaked, machine, publish, require_shared, size_bucket


def measure(kind: str, overrides: dict) -> dict:
    import redact

    root = require_shared(f"{kind}s")
    ann = json.loads((root / "annotations.json").read_text())
    settings = redact.load_settings(overrides={"categories": [kind], **overrides},
                                    override_source="benchmark")
    with tempfile.TemporaryDirectory() as out:
        t0 = time.monotonic()
        report = redact.redact_paths([root / "images"], out, settings)
        seconds = time.monotonic() - t0
        failed = [r for r in report.results if r.status != "ok"]
        if failed:
            raise SystemExit(f"{len(failed)} image(s) failed: {failed[0].error}")
        total = {b: 0 for b in BUCKETS}
        leaks = {b: 0 for b in BUCKETS}
        leaked_list = []
        for entry in ann["images"]:
            orig = cv2.imread(str(root / entry["file"]))
            red = cv2.imread(str(Path(out) / Path(entry["file"]).name))
            for box in entry["boxes"]:
                bucket = size_bucket(box)
                total[bucket] += 1
                if leaked(orig, red, box):
                    leaks[bucket] += 1
                    leaked_list.append(f"{entry['file']} {box}")
    n, k = sum(total.values()), sum(leaks.values())
    return {"kind": kind, "boxes": n, "leaks": k, "rate": k / n, "total": total,
            "by_bucket": leaks, "images": len(ann["images"]), "seconds": seconds,
            "leaked": leaked_list}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extra-settings", default="{}")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    overrides = json.loads(args.extra_settings)
    rows = [measure(kind, overrides) for kind in ("face", "plate")]
    lines = [
        "## Leak rate on annotated stills (benchmarks/leak_images.py)",
        "",
        f"Machine: {machine()}. Settings: defaults"
        f"{(' + ' + json.dumps(overrides)) if overrides else ''}.",
        "A ground-truth box leaks when SSIM(original, redacted) inside it is above 0.75.",
        "",
        "| set | images | boxes | leaked | leak rate | <16 px | 16–32 px | 32–64 px | ≥64 px "
        "| time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = " | ".join(f"{r['by_bucket'][b]}/{r['total'][b]}" for b in BUCKETS)
        lines.append(f"| {r['kind']}s | {r['images']} | {r['boxes']} | {r['leaks']} | "
                     f"{100 * r['rate']:.1f}% | {cells} | {r['seconds']:.0f} s |")
    for r in rows:
        lines += ["", f"Leaked {r['kind']} boxes: " + ("; ".join(r["leaked"]) or "none")]
    publish("leak-images", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
