"""Measure how fast the review page of a 5-minute 1080p clip opens and steps frames.

    python docs/review_start_time.py [WORKDIR]

Makes a synthetic 5-minute 1920x1080 30 fps H.264 clip with AAC audio and a plan with two
face tracks on every frame (hand-built: no detector), serves it with ``redact review``'s app,
and in headless Chromium times: the plan view (regions, frame times), the video ready to show
its first frame, and 10 frame steps. Prints the server's peak memory (RSS).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from redact.io.hashing import sha256_file

W, H, FPS, SECONDS = 1920, 1080, 30, 300


def make_clip(path: Path) -> None:
    base = np.fromfunction(lambda y, x: (x // 8 + y // 8) % 256, (H * 3 // 2, W + 64)
                           ).astype(np.uint8)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=FPS)
        vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "30", "g": "60"}
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(FPS * SECONDS):
            shift = i % 64
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, shift:shift + W]),
                                               format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for p in vs.encode(frame):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        t = np.arange(16000 * SECONDS) / 16000
        samples = (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)[None]
        for s in range(0, samples.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, s:s + 1024]),
                                            format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, s, Fraction(1, 16000)
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode():
            out.mux(p)


def make_plan(src: Path, plans: Path) -> None:
    n = FPS * SECONDS
    frames = [{"frame": i, "pts": i, "time": i / FPS, "regions": [
        {"category": "face", "box": [400 + i % 300, 300, 520 + i % 300, 450], "score": 0.9,
         "source": "detected", "track": 1},
        {"category": "face", "box": [1200, 200 + i % 200, 1300, 330 + i % 200], "score": 0.8,
         "source": "tracked", "track": 2}]} for i in range(n)]
    tracks = [{"id": k, "category": "face", "first_frame": 0, "last_frame": n - 1,
               "first_time": 0.0, "last_time": (n - 1) / FPS, "frames_detected": n,
               "frames_filled": 0, "exclude": False, "style": None} for k in (1, 2)]
    doc = {"schema": "redact.plan/1",
           "input": {"path": str(src), "sha256": sha256_file(src), "frames": n},
           "settings": {}, "models": [], "tracks": tracks, "manual": [], "frames": frames}
    plans.mkdir(parents=True, exist_ok=True)
    (plans / f"{src.name}.plan.json").write_text(json.dumps(doc))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    from playwright.sync_api import sync_playwright

    from redact.review.server import create_app
    from tests.test_review import CHROMIUM, CHROMIUM_ARGS, LiveServer

    work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    src = work / "long.mp4"
    if not src.exists():
        t = time.monotonic()
        make_clip(src)
        print(f"clip made in {time.monotonic() - t:.0f} s: {src.stat().st_size / 1e6:.0f} MB")
    make_plan(src, work / "plans")
    plan_mb = (work / "plans" / "long.mp4.plan.json").stat().st_size / 1e6
    app, review = create_app(work / "plans", cache_dir=work / "cache")
    rss0 = rss_mb()
    with sync_playwright() as p, LiveServer(app) as live:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        url = f"http://127.0.0.1:{live.port}/review?plan=long.mp4.plan.json&token={review.token}"
        t = time.monotonic()
        page.goto(url)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=300_000)
        t_plan = time.monotonic() - t
        page.wait_for_function("document.getElementById('video').dataset.ready === '1'",
                               timeout=300_000)
        t_video = time.monotonic() - t
        page.fill("#frame", "4500")
        page.dispatch_event("#frame", "change")
        steps = []
        for _ in range(10):
            s = time.monotonic()
            page.evaluate("""() => new Promise((ok) => {
                const v = document.getElementById('video');
                v.addEventListener('seeked', ok, {once: true});
                document.getElementById('next').click(); })""")
            steps.append(time.monotonic() - s)
        rss = rss_mb()
        browser.close()
    print(f"plan JSON {plan_mb:.1f} MB; page with plan view: {t_plan:.2f} s; first frame "
          f"shown: {t_video:.2f} s; frame step median {sorted(steps)[5] * 1000:.0f} ms "
          f"(max {max(steps) * 1000:.0f} ms); server process RSS {rss:.0f} MB "
          f"(before serving {rss0:.0f} MB); video {src.stat().st_size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
