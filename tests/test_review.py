"""``redact review``: the server's safety (token, host, folder, malformed edits), edits that
keep the plan valid, undo, approval, rendering through the custody path, previews; and a real
headless Chromium session on a real clip (fails, not skips, under REDACT_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from redact.batch.jobs import BatchRunner
from redact.io.hashing import sha256_file
from redact.plan.model import load_plan
from redact.review.server import create_app
from tests.conftest import make_clip, read_video
from tests.test_audio import decode_audio, rms, segment, with_audio

BOX_A = [8, 8, 40, 40]
BOX_B = [80, 8, 112, 40]
CHROMIUM = os.environ.get("REDACT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def make_plan(footage: Path, plans: Path, runner) -> Path:
    report = BatchRunner(runner.settings, plans, mode="plan", file_runner=runner).run([footage])
    assert [r.status for r in report.results] == ["ok"], report.results
    return Path(report.results[0].output)


@pytest.fixture
def folder(tmp_path, fake_runner):
    silent = make_clip(tmp_path / "silent.mp4", width=128, height=64, n=30)
    (tmp_path / "footage").mkdir()
    src = with_audio(silent, tmp_path / "footage" / "v.mp4", 1.2)
    runner = fake_runner({i: [BOX_A, BOX_B] for i in range(30)}, style="solid", margin=0.0)
    plan = make_plan(src, tmp_path / "plans", runner)
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "released",
                             cache_dir=tmp_path / "cache", settings=runner.settings)
    client = TestClient(app, base_url="http://127.0.0.1")
    return {"client": client, "token": review.token, "plan": plan, "src": src,
            "tmp": tmp_path, "review": review}


def q(f, path: str, plan: str = "v.mp4.plan.json", token: str | None = None) -> str:
    return f"{path}?plan={plan}&token={f['token'] if token is None else token}"


def test_requests_without_the_right_token_are_refused(folder):
    before = folder["plan"].read_bytes()
    c = folder["client"]
    for url in ("/", "/api/files", "/api/plan?plan=v.mp4.plan.json", "/static/player.js",
                "/api/video?plan=v.mp4.plan.json"):
        assert c.get(url).status_code == 403, url
        assert c.get(url + ("&" if "?" in url else "?") + "token=wrong").status_code == 403
    r = c.post("/api/edit?plan=v.mp4.plan.json", json={"op": "approve"})
    assert r.status_code == 403 and "token" in r.json()["error"]
    assert folder["plan"].read_bytes() == before


def test_other_hosts_are_refused_even_with_the_token(folder):
    r = folder["client"].get(q(folder, "/api/files"), headers={"host": "evil.example:80"})
    assert r.status_code == 403


def test_paths_outside_the_folder_are_not_found(folder, tmp_path):
    outside = tmp_path / "outside.plan.json"
    outside.write_text(folder["plan"].read_text())
    (tmp_path / "plans" / "link.plan.json").symlink_to(outside)
    c = folder["client"]
    for name in ("../outside.plan.json", str(outside), "link.plan.json", "v.mp4",
                 "missing.plan.json", "..%2Foutside.plan.json"):
        assert c.get(q(folder, "/api/plan", name)).status_code == 404, name
        r = c.post(q(folder, "/api/edit", name), json={"op": "approve"})
        assert r.status_code == 404, name
    assert "review" not in json.loads(outside.read_text())


def test_malformed_edits_are_rejected_with_the_plan_message(folder):
    c, plan = folder["client"], folder["plan"]
    before = plan.read_bytes()
    tid = json.loads(before)["tracks"][0]["id"]
    cases = [({"op": "style", "track": tid, "style": "sparkly"}, 422, "tracks[0].style"),
             ({"op": "exclude", "track": tid, "value": "yes"}, 422, "tracks[0].exclude"),
             ({"op": "exclude", "track": 999}, 422, "no track 999"),
             ({"op": "manual_add", "keyframes": [{"frame": 1, "box": [5, 5, 1, 1]}]}, 422,
              "manual[0].keyframes[0].box"),
             ({"op": "audio_add", "start": 2, "end": 1}, 422, "audio[0].end"),
             ({"op": "audio_add", "start": 0, "end": 1, "mode": "beep"}, 422, "audio[0].mode"),
             ({"op": "manual_delete", "index": 0}, 422, "no manual box"),
             ({"op": "undo"}, 409, "nothing to undo"),
             ({"op": "explode"}, 400, "unknown edit"), ([1, 2], 400, '"op"')]
    for op, status, message in cases:
        r = c.post(q(folder, "/api/edit"), json=op)
        assert r.status_code == status, (op, r.text)
        assert message in r.json()["error"], (op, r.json())
    r = c.post(q(folder, "/api/edit"), content=b"{not json",
               headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert plan.read_bytes() == before


def test_edits_write_a_valid_plan_and_undo_restores(folder):
    c, plan = folder["client"], folder["plan"]
    original = json.loads(plan.read_text())
    tid = original["tracks"][0]["id"]
    ops = [{"op": "exclude", "track": tid, "value": True},
           {"op": "style", "track": tid, "style": "pixelate"},
           {"op": "manual_add", "category": "plate",
            "keyframes": [{"frame": 2, "box": [10, 10, 30, 30]}]},
           {"op": "manual_keyframe", "index": 0, "frame": 8, "box": [50, 10, 70, 30]},
           {"op": "audio_add", "start": 0.2, "end": 0.6, "mode": "bleep"}]
    for op in ops:
        r = c.post(q(folder, "/api/edit"), json=op)
        assert r.status_code == 200, r.text
        load_plan(plan)  # valid after every edit
    p = load_plan(plan)
    assert p.excluded == {tid} and p.track_styles == {tid: "pixelate"}
    assert [f for f, _ in p.manual[0].key_boxes()] == [2, 8]
    assert p.audio[0].mode == "bleep"
    view = r.json()
    assert view["undo"] == 5 and view["manual"][0]["category"] == "plate"
    for _ in ops:
        assert c.post(q(folder, "/api/edit"), json={"op": "undo"}).status_code == 200
    assert json.loads(plan.read_text()) == original
    assert c.post(q(folder, "/api/edit"), json={"op": "manual_add", "keyframes": [
        {"frame": 1, "box": [1, 1, 9, 9]}]}).status_code == 200
    assert c.post(q(folder, "/api/edit"), json={"op": "manual_delete", "index": 0}).json()[
        "manual"] == []


def test_any_edit_withdraws_approval(folder):
    c, plan = folder["client"], folder["plan"]
    assert c.post(q(folder, "/api/edit"), json={"op": "approve"}).json()["review"] == {
        "approved": True}
    tid = json.loads(plan.read_text())["tracks"][0]["id"]
    c.post(q(folder, "/api/edit"), json={"op": "exclude", "track": tid})
    assert json.loads(plan.read_text())["review"] == {"approved": False}


def test_render_needs_approval_and_goes_through_the_custody_path(folder):
    c, tmp = folder["client"], folder["tmp"]
    assert c.post(q(folder, "/api/render"), json={}).status_code == 409
    c.post(q(folder, "/api/edit"), json={"op": "audio_add", "start": 0.3, "end": 0.7})
    c.post(q(folder, "/api/edit"), json={"op": "approve"})
    r = c.post(q(folder, "/api/render"), json={})
    assert r.status_code == 202, r.text
    folder["review"].renders[folder["plan"].resolve()].thread.join()
    job = c.get(q(folder, "/api/render")).json()
    assert job["state"] == "ok", job
    out = tmp / "released" / "v.mp4"
    assert job["output"] == str(out) and out.is_file()
    audit = json.loads((tmp / "released" / "v.mp4.audit.json").read_text())
    assert {"edit": "audio_range", "start": 0.3, "end": 0.7, "mode": "mute"} in \
        audit["plan_edits"]
    journal = [json.loads(line) for line in
               (tmp / "released" / ".redact" / "journal.jsonl").read_text().splitlines()]
    files = [e for e in journal if e["event"] == "file"]
    assert [(e["mode"], e["status"]) for e in files] == [("render", "ok")]
    assert files[0]["output"]["path"] == "v.mp4"
    assert files[0]["plan"]["sha256"] == sha256_file(folder["plan"])
    rows = {row["plan"]: row for row in c.get(q(folder, "/api/files")).json()["files"]}
    assert rows["v.mp4.plan.json"]["status"] == ["planned", "approved", "rendered"]
    assert rows["v.mp4.plan.json"]["counts"] == {"face": 2}


def test_unplayable_input_gets_a_small_h264_preview_in_the_cache(tmp_path, fake_runner):
    (tmp_path / "footage").mkdir()
    src = make_clip(tmp_path / "footage" / "v.mkv", width=96, height=64, n=12,
                    codec="libx264", pix_fmt="yuv444p")
    runner = fake_runner({}, margin=0.0)
    make_plan(src, tmp_path / "plans", runner)
    app, review = create_app(tmp_path / "plans", cache_dir=tmp_path / "cache")
    c = TestClient(app, base_url="http://127.0.0.1")
    r = c.get(f"/api/video?plan=v.mkv.plan.json&token={review.token}")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    previews = list((tmp_path / "cache").glob("*.preview.mp4"))
    assert len(previews) == 1 and r.content == previews[0].read_bytes()
    with av.open(str(previews[0])) as pv:
        ctx = pv.streams.video[0].codec_context
        assert (ctx.name, ctx.pix_fmt) == ("h264", "yuv420p")
    assert np.allclose(read_video(previews[0])["times"], read_video(src)["times"])
    assert not list((tmp_path / "plans").rglob("*.mp4"))  # nothing unredacted beside plans


def test_changed_input_is_not_served(folder):
    src = folder["src"]
    os.chmod(src, 0o644)
    with open(src, "ab") as fh:
        fh.write(b"\0")
    r = folder["client"].get(q(folder, "/api/video"))
    assert r.status_code == 404 and "changed" in r.json()["error"]


# ---- the browser ------------------------------------------------------------------------

@pytest.fixture
def browser():
    required = os.environ.get("REDACT_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        if required:
            pytest.fail(f"REDACT_REQUIRE_BROWSER=1 but playwright is missing: {exc}")
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"REDACT_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:
            if required:
                pytest.fail(f"Chromium cannot start: {exc}")
            pytest.skip(f"Chromium cannot start: {' '.join(str(exc).split())[:200]}")
        yield b
        b.close()


class LiveServer:
    def __init__(self, app) -> None:
        import socket

        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join()


def drag(page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Drag over ``selector``; points are fractions of its width and height."""
    box = page.locator(selector).bounding_box()
    x = lambda f: box["x"] + f * box["width"]  # noqa: E731
    y = lambda f: box["y"] + f * box["height"]  # noqa: E731
    page.mouse.move(x(start[0]), y(start[1]))
    page.mouse.down()
    page.mouse.move(x((start[0] + end[0]) / 2), y((start[1] + end[1]) / 2))
    page.mouse.move(x(end[0]), y(end[1]))
    page.mouse.up()


