"""Detections recorded once, temporal stages replayed many times (for choosing settings).

Detection is most of a run's time; the tracker, the stride cover and the confirmation rules
that decide what is painted are cheap. ``record`` runs the real detectors over a clip (the
frames the settings choose for detection) and keeps each detector's raw output, candidates
included; ``replay`` rebuilds every frame's regions from that record with the stage and merge
code of the working tree, in well under a second per clip. Only settings that do not change
what the detectors see (thresholds above the recorded ones, tracker and confirmation rules)
may be replayed; anything else needs a new record.

    python benchmarks/detcache.py record OUT.pkl            # the clips of real_boxes.json
    python benchmarks/detcache.py offsets OUT.pkl [HALF]    # where face boxes miss faces
    python benchmarks/detcache.py margins OUT.pkl           # margin against leaks and paint
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from redact.detect.detections import Detections


@dataclass
class ClipRecord:
    clip: str
    width: int
    height: int
    times: list[float] = field(default_factory=list)  # every frame, decode order
    detected: list[int] = field(default_factory=list)  # indices of the detected frames
    # detector name → one Detections per detected frame, raw (candidates included)
    raw: dict[str, list[Detections]] = field(default_factory=dict)


class _Recording:
    """A temporal stage wrapper that notes every frame's time (then delegates)."""

    def __init__(self, inner, record: ClipRecord) -> None:
        self.inner, self.record = inner, record

    @property
    def tracks(self):
        return self.inner.tracks

    def push(self, slot):
        self.record.times.append(slot.time)
        if slot.detections is not None:
            self.record.detected.append(slot.index)
        return self.inner.push(slot)

    def flush(self):
        return self.inner.flush()


def record_clip(path: Path, settings) -> ClipRecord:
    from redact.detect.base import DetectorSet
    from redact.io.decode import iter_frames, open_input
    from redact.models import ModelStore
    from redact.plan.analyse import AnalysisStats, analyse, make_stage

    config = settings.config
    # video=True: the set a video's analysis runs (int8 twins on the CPU); a record of the
    # float models boxes faces a few pixels apart from what a real run paints.
    detectors = DetectorSet.from_config(config, ModelStore(offline=True), video=True)
    container = open_input(path)
    try:
        stream = container.streams.video[0]
        rec = ClipRecord(path.name, stream.width, stream.height)
        for k, det in enumerate(detectors.detectors):
            # Two detectors may share a backend (both plate models are YOLOs): the model
            # name keeps their records apart.
            name = f"{type(det).__name__}:{detectors.models[k].name}"
            rec.raw[name] = []
            original = det.detect

            # Keyword arguments pass through whole: the detectors' signature grows (``memory``).
            def detect(frames, scale=1.0, *, _o=original, _n=name, **kw):
                out = _o(frames, scale, **kw)
                rec.raw[_n].extend(out)
                return out

            det.detect = detect  # type: ignore[method-assign]
        stage = _Recording(make_stage(config), rec)
        for _ in analyse(iter_frames(container, lambda p: None), config, detectors,
                         AnalysisStats(), stage):
            pass
    finally:
        container.close()
    return rec


def replay_clip(rec: ClipRecord, config, merge=None) -> dict[int, Detections]:
    """Every frame's final regions (before the margin) under ``config``'s temporal settings."""
    from redact.detect.base import DetectorSet
    from redact.detect.detections import plausible, split_candidates
    from redact.plan.analyse import make_stage
    from redact.track import Slot
    from redact.track.stride import StrideCover

    if merge is None:
        def merge(frames, per):  # as analysis merges (candidates kept for the tracker)
            return DetectorSet([], [], "cpu")._merge(frames, per, candidates=True)
    stage = make_stage(config)
    if config.detect_every > 1:
        stage = StrideCover(stage)
    detected = {idx: k for k, idx in enumerate(rec.detected)}
    out: dict[int, Detections] = {}
    for index, t in enumerate(rec.times):
        k = detected.get(index)
        if k is None:
            slot = Slot(index, t, None)
        else:
            # as DetectorSet._run hands each detector's output on (none of these is rotated)
            merged = merge([None], [[plausible(raw[k], rec.width, rec.height)]
                                    for raw in rec.raw.values()])[0]
            dets, low = split_candidates(merged)
            slot = Slot(index, t, dets, candidates=low)
        for s in stage.push(slot):
            out[s.index] = s.final_regions()
    for s in stage.flush():
        out[s.index] = s.final_regions()
    return out


