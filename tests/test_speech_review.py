"""Review by the word in headless Chromium: a plan with a transcript beside it; reject one
suggestion, mute one more word by clicking it, approve, render; then the decoded output is
silent inside the muted ranges and unchanged outside them (the rejected one included)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from redact.plan.model import AudioItem, load_plan
from redact.plan.seal import sealed, store_sealed
from redact.review.server import create_app
from redact.speech.transcript import Transcript, Word, transcript_path_for
from tests.conftest import make_clip
from tests.test_audio import corr, decode_audio, rms, segment, with_audio
from tests.test_review import LiveServer, approve_and_render, browser, make_plan, wait_saved  # noqa: F401

WORDS = [("my", 0.1, 0.3), ("number", 0.32, 0.45), ("five", 0.5, 0.7), ("five", 0.72, 1.0),
         ("okay", 1.2, 1.4), ("jennifer", 1.5, 2.0), ("said", 2.1, 2.3), ("hello", 2.4, 2.7),
         ("thanks", 2.8, 2.95)]
SUGGESTED = [{"start": 0.5, "end": 1.0, "mode": "mute", "source": "suggested",
              "reason": "digit sequence"},
             {"start": 1.5, "end": 2.0, "mode": "mute", "source": "suggested",
              "reason": "first name"}]
EDGE = 0.03


def test_browser_review_by_the_word(tmp_path, fake_runner, browser):  # noqa: F811
    silent = make_clip(tmp_path / "silent.mp4", width=64, height=48, n=76)  # ~3 s
    (tmp_path / "footage").mkdir()
    src = with_audio(silent, tmp_path / "footage" / "v.mp4", 3.0)
    runner = fake_runner({}, margin=0.0)
    plan_path = make_plan(src, tmp_path / "plans", runner)
    # As --audio-pii would have suggested them: part of the sealed analysis.
    suggested = tuple(AudioItem(**a) for a in SUGGESTED)
    plan = sealed(load_plan(plan_path).model_copy(update={"audio": suggested}))
    store_sealed(plan, plan_path.parent)
    plan_path.write_text(json.dumps(plan.to_json()))
    words = tuple(Word(t, a, b, 1.0, 1) for t, a, b in WORDS)
    transcript_path_for(plan_path).write_text(json.dumps(Transcript(words, (1,)).to_json()))
    app, review = create_app(tmp_path / "plans", out_dir=tmp_path / "released",
                             cache_dir=tmp_path / "cache", settings=runner.settings)
    client = TestClient(app, base_url="http://127.0.0.1")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with LiveServer(client.app) as live:
        page.goto(f"http://127.0.0.1:{live.port}/review?plan={plan_path.name}"
                  f"&token={review.token}")
        page.wait_for_function("document.getElementById('video').dataset.ready === '1'")
        page.wait_for_selector("#word-7")
        assert "suggested" in page.get_attribute("#word-2", "class")
        assert "suggested" in page.get_attribute("#word-5", "class")
        page.click("#audio-1-reject")
        wait_saved(page, "audio_decide")
        assert "muted" not in page.get_attribute("#word-5", "class")
        page.click("#word-7")  # "hello": seeks there and selects it
        page.wait_for_timeout(200)
        assert int(page.input_value("#frame")) == 60  # 2.4 s at 25 fps
        page.click("#mutewords")
        wait_saved(page, "audio_add")
        assert "muted" in page.get_attribute("#word-7", "class")
        approve_and_render(page)
    assert not errors, errors
    plan = load_plan(plan_path)
    assert [(a.status, a.start, a.end) for a in plan.audio] == [
        ("suggested", 0.5, 1.0), ("rejected", 1.5, 2.0), ("added", 2.4, 2.7)]
    out = tmp_path / "released" / "v.mp4"
    audit = json.loads((tmp_path / "released" / "v.mp4.audit.json").read_text())
    assert [(r["status"], r["muted"]) for r in audit["audio_ranges"]] == [
        ("suggested", True), ("rejected", False), ("added", True)]
    assert "jennifer" not in json.dumps(audit) and not list(out.parent.glob("*transcript*"))
    inp, got = decode_audio(src), decode_audio(out)
    for a, b in [(0.5, 1.0), (2.4, 2.7)]:
        assert rms(segment(got, a + EDGE, b - EDGE)) < 1e-3, (a, b)
    for a, b in [(0.05, 0.5), (1.0, 2.4), (2.7, 2.95)]:  # 1.5-2.0 was rejected: kept
        assert corr(segment(inp, a + EDGE, b - EDGE), segment(got, a + EDGE, b - EDGE)) > 0.99
    assert rms(segment(got, 1.5 + EDGE, 2.0 - EDGE)) > 0.01