def wait_saved(page, what: str) -> None:
    page.wait_for_function(f"document.getElementById('status').textContent === 'saved: {what}'")
    page.evaluate("document.getElementById('status').textContent = ''")


def approve_and_render(page, timeout_ms: int = 120_000) -> None:
    """Approve the open plan, render it, and wait for the render to succeed."""
    page.click("#approve")
    wait_saved(page, "approve")
    page.click("#render")
    page.wait_for_function("document.getElementById('renderinfo').dataset.state",
                           timeout=timeout_ms)
    assert page.get_attribute("#renderinfo", "data-state") == "ok", \
        page.inner_text("#renderinfo")


@pytest.mark.models
def test_browser_review_of_a_real_clip(tmp_path, browser):
    """Plan a real clip with the real detectors, then in Chromium: exclude a track, draw a
    manual box with two keyframes, mark a 1-second mute, approve, render; the output and its
    audit show exactly those edits."""
    from tests.conftest import shared_data

    real = shared_data("videos") / "intel_face-demographics-walking.mp4"
    # The real clip has no sound: give a copy (never the input) a voice-like track to mute.
    (tmp_path / "footage").mkdir()
    src = with_audio(real, tmp_path / "footage" / "walk.mp4", 2.95)
    from redact.config import load_settings

    settings = load_settings(overrides={"verify_output": "off", "style": "solid"},
                             override_source="api")
    report = BatchRunner(settings, tmp_path / "plans", mode="plan").run([src])
    assert report.results[0].status == "ok", report.results[0].error
    plan_path = Path(report.results[0].output)
    doc = json.loads(plan_path.read_text())
    assert doc["tracks"], "the real detectors found no face in the clip"
    frames = doc["input"]["frames"]
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "released",
                             cache_dir=tmp_path / "cache", settings=settings)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with LiveServer(app) as live:
        base = f"http://127.0.0.1:{live.port}"
        page.goto(f"{base}/?token={review.token}")
        page.wait_for_selector("#files tbody tr")
        assert "planned" in page.inner_text("#files tbody tr")
        page.click("#files tbody tr a")
        page.wait_for_function("document.body.dataset.ready === '1'")
        page.wait_for_function("document.getElementById('video').dataset.ready === '1'")
        # The longest face track is left visible (as for an officer).
        track = max(doc["tracks"], key=lambda t: t["last_frame"] - t["first_frame"])
        # Two face models can each give the same face a track: leave visible all the tracks
        # the page offers as the same object. Whether it offered the right ones is judged
        # below by the pixels of the face, not by the page's own rule.
        view = page.request.get(f"{base}/api/plan?plan={plan_path.name}"
                                f"&token={review.token}").json()
        (shown,) = [t for t in view["tracks"] if t["id"] == track["id"]]
        person = {track["id"], *shown["same_as"]}
        for tid in sorted(person):
            page.uncheck(f"#track-{tid}-redact")
            wait_saved(page, "exclude")
        # A manual box at frame 5, moved by frame 20 (two keyframes).
        page.fill("#frame", "5")
        page.dispatch_event("#frame", "change")
        page.click("#draw")
        drag(page, "#overlay", (0.05, 0.55), (0.20, 0.85))
        wait_saved(page, "manual_add")
        page.fill("#frame", "20")
        page.dispatch_event("#frame", "change")
        drag(page, "#overlay", (0.35, 0.55), (0.50, 0.85))
        wait_saved(page, "manual_keyframe")
        page.click("#draw")
        # One second of speech to mute, dragged on the waveform (span is about 2.95 s).
        span = page.evaluate("span()")
        drag(page, "#wave", (1.0 / span, 0.5), (2.0 / span, 0.5))
        start = float(page.input_value("#astart"))
        end = float(page.input_value("#aend"))
        assert abs(start - 1.0) < 0.05 and abs(end - 2.0) < 0.05, (start, end)
        page.fill("#astart", "1.0")  # exact numbers for the measurement below
        page.fill("#aend", "2.0")
        page.click("#addaudio")
        wait_saved(page, "audio_add")
        page.fill("#frame", "12")
        page.dispatch_event("#frame", "change")
        page.wait_for_timeout(300)  # let the seek paint before the screenshot
        # REDACT_SCREENSHOTS_DIR=docs refreshes the README's pictures.
        shots = Path(os.environ.get("REDACT_SCREENSHOTS_DIR") or tmp_path / "shots")
        shots.mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / "review-player.png"), full_page=True)
        approve_and_render(page)
        page.click("#back")
        page.wait_for_selector("#files tbody tr .badge.rendered")
        assert "approved" in page.inner_text("#files tbody tr")
        page.set_viewport_size({"width": 1400, "height": 260})
        page.screenshot(path=str(shots / "review-files.png"))
    assert not errors, errors

    plan = load_plan(plan_path)
    assert plan.excluded == person
    (f0, b0), (f1, b1) = plan.manual[0].key_boxes()
    assert (f0, f1) == (5, 20)
    assert [a.to_dict() for a in plan.audio] == [{"start": 1.0, "end": 2.0, "mode": "mute"}]
    out = tmp_path / "released" / "walk.mp4"
    audit = json.loads((tmp_path / "released" / "walk.mp4.audit.json").read_text())
    assert {e["edit"] for e in audit["plan_edits"]} == {"exclude_track", "manual_region",
                                                        "audio_range"}
    assert [e["track"] for e in audit["plan_edits"] if e["edit"] == "exclude_track"] == \
        sorted(person)
    orig, red = read_video(src)["images"], read_video(out)["images"]
    assert len(red) == frames
    # The excluded track is visible: its boxes are unpainted where no other region overlaps.
    others = {i: [r["box"] for r in e["regions"] if r["track"] not in person]
              for i, e in ((e["frame"], e) for e in doc["frames"])}
    checked = 0
    for entry in doc["frames"]:
        i = entry["frame"]
        for r in entry["regions"]:
            if r["track"] not in person or any(_overlap(r["box"], o) for o in others[i]) \
                    or (plan.manual[0].box_at(i) is not None \
                    and _overlap(r["box"], list(plan.manual[0].box_at(i)))):
                continue
            x1, y1, x2, y2 = (int(v) for v in r["box"])
            diff = np.abs(red[i][y1:y2, x1:x2].astype(int) - orig[i][y1:y2, x1:x2]).mean()
            assert diff < 12, (i, diff)
            checked += 1
    assert checked
    # The chosen face itself is visible on most of its frames: a second track on the same face
    # that was left out of ``person`` would still paint it (those frames are skipped above).
    face = {e["frame"]: r["box"] for e in doc["frames"] for r in e["regions"]
            if r["track"] == track["id"]}
    visible = 0
    for i, box in face.items():
        manual = plan.manual[0].box_at(i)
        if manual is not None and _overlap(box, list(manual)):
            continue
        x1, y1, x2, y2 = (int(v) for v in box)
        visible += np.abs(red[i][y1:y2, x1:x2].astype(int) - orig[i][y1:y2, x1:x2]).mean() < 12
    assert visible >= 0.8 * len(face), (visible, len(face), sorted(person))
    # What the page offered as the same object touches the chosen face on every frame the two
    # share; every other track stays painted (solid) where no visible face overlaps it.
    boxes = {(e["frame"], r["track"]): r["box"] for e in doc["frames"] for r in e["regions"]}
    for tid in person - {track["id"]}:
        shared = [i for i in face if (i, tid) in boxes]
        assert shared and all(_overlap(boxes[i, tid], face[i]) for i in shared), tid
    painted = 0
    for (i, tid), box in boxes.items():
        if tid in person or any(_overlap(box, b) for (j, t), b in boxes.items()
                                if j == i and t in person):
            continue
        x1, y1, x2, y2 = (int(v) for v in box)
        cx, cy, rx, ry = (x1 + x2) // 2, (y1 + y2) // 2, max(1, (x2 - x1) // 4), \
            max(1, (y2 - y1) // 4)
        assert red[i][cy - ry:cy + ry, cx - rx:cx + rx].std() < 3, (i, tid)
        painted += 1
    assert painted
    # The manual box is painted (solid) on every frame from 5 to 20, and only there.
    for i in range(frames):
        box = plan.manual[0].box_at(i)
        probe = [(b0[k] + b1[k]) / 2 for k in range(4)] if box is None else box
        x1, y1, x2, y2 = (int(v) for v in probe)
        cx, cy = (x1 + x2) // 2, (y1 + y2) // 2
        inner = red[i][cy - 4:cy + 4, cx - 4:cx + 4].astype(int)
        if 5 <= i <= 20:
            assert inner.std() < 3, (i, inner.std())
        else:
            assert np.abs(inner - orig[i][cy - 4:cy + 4, cx - 4:cx + 4]).mean() < 12, i
    # Silence over 1.0-2.0 s, the rest as it was.
    before, after = decode_audio(src), decode_audio(out)
    assert rms(segment(after, 1.03, 1.97)) < 1e-3
    for a, b in ((0.05, 0.97), (2.03, 2.9)):
        x, y = segment(before, a, b), segment(after, a, b)
        n = min(x.shape[1], y.shape[1])
        assert np.corrcoef(x[:, :n].ravel(), y[:, :n].ravel())[0, 1] > 0.99
        assert abs(rms(y) / rms(x) - 1) < 0.05


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_browser_player_draws_the_plan_and_edits_it(folder, browser):
    """Without real models or data: the player draws the plan's regions over the video, and
    an untick in the page excludes the track in the plan file (undo puts it back)."""
    plan = folder["plan"]
    tid = json.loads(plan.read_text())["tracks"][0]["id"]
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with LiveServer(folder["client"].app) as live:
        page.goto(f"http://127.0.0.1:{live.port}/review?plan=v.mp4.plan.json"
                  f"&token={folder['token']}")
        # The plan may load after the video: the overlay is drawn once both are in.
        page.wait_for_function("document.body.dataset.ready === '1'")
        page.wait_for_function("document.getElementById('video').dataset.ready === '1'")
        drawn = page.evaluate("""() => {
            const c = document.getElementById('overlay');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
        assert drawn > 100  # two boxes and their labels
        page.uncheck(f"#track-{tid}-redact")
        wait_saved(page, "exclude")
        assert load_plan(plan).excluded == {tid}
        page.click("#undo")
        wait_saved(page, "undo")
        assert load_plan(plan).excluded == frozenset()
        r = page.request.get(f"http://127.0.0.1:{live.port}/api/files")
        assert r.status == 403  # the page's own origin still needs the token
    assert not errors, errors


def test_files_flagged_by_the_second_look_are_marked(folder, tmp_path):
    released = tmp_path / "released"
    released.mkdir()
    (released / "v.mp4").write_bytes(b"rendered")
    (released / "v.mp4.audit.json").write_text(json.dumps({"second_look": {
        "verdict": "review", "flagged": [{"frame": 3, "time": 0.12}, {"frame": 7}]}}))
    c = folder["client"]
    row = c.get(q(folder, "/api/files")).json()["files"][0]
    assert row["status"] == ["planned", "rendered", "flagged"]
    assert c.get(q(folder, "/api/plan")).json()["flagged"] == [3, 7]


def test_cli_prints_a_loopback_url_with_a_token(folder, tmp_path):
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "redact.cli.main", "review",
                          str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not a folder of plans" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "redact.cli.main", "review",
                             str(tmp_path / "plans"), "--no-browser",
                             "--cache", str(tmp_path / "cache")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Review at http://127.0.0.1:") and "/?token=" in line
        import httpx

        url = line.split()[2]
        assert httpx.get(url, timeout=30).status_code == 200
        assert httpx.get(url.split("?")[0] + "api/files", timeout=30).status_code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tracks_on_the_same_object_are_paired():
    from redact.review.server import same_object_tracks

    frames = [{"frame": i, "regions": [
        {"track": 1, "box": [10 + i, 10, 30 + i, 30]},
        {"track": 4, "box": [11 + i, 10, 31 + i, 31]},
        {"track": 2, "box": [60, 10, 80, 30]}, {"track": -1, "box": [10, 10, 30, 30]}]}
        for i in range(5)]
    assert same_object_tracks(frames) == {1: [4], 4: [1]}
