"""Assisted tracking in ``redact review``: the follower on a synthetic moving object, the plan
edits it makes (new item, resumed item), "always redact this person", and a headless Chromium
session that draws, tracks, corrects, approves and renders, judged on the output's pixels."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from redact.plan.model import load_plan
from redact.review.always import person_group
from redact.review.assist import Followed, follow_in_video, thin
from redact.review.server import create_app
from tests.conftest import read_video
from tests.test_review import LiveServer, approve_and_render, browser, drag, make_plan, wait_saved  # noqa: F401

W, H, N = 320, 240, 40
SIDE = 40


def truth(i: int) -> list[float]:
    """Where the object is on frame ``i``: it moves right and a little down."""
    x, y = 30 + 5.5 * i, 80 + 1.5 * i
    return [x, y, x + SIDE, y + SIDE]


def picture(i: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([(xx // 2) % 256, (yy + 60) % 256, ((xx + yy) // 3) % 256], axis=2)
    img = (img * 0.4 + rng.integers(0, 40, (H, W, 3))).astype(np.uint8)
    x1, y1 = (round(v) for v in truth(i)[:2])
    cy, cx = np.mgrid[0:SIDE, 0:SIDE]
    checker = (((cx // 8) + (cy // 8)) % 2 * 200 + 30).astype(np.uint8)
    img[y1:y1 + SIDE, x1:x1 + SIDE] = np.stack([checker, 255 - checker, checker], axis=2)
    return img


def moving_clip(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.time_base = vs.codec_context.time_base = Fraction(1, 1000)
        vs.options = {"crf": "8", "preset": "ultrafast"}
        for i in range(N):
            frame = av.VideoFrame.from_ndarray(picture(i)[:, :, ::-1].copy(), format="bgr24")
            frame.pts = i * 40
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return path


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / u


@pytest.fixture
def clip(tmp_path):
    (tmp_path / "footage").mkdir()
    return moving_clip(tmp_path / "footage" / "m.mp4")


def test_follower_keeps_a_moving_object_both_ways(clip):
    got = follow_in_video(clip, 20, truth(20))
    assert got.forward == (N - 1, "end of video") and got.backward == (0, "start of video")
    assert all(iou(got.boxes[i], truth(i)) > 0.7 for i in range(N)), \
        [round(iou(got.boxes[i], truth(i)), 2) for i in range(N)]
    keys = got.keyframes()
    assert keys[0]["frame"] == 0 and keys[-1]["frame"] == N - 1 and len(keys) < N


def test_keyframes_are_thinned_within_tolerance():
    frames = list(range(10))
    boxes = [[i * 2.0, 0, i * 2.0 + 10, 10] for i in range(5)] + \
        [[8 - i * 3.0, 0, 18 - i * 3.0, 10] for i in range(1, 6)]
    assert thin(frames, boxes, 0.5) == [0, 4, 9]
    got = Followed({f: b for f, b in zip(frames, boxes, strict=True)}).keyframes(0.5)
    assert [k["frame"] for k in got] == [0, 4, 9]


def test_tracking_run_becomes_a_manual_item_and_resumes_from_a_correction(clip, tmp_path,
                                                                            fake_runner):
    plan = make_plan(clip, tmp_path / "plans", fake_runner({}, style="solid", margin=0.0))
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "out",
                             cache_dir=tmp_path / "cache")
    c = TestClient(app, base_url="http://127.0.0.1")
    url = f"/api/track?plan={plan.name}&token={review.token}"
    assert c.post(url, json={"frame": 5, "box": [1, 2, 3]}).status_code == 422
    r = c.post(url, json={"frame": 10, "box": truth(10), "category": "plate"})
    assert r.status_code == 202, r.text
    while c.get(url).json()["state"] == "running":
        time.sleep(0.05)
    job = c.get(url).json()
    assert job["state"] == "ok", job
    (item,) = load_plan(plan).manual
    assert item.source == "tracked" and item.category == "plate" and "forwards" in item.note
    assert item.key_boxes()[0][0] == 0 and item.key_boxes()[-1][0] == N - 1
    # A correction at frame 30, then forwards from it: earlier keyframes stay.
    before = [k for k in item.key_boxes() if k[0] < 30]
    r = c.post(url, json={"frame": 30, "box": truth(30), "index": 0, "direction": "forward"})
    assert r.status_code == 202
    while c.get(url).json()["state"] == "running":
        time.sleep(0.05)
    (item,) = load_plan(plan).manual
    assert [k for k in item.key_boxes() if k[0] < 30] == before
    assert item.key_boxes()[-1][0] == N - 1 and "backwards: not tracked" in item.note
    edits = [e for e in load_plan(plan).edits if e["edit"] == "manual_region"]
    assert edits[0]["first_frame"] == 0 and edits[0]["last_frame"] == N - 1
    assert edits[0]["source"] == "tracked"


def grown_face(i: int, growth: float) -> list[float]:
    """A face box inside the object (the middle 30 of its 40 px), growing by ``growth`` over
    the clip about its centre although the picture does not: the detector disagrees with the
    flow."""
    x1, y1, x2, y2 = truth(i)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 15 * (1 + growth * i / (N - 1))
    return [cx - half, cy - half, cx + half, cy + half]


def test_the_plans_detections_anchor_a_tracking_run(clip, tmp_path, fake_runner):
    """The plan's face detections pull the tracked box: it ends the size the detections say
    (a third larger than the object the picture shows), placed on them as drawn on the first."""
    faces = {i: [grown_face(i, 1 / 3)] for i in range(N)}
    plan = make_plan(clip, tmp_path / "plans", fake_runner(faces, style="solid", margin=0.0))
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "out",
                             cache_dir=tmp_path / "cache")
    c = TestClient(app, base_url="http://127.0.0.1")
    url = f"/api/track?plan={plan.name}&token={review.token}"
    r = c.post(url, json={"frame": 0, "box": truth(0), "category": "head"})
    assert r.status_code == 202, r.text
    while c.get(url).json()["state"] == "running":
        time.sleep(0.05)
    assert c.get(url).json()["state"] == "ok"
    (item,) = load_plan(plan).manual
    last = item.box_at(N - 1).tolist()
    x1, y1, x2, y2 = truth(N - 1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    expected = [cx - 20 * 4 / 3, cy - 20 * 4 / 3, cx + 20 * 4 / 3, cy + 20 * 4 / 3]
    assert iou(last, expected) >= 0.85, (last, expected)
    assert iou(last, truth(N - 1)) < 0.75  # not where the flow alone would have put it


def test_always_redact_groups_a_persons_overlapping_tracks():
    def region(track, box):
        return {"category": "face", "box": box, "track": track}
    doc = {"tracks": [{"id": 1, "category": "face"}, {"id": 2, "category": "face"},
                      {"id": 3, "category": "face"}, {"id": 4, "category": "plate"}],
           "frames": [{"frame": f, "regions": [
               region(1, [10, 10, 30, 30]) if f < 5 else region(2, [12, 10, 32, 30]),
               region(2, [11, 10, 31, 30]) if f == 4 else region(3, [200, 10, 220, 30]),
               region(4, [10, 10, 30, 30])]} for f in range(10)]}
    assert person_group(doc, 1) == [1, 2]  # 3 is elsewhere, 4 is not a person
    from redact.review.plans import apply_edit

    new = apply_edit({**doc, "tracks": [{**t, "exclude": True} for t in doc["tracks"]]},
                     {"op": "always_redact", "track": 1})
    assert [t["exclude"] for t in new["tracks"]] == [False, False, True, True]
    (item,) = new["manual"]
    assert item["source"] == "always_redact" and item["note"] == "always redact: tracks #1, #2"
    assert [k["frame"] for k in item["keyframes"]] == list(range(10))


def test_browser_draw_track_correct_approve_render(clip, tmp_path, fake_runner, browser):  # noqa: F811
    """Draw one box, Track, correct a keyframe and track on from it, approve and render: the
    output is painted inside the tracked boxes and untouched outside them."""
    runner = fake_runner({}, style="solid", margin=0.0)
    plan = make_plan(clip, tmp_path / "plans", runner)
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "released",
                             cache_dir=tmp_path / "cache", settings=runner.settings)
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def seek(frame: int) -> None:
        page.fill("#frame", str(frame))
        page.dispatch_event("#frame", "change")

    def track_and_wait() -> None:
        page.click("#track")
        page.wait_for_function("document.getElementById('trackinfo').dataset.state "
                               "&& document.getElementById('trackinfo').dataset.state "
                               "!== 'running'", timeout=60_000)
        assert page.get_attribute("#trackinfo", "data-state") == "ok", \
            page.inner_text("#trackinfo")
        page.evaluate("document.getElementById('trackinfo').dataset.state = ''")

    def frac(box):
        return (box[0] / W, box[1] / H), (box[2] / W, box[3] / H)

    with LiveServer(app) as live:
        page.goto(f"http://127.0.0.1:{live.port}/review?plan={plan.name}&token={review.token}")
        # Trap: the plan (the page's view) may load after the video; a seek before it is
        # dropped and the box would be drawn on frame 0 (seen under load in CI).
        page.wait_for_function("document.body.dataset.ready === '1'")
        page.wait_for_function("document.getElementById('video').dataset.ready === '1'")
        seek(12)
        page.click("#draw")
        drag(page, "#overlay", *frac(truth(12)))
        wait_saved(page, "manual_add")
        track_and_wait()
        assert "tracked 0–39" in page.inner_text("#manual")
        # The reviewer corrects frame 30 (a box drawn 6 px off would still be accepted;
        # here it is drawn where the object is) and tracks on from there.
        seek(30)
        drag(page, "#overlay", *frac(truth(30)))
        wait_saved(page, "manual_keyframe")
        track_and_wait()
        page.click("#draw")
        approve_and_render(page, 60_000)
    assert not errors, errors
    done = load_plan(plan)
    (item,) = done.manual
    assert item.source == "tracked" and 30 in [f for f, _ in item.key_boxes()]
    audit = json.loads((tmp_path / "released" / "m.mp4.audit.json").read_text())
    (listed,) = [e for e in audit["plan_edits"] if e["edit"] == "manual_region"]
    assert (listed["first_frame"], listed["last_frame"]) == (0, N - 1)
    check_pixels(clip, tmp_path / "released" / "m.mp4", item)


def check_pixels(src: Path, out: Path, item) -> None:
    before, after = read_video(src)["images"], read_video(out)["images"]
    assert len(before) == len(after) == N
    for i, (a, b) in enumerate(zip(before, after, strict=True)):
        box = item.box_at(i)
        assert box is not None and iou(box.tolist(), truth(i)) > 0.6, (i, box)
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        inside = b[y1 + 3:y2 - 3, x1 + 3:x2 - 3].astype(float)
        assert inside.std() < 4, (i, inside.std())  # solid paint, not the checkerboard
        mask = np.ones(a.shape[:2], bool)
        mask[max(0, y1 - 6):y2 + 6, max(0, x1 - 6):x2 + 6] = False
        diff = np.abs(a.astype(float) - b.astype(float))[mask]
        assert diff.mean() < 3, (i, diff.mean())