def load(path: Path) -> dict[str, ClipRecord]:
    """The records ``record`` wrote (a pickle: read only files you wrote yourself)."""
    return pickle.loads(path.read_bytes())


def main() -> None:
    import json

    import redact
    from benchmarks.common import require_shared

    if sys.argv[1] == "offsets":
        from redact.config import Config

        half = sys.argv[3] if len(sys.argv) > 3 else "tune"
        for line in face_offsets(load(Path(sys.argv[2])), Config(), half):
            print(line)
        return
    if sys.argv[1] == "margins":
        for line in margin_frontier(load(Path(sys.argv[2]))):
            print(line, flush=True)
        return
    out = Path(sys.argv[2])
    videos = require_shared("videos")
    data = json.loads(Path(__file__).with_name("real_boxes.json").read_text())
    clips = sorted({f["clip"] for f in data["frames"]})
    settings = redact.load_settings(overrides=json.loads(sys.argv[3]) if len(sys.argv) > 3
                                    else {}, override_source="benchmark")
    # Through the module, not __main__: the pickle must name benchmarks.detcache.ClipRecord.
    from benchmarks import detcache

    records = {}
    for name in clips:
        records[name] = detcache.record_clip(videos / name, settings)
        print(name, len(records[name].times), "frames", flush=True)
    out.write_bytes(pickle.dumps(records))


def evaluate(records: dict[str, ClipRecord], config, half: str | None = None, merge=None):
    """real_footage.py's tally for the annotated frames of ``half`` (None: all), from replayed
    regions grown by the margin as the renderer grows them."""
    import json

    from benchmarks.real_footage import BOXES, score
    from redact.render.paint import render_boxes

    frames = [f for f in json.loads(BOXES.read_text())["frames"]
              if half is None or f.get("half") == half]
    audits = {}
    for name in sorted({f["clip"] for f in frames}):
        rec = records[name]
        regions = replay_clip(rec, config, merge)
        entries = []
        for index, dets in regions.items():
            boxes = render_boxes(dets, config, rec.width, rec.height)
            entries.append({"frame": index, "regions": boxes.to_records()})
        audits[name] = {"regions": entries}
    return score(frames, audits)


def _paint(tally) -> tuple[float, dict[str, float]]:
    """Mean share painted where nothing is over a tally's frames, and per clip."""
    acc = tally.false.values()
    return (sum(a[1] for a in acc) / max(1, sum(a[0] for a in acc)),
            {clip: a[1] / a[0] for (_, clip), a in tally.false.items()})


def margin_frontier(records: dict[str, ClipRecord], margins=(0.0, 0.05, 0.1, 0.15, 0.2),
                    below=(0.0, 0.25, 0.5)) -> list[str]:
    """Leaks against paint where nothing is as the render's margin (``margin``, and the
    face's ``face.margin_below``) shrinks: every row on both halves, with the report clips
    over 2% at the defaults apart. A record of what a margin costs, not a way to choose one:
    a setting read off the report columns would be tuned on its own test set."""
    import redact

    base = _paint(evaluate(records, redact.Config(), "report"))[1]
    clips = sorted(c for c, v in base.items() if v > 0.02)
    lines = ["| margin | face margin_below | tune leaked | tune paint | report leaked | "
             "report paint | " + " | ".join(clips) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(clips)]
    for m in margins:
        for b in below:
            config = redact.load_settings(overrides={"margin": m, "face": {"margin_below": b}},
                                          override_source="benchmark").config
            tune, report = evaluate(records, config, "tune"), evaluate(records, config, "report")
            t_paint, r_paint = _paint(tune)[0], _paint(report)
            lines.append(f"| {m} | {b} | {sum(tune.leaks.values())}/{sum(tune.total.values())}"
                         f" | {t_paint:.2%} | {sum(report.leaks.values())}/"
                         f"{sum(report.total.values())} | {r_paint[0]:.2%} | "
                         + " | ".join(f"{r_paint[1][c]:.2%}" for c in clips) + " |")
    return lines


