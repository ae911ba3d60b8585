"""A real frame as two audit records painted it, side by side, for docs/.

Each half shows the frame with its painted regions blurred and outlined: green where the region
touches a true object of benchmarks/real_boxes.json (face, head, plate, screen), red where it
touches none. Inputs are audit records (``redact run`` writes one per output).

    python benchmarks/figure_precision.py CLIP FRAME BEFORE.audit.json AFTER.audit.json OUT.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import require_shared
from benchmarks.real_footage import BOXES, TRUE_OBJECTS, painted_mask


def frame_at(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="bgr24")
    raise SystemExit(f"{path.name} has no frame {index}")


def panel(image: np.ndarray, regions: list[dict], truth: np.ndarray, title: str) -> np.ndarray:
    out = image.copy()
    h, w = out.shape[:2]
    for region in regions:
        x1, y1, x2, y2 = (round(v) for v in region["box"])
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 > x1 and y2 > y1:
            k = max(3, (max(x2 - x1, y2 - y1) // 4) | 1)
            out[y1:y2, x1:x2] = cv2.GaussianBlur(out[y1:y2, x1:x2], (k, k), 0)
    thick = max(2, w // 400)
    for region in regions:
        x1, y1, x2, y2 = (round(v) for v in region["box"])
        hit = truth[max(0, y1):max(0, y2), max(0, x1):max(0, x2)].any()
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 200, 0) if hit else (0, 0, 255), thick)
    share = float((painted_mask(regions, w, h) & ~truth).sum()) / (w * h)
    label = f"{title}: {len(regions)} regions, {share:.1%} of the frame painted on nothing"
    cv2.rectangle(out, (0, 0), (w, 16 * thick + 8), (0, 0, 0), -1)
    cv2.putText(out, label, (8, 12 * thick), cv2.FONT_HERSHEY_SIMPLEX, thick / 3,
                (255, 255, 255), max(1, thick // 2))
    return out


def main() -> None:
    clip, index, before, after, out = sys.argv[1:6]
    frame = frame_at(require_shared("videos") / clip, int(index))
    item = next(f for f in json.loads(BOXES.read_text())["frames"]
                if f["clip"] == clip and f["frame"] == int(index))
    h, w = frame.shape[:2]
    truth = painted_mask([b for b in item["boxes"] if b["category"] in TRUE_OBJECTS], w, h)
    panels = []
    for path, title in ((before, "before"), (after, "after")):
        audit = json.loads(Path(path).read_text())
        entry = next((e for e in audit["regions"] if e["frame"] == int(index)), {"regions": []})
        panels.append(panel(frame, entry["regions"], truth, title))
    both = np.concatenate(panels, axis=1)
    scale = min(1.0, 1600 / both.shape[1])
    both = cv2.resize(both, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(out, both)


if __name__ == "__main__":
    main()
