"""Plan round trip, hand edits and validation (scripted detector, no models)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from redact.batch.runner import plan_file
from redact.errors import ConfigError
from redact.plan.model import load_plan, parse_plan
from tests.conftest import make_clip, read_video

BOX_A = [8, 8, 40, 40]
BOX_B = [60, 8, 92, 40]


@pytest.fixture
def planned(tmp_path, fake_runner):
    src = make_clip(tmp_path / "v.mp4", width=128, height=64, n=12)
    script = {i: [BOX_A, BOX_B] for i in range(12)}
    runner = fake_runner(script, style="solid", margin=0.0)
    plan_path = tmp_path / "v.mp4.plan.json"
    result = plan_file(src, plan_path, runner.settings, runner=runner)
    assert result.status == "ok", result.error
    return src, plan_path, fake_runner(script, style="solid", margin=0.0)


def test_unedited_plan_renders_identically_to_run(tmp_path, planned):
    src, plan_path, runner = planned
    assert runner.run(src, tmp_path / "run" / "v.mp4").status == "ok"
    result = runner.run(src, tmp_path / "render" / "v.mp4", plan=load_plan(plan_path))
    assert result.status == "ok", result.error
    a = read_video(tmp_path / "run" / "v.mp4")["images"]
    b = read_video(tmp_path / "render" / "v.mp4")["images"]
    assert len(a) == len(b) == 12
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_excluded_track_visible_and_manual_box_redacted(tmp_path, planned):
    src, plan_path, runner = planned
    doc = json.loads(plan_path.read_text())
    track_b = next(t for t in doc["tracks"] if t["first_frame"] == 0 and
                   any(r["track"] == t["id"] and r["box"][0] == 60
                       for r in doc["frames"][0]["regions"]))
    track_b["exclude"] = True
    doc["manual"] = [{"category": "face", "box": [100, 30, 124, 60], "start_frame": 2,
                      "end_frame": 9}]
    edited = tmp_path / "edited.plan.json"
    edited.write_text(json.dumps(doc))
    result = runner.run(src, tmp_path / "edit" / "v.mp4", plan=load_plan(edited))
    assert result.status == "ok", result.error
    out = read_video(tmp_path / "edit" / "v.mp4")["images"]
    orig = read_video(src)["images"]
    for i, (o, s) in enumerate(zip(out, orig, strict=True)):
        assert o[12:36, 12:36].max() < 30  # track A still redacted (solid)
        assert np.abs(o[12:36, 64:88].astype(int) - s[12:36, 64:88]).mean() < 8  # B visible
        manual = o[33:58, 102:122]
        assert (manual.max() < 30) == (2 <= i <= 9), i
    audit = json.loads(Path(result.audit).read_text())
    kinds = {e["edit"] for e in audit["plan_edits"]}
    assert kinds == {"exclude_track", "manual_region"}


def test_plan_for_another_file_is_refused(tmp_path, planned):
    _, plan_path, runner = planned
    other = make_clip(tmp_path / "other.mp4", width=128, height=64, n=12, metadata={"title": "b"})
    result = runner.run(other, tmp_path / "o" / "other.mp4", plan=load_plan(plan_path))
    assert result.status == "failed" and "another file" in result.error


def test_keyframed_manual_region_moves_linearly():
    doc = {"schema": "redact.plan/2", "input": {"path": "x.mp4", "sha256": "x", "frames": 11},
           "settings": {},
           "tracks": [], "frames": [],
           "manual": [{"category": "plate", "keyframes": [
               {"frame": 0, "box": [0, 0, 10, 10]}, {"frame": 10, "box": [100, 0, 110, 10]}]}]}
    plan = parse_plan(doc)
    assert plan.regions_for(5).xyxy[0].tolist() == [50, 0, 60, 10]
    assert len(plan.regions_for(11)) == 0


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.update(schema="v0"), "schema"),
    (lambda d: d["tracks"].append({"id": 1, "exclude": "yes"}), "tracks[0].exclude"),
    (lambda d: d["tracks"].append({"id": 1, "style": "smear"}), "tracks[0].style"),
    (lambda d: d["manual"].append({"box": [0, 0, 1], "start_frame": 0, "end_frame": 1}),
     "manual[0].box"),
    (lambda d: d["manual"].append({"box": [0, 0, 1, 1], "start_frame": 5, "end_frame": 1}),
     "manual[0].end_frame"),
    (lambda d: d["frames"].append({"frame": 0, "regions": [{"box": [0, 0, 1, 1],
                                                              "category": "dog"}]}),
     "frames[0].regions[0].category"),
])
def test_malformed_plan_names_the_field(mutate, field):
    doc = {"schema": "redact.plan/2", "input": {"path": "x.mp4", "sha256": "x", "frames": 1},
        "settings": {},
           "tracks": [], "manual": [], "frames": []}
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_plan(bad)


def painted_span(image: np.ndarray, axis: int, across: slice) -> tuple[int, int]:
    """First and last painted (solid black) row (axis 0) or column (axis 1) in ``across``."""
    black = image.max(axis=2) < 40
    share = (black[:, across] if axis == 0 else black[across, :].T).mean(axis=1)
    painted = np.nonzero(share > 0.9)[0]
    return int(painted[0]), int(painted[-1])


@pytest.mark.parametrize(("box", "extra", "rows", "cols"), [
    ([40, 20, 80, 60], {}, (16, 63), (32, 87)),
    ([40, 20, 80, 60], {"face.margin_above": 1.0, "face.margin_below": 1.0}, (12, 67), (32, 87)),
    ([40, 40, 60, 50], {}, (38, 51), (36, 63)),
])
def test_face_margin_is_wide_at_the_sides_and_short_above_and_below(tmp_path, fake_runner, box,
                                                                    extra, rows, cols):
    """A 40 px face box at the default margin (0.2) is painted 8 px past each side but only
    4 px above and below (face.margin_above/below: half the margin; below the chin is the
    neck); at 1 they get the whole margin as every other box does. A face 10 px tall gets the
    whole margin above and below (under face.margin_full_height: detectors miss small faces
    by pixels)."""
    src = make_clip(tmp_path / "v.mp4", width=128, height=96, n=4)
    runner = fake_runner({i: [box] for i in range(4)}, style="solid", margin=0.2, **extra)
    assert runner.run(src, tmp_path / "out" / "v.mp4").status == "ok"
    for image in read_video(tmp_path / "out" / "v.mp4")["images"]:
        assert painted_span(image, 0, slice(box[0], box[2])) == rows
        assert painted_span(image, 1, slice(box[1], box[3])) == cols