def face_offsets(records: dict[str, ClipRecord], config, half: str = "tune") -> list[str]:
    """For each annotated face of ``half`` (back of head excluded), the replayed face region
    that overlaps it most (before the margin), and how far the annotated face and head boxes
    reach past that region on each side (left, top, right, bottom), as a fraction of the
    region's width or height: positive is outside it. What the face margin must cover."""
    import json

    from benchmarks.real_footage import BOXES
    from redact.detect.detections import iou_matrix

    def past(outer: list[int], box: np.ndarray) -> str:
        w, h = box[2] - box[0], box[3] - box[1]
        return " ".join(f"{v:+.2f}" for v in ((box[0] - outer[0]) / w, (box[1] - outer[1]) / h,
                                             (outer[2] - box[2]) / w, (outer[3] - box[3]) / h))

    frames = [f for f in json.loads(BOXES.read_text())["frames"] if f.get("half") == half]
    lines = ["clip | frame | readable | face w×h | region w×h, score, source | face past it "
             "L T R B | head past it L T R B"]
    sides: list[tuple[float, float, float, float]] = []
    for name in sorted({f["clip"] for f in frames}):
        regions = replay_clip(records[name], config)
        for item in (f for f in frames if f["clip"] == name):
            found = regions.get(item["frame"])
            faces = found[found.category == "face"] if found is not None else None
            heads = [b["box"] for b in item["boxes"] if b["category"] == "head"]
            for b in item["boxes"]:
                if b["category"] != "face" or b.get("back_of_head"):
                    continue
                g = b["box"]
                head = ""
                if faces is None or not len(faces):
                    lines.append(f"{name} | {item['frame']} | {b['readable']} | "
                                 f"{g[2] - g[0]}×{g[3] - g[1]} | none | |")
                    continue
                k = int(np.argmax(iou_matrix(np.array([g], np.float32), faces.xyxy)[0]))
                box = faces.xyxy[k]
                if heads:
                    near = iou_matrix(np.array([g], np.float32), np.array(heads, np.float32))
                    head = past(heads[int(np.argmax(near[0]))], box)
                if b["readable"] and faces.source[k] == "detected":
                    w, h = box[2] - box[0], box[3] - box[1]
                    sides.append(((box[0] - g[0]) / w, (box[1] - g[1]) / h,
                                  (g[2] - box[2]) / w, (g[3] - box[3]) / h))
                lines.append(f"{name} | {item['frame']} | {b['readable']} | "
                             f"{g[2] - g[0]}×{g[3] - g[1]} | {box[2] - box[0]:.0f}×"
                             f"{box[3] - box[1]:.0f}, {faces.score[k]:.2f}, {faces.source[k]} | "
                             f"{past(g, box)} | {head}")
    if sides:
        v = np.array(sides)
        lines.append(f"readable faces on detected boxes ({len(v)}), face past the box L T R B: "
                     "median " + " ".join(f"{x:+.2f}" for x in np.median(v, axis=0))
                     + ", 90th percentile " + " ".join(f"{x:+.2f}" for x in
                                                       np.percentile(v, 90, axis=0))
                     + ", max " + " ".join(f"{x:+.2f}" for x in v.max(axis=0)))
    return lines


if __name__ == "__main__":
    main()
