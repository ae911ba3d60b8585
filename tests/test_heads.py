"""The head and person categories: heads cut from person boxes, the COCO detector serving
face/head/person from one class, the categories' way through plan, render and audit, and one
real-model check on annotated real frames (skipped without ../shared/data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from redact.config import Config, load_settings, recall_reductions
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections
from redact.detect.people import head_boxes, plausible_people
from tests.conftest import make_clip, read_video

ROOT = Path(__file__).resolve().parents[1]


def people(boxes, scores=None) -> Detections:
    scores = scores if scores is not None else [0.9] * len(boxes)
    return Detections.from_lists(boxes, scores, ["person"] * len(boxes))


def test_a_head_is_the_top_of_a_standing_person_and_half_of_a_seated_one():
    standing = head_boxes(people([[100, 0, 200, 300]]))  # 3x as tall as wide
    seated = head_boxes(people([[100, 0, 300, 200]]))    # wider than tall: cut at the table
    assert standing.category.tolist() == ["head"]
    (sx1, sy1, sx2, sy2), (tx1, ty1, tx2, ty2) = standing.xyxy[0], seated.xyxy[0]
    assert sy1 == 0 and 0.24 * 300 <= sy2 <= 0.26 * 300
    assert ty1 == 0 and ty2 == pytest.approx(0.6 * 200)  # capped share
    # centred, at least 60% of the person's width
    assert (sx1 + sx2) / 2 == pytest.approx(150) and sx2 - sx1 >= 60
    assert (tx1 + tx2) / 2 == pytest.approx(200) and tx2 - tx1 == pytest.approx(120)


def test_a_low_scoring_box_over_most_of_the_frame_is_no_person():
    found = people([[0, 0, 100, 100], [0, 0, 100, 100], [40, 40, 50, 70]], [0.15, 0.7, 0.15])
    kept = plausible_people(found, 100, 100)
    assert kept.score.tolist() == pytest.approx([0.7, 0.15])


def coco_detector(categories, thresholds, found):
    """The COCO detector with its network replaced by ``found`` (raw person boxes)."""
    from redact.detect.coco import PERSON, CocoCenterNetDetector

    det = object.__new__(CocoCenterNetDetector)
    det.categories, det.person_max_height = categories, 80
    det.people = tuple(c for c in ("face", "head", "person") if c in categories)
    det.thresholds = {**thresholds, PERSON: min(thresholds.values())}
    det._detect = lambda frame: found.replace(
        category=np.full(len(found), PERSON, dtype=object))
    return det


FRAME = np.zeros((480, 640, 3), np.uint8)


def test_one_person_class_serves_head_and_person_at_their_own_thresholds_on_video():
    found = people([[100, 100, 200, 400], [300, 100, 400, 400]], [0.9, 0.12])
    det = coco_detector(("head", "person"), {"head": 0.1, "person": 0.3}, found)
    out = det.detect([FRAME])[0]  # a video frame
    heads, persons = out[out.category == "head"], out[out.category == "person"]
    assert len(heads) == 2 and len(persons) == 1
    assert persons.xyxy[0].tolist() == [100, 100, 200, 400]
    assert heads.xyxy[:, 3].max() < 200  # the top ends only


def test_faces_from_people_stay_on_stills_beside_heads():
    found = people([[10, 10, 30, 70], [300, 100, 400, 400]], [0.9, 0.9])
    det = coco_detector(("face", "head"), {"face": 0.25, "head": 0.1}, found)
    video = det.detect([FRAME])[0]
    assert set(video.category) == {"head"} and len(video) == 2
    still = det.detect([FRAME], still=True)[0]
    assert sorted(still.category) == ["face", "head", "head"]  # the small person only


def test_the_coco_model_loads_for_head_and_person_and_not_by_default():
    from redact.models import ModelStore

    store = ModelStore(offline=True)
    on = DetectorSet.from_config(Config(categories=("head", "person"),
                                        accept_recall_loss=True), store)
    assert [m.name for m in on.models] == ["mb3-centernet-coco"]
    assert on.detectors[0].people == ("head", "person")
    assert "head" not in Config().categories and "person" not in Config().categories


def test_settings_of_the_new_categories():
    cfg = Config(categories="face,plate,head,person", **{"head.threshold": 0.05})
    assert cfg.categories == ("face", "plate", "head", "person")
    assert cfg.head.threshold == 0.05 and cfg.person.model == "mb3-centernet-coco"
    assert recall_reductions(cfg) == []
    higher = Config(categories="face,plate,head", person_threshold=0.3, head_threshold=0.2)
    assert recall_reductions(higher) == [
        "head.threshold 0.2 (default 0.1: higher lowers recall)",
        "person.threshold 0.3 (default 0.1: higher lowers recall)"]
    assert load_settings(preset="max-recall").config.categories == ("face", "plate", "head")
    assert load_settings().config.categories == ("face", "plate")


class HeadsAndPersons:
    """A head and a person in every frame."""

    categories = ("head", "person")

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        return [Detections.from_lists([[8, 8, 24, 24], [60, 8, 92, 56]], [0.9, 0.9],
                                      ["head", "person"]) for _ in frames]


def test_heads_and_persons_go_through_plan_render_and_audit(tmp_path, fake_runner):
    from redact.batch.runner import plan_file
    from redact.plan.model import load_plan

    src = make_clip(tmp_path / "v.mp4", width=128, height=64, n=6)
    runner = fake_runner(None, style="solid", margin=0.0,
                         categories="face,plate,head,person")
    runner.use_detectors(DetectorSet([HeadsAndPersons()], [], "cpu"))
    plan_path = tmp_path / "v.mp4.plan.json"
    assert plan_file(src, plan_path, runner.settings, runner=runner).status == "ok"
    plan = load_plan(plan_path)
    assert {t.category for t in plan.tracks} == {"head", "person"}
    result = runner.run(src, tmp_path / "out" / "v.mp4", plan=plan)
    assert result.status == "ok", result.error
    audit = json.loads(Path(result.audit).read_text())
    assert {r["category"] for e in audit["regions"] for r in e["regions"]} == {"head", "person"}
    assert audit["counts"]["head"] == audit["counts"]["person"] == 6
    out, orig = read_video(tmp_path / "out" / "v.mp4")["images"], read_video(src)["images"]
    for o, s in zip(out, orig, strict=True):
        assert o[10:22, 10:22].max() < 30 and o[10:54, 62:90].max() < 30  # painted
        assert np.abs(o[40:60, 20:50].astype(int) - s[40:60, 20:50]).mean() < 8  # untouched


def test_the_report_has_a_column_per_category():
    from redact.audit.report import COLORS, CSV_HEADER

    assert {"heads", "persons"} <= set(CSV_HEADER)
    assert {"head", "person"} <= set(COLORS)


def test_heads_of_real_people_are_found_whichever_way_they_face():
    """Annotated real frames (benchmarks/real_boxes.json), heads seen from behind among
    them: the head boxes, grown by the default margin, cover most annotated heads."""
    import av

    from redact.models import ModelStore
    from tests.conftest import shared_data

    videos = shared_data("videos")
    frames = [f for f in json.loads((ROOT / "benchmarks" / "real_boxes.json").read_text())
              ["frames"] if f["clip"] == "intel_worker-zone-detection.mp4"]
    wanted = {f["frame"]: f for f in frames}
    config = Config(categories=("head",), accept_recall_loss=True)
    detector = DetectorSet.from_config(config, ModelStore(offline=True))
    covered = total = behind = 0
    with av.open(str(videos / frames[0]["clip"])) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i not in wanted:
                continue
            image = frame.to_ndarray(format="bgr24")
            found = detector.detect([image])[0]
            h, w = image.shape[:2]
            mask = np.zeros((h, w), bool)
            for x1, y1, x2, y2 in found.expanded(config.margin, w, h).xyxy.astype(int):
                mask[y1:y2, x1:x2] = True
            for box in wanted[i]["boxes"]:
                if box["category"] == "head":
                    x1, y1, x2, y2 = box["box"]
                    total += 1
                    behind += "behind" in box.get("note", "")
                    covered += mask[y1:y2, x1:x2].mean() >= 0.9
            if i >= max(wanted):
                break
    assert total >= 8 and behind >= 4
    assert covered >= 0.9 * total, (covered, total)
