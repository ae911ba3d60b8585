"""``redact review``: a local web app to check and fix plans before release.

Safety: it listens on 127.0.0.1 only; every request needs the random token printed in the URL
(as Jupyter does) and a loopback Host header (so another site cannot reach it through DNS
rebinding); plan names are resolved inside the folder it was started on; the only video it
serves is the one a plan names, checked by sha256; responses are never cached.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from redact.review.assist import Anchors, AssistJob, AssistJobs, plan_anchors
from redact.review.media import Media, MediaError
from redact.review.plans import EditError, PlanFolder

STATIC = Path(__file__).parent / "static"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


@dataclass
class RenderJob:
    state: str = "idle"  # idle | running | ok | failed
    done: int = 0
    total: int = 0
    error: str | None = None
    output: str | None = None
    verdict: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "done": self.done, "total": self.total,
                "error": self.error, "output": self.output, "verdict": self.verdict}


class Review:
    def __init__(self, root: Path, out_dir: Path, cache_dir: Path, token: str,
                 settings=None) -> None:
        self.folder = PlanFolder(root, out_dir)
        self.media = Media(cache_dir)
        self.token = token
        self.settings = settings
        self.renders: dict[Path, RenderJob] = {}
        self._render_lock = threading.Lock()
        self.assist = AssistJobs()

    # -- helpers ---------------------------------------------------------------------------
    def plan_path(self, request: Request) -> Path:
        return self.folder.resolve(request.query_params.get("plan", ""))

    def view(self, path: Path, doc: dict[str, Any]) -> dict[str, Any]:
        """What the player needs: tracks, manual boxes, audio ranges, regions per frame,
        frame times and the frames flagged by the second look."""
        regions: dict[int, list] = {}
        for entry in doc.get("frames", []):
            regions[entry["frame"]] = [[*r["box"], r["category"], r.get("source", "detected"),
                                        r.get("track", -1)] for r in entry["regions"]]
        audit = self.folder.audit_for(doc)
        look = (audit or {}).get("second_look") or {}
        same = same_object_tracks(doc.get("frames", []))
        flagged = sorted({f["frame"] for f in look.get("flagged", []) if "frame" in f})
        out: dict[str, Any] = {
            "plan": self.folder.rel(path), "input": Path(doc["input"]["path"]).name,
            "frames": doc["input"]["frames"],
            "tracks": [{**t, "same_as": same.get(t.get("id"), [])}
                       for t in doc.get("tracks", [])],
            "manual": doc.get("manual", []), "audio": doc.get("audio", []),
            "review": doc.get("review", {}), "regions": regions, "flagged": flagged,
            "settings": {"style": doc.get("settings", {}).get("style")},
            "undo": self.folder.undo_depth(path), "summary": self.folder.summary(path),
            "render": self.renders.get(path, RenderJob()).to_dict(),
            "assist": self.assist_state(path),
            # The transcript beside the plan (personal data: shown to this local reviewer
            # only, like the unredacted video); times on the frames' clock.
            "words": _words(path),
        }
        try:
            info = self.media.info(self.media.source(doc))
            out.update(width=info["width"], height=info["height"], times=info["times"],
                       has_audio=info["audio"], media_error=None)
        except MediaError as exc:
            out.update(width=None, height=None, times=[], has_audio=False,
                       media_error=str(exc))
        return out

    # -- routes ----------------------------------------------------------------------------
    def page(self, name: str) -> Response:
        # The token is in the page's own URL; its CSS and JS links need it too.
        html = (STATIC / name).read_text(encoding="utf-8").replace("__TOKEN__", self.token)
        return HTMLResponse(html)

    async def index(self, request: Request) -> Response:
        return self.page("index.html")

    async def player(self, request: Request) -> Response:
        self.plan_path(request)
        return self.page("player.html")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            return JSONResponse({"error": "not found"}, 404)
        return FileResponse(path)

    async def files(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        rows = await run_in_threadpool(lambda: [self.folder.summary(p)
                                                for p in self.folder.plans()])
        return JSONResponse({"root": str(self.folder.root), "out": str(self.folder.out_dir),
                             "files": rows})

    async def plan(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        path = self.plan_path(request)
        doc = self.folder.load(path)
        return JSONResponse(await run_in_threadpool(self.view, path, doc))

    async def video(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        doc = self.folder.load(self.plan_path(request))
        try:
            src = self.media.source(doc)
            playable = await run_in_threadpool(self.media.playable, src)
        except MediaError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        return FileResponse(playable, media_type="video/mp4")

    async def waveform(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        doc = self.folder.load(self.plan_path(request))
        try:
            src = self.media.source(doc)
        except MediaError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        return JSONResponse(await run_in_threadpool(self.media.peaks, src))

    async def edit(self, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        path = self.plan_path(request)
        try:
            op = await request.json()
        except ValueError:
            return JSONResponse({"error": "the edit is not JSON"}, 400)
        if self.rendering(path):
            return JSONResponse({"error": "a render of this plan is running; wait for it"}, 409)
        doc = await run_in_threadpool(self.folder.edit, path, op)
        return JSONResponse(await run_in_threadpool(self.view, path, doc))

    def rendering(self, path: Path) -> bool:
        job = self.renders.get(path)
        return job is not None and job.state == "running"

    async def render(self, request: Request) -> Response:
        path = self.plan_path(request)
        if request.method == "GET":
            return JSONResponse(self.renders.get(path, RenderJob()).to_dict())
        doc = self.folder.load(path)
        if not doc.get("review", {}).get("approved"):
            return JSONResponse({"error": "approve the plan before rendering it"}, 409)
        try:
            src = self.media.source(doc)
        except MediaError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        if self.assist_state(path)["state"] == "running":
            return JSONResponse({"error": "a tracking run on this plan is going on; wait for "
                                 "it or stop it"}, 409)
        with self._render_lock:
            if any(j.state == "running" for j in self.renders.values()):
                return JSONResponse({"error": "another render is running; wait for it"}, 409)
            job = self.renders[path] = RenderJob(state="running")
            job.thread = threading.Thread(target=self._render, args=(job, path, src),
                                          daemon=True)
            job.thread.start()
        return JSONResponse(job.to_dict(), 202)

    def assist_state(self, path: Path) -> dict[str, Any]:
        job = self.assist.job
        return job.to_dict() if job.plan == self.folder.rel(path) else AssistJob().to_dict()

    async def track(self, request: Request) -> Response:
        """GET: the tracking run's state. POST ``{"frame", "box", "category", "index"?,
        "direction"?}``: follow that box in the background (``{"cancel": true}`` stops it)."""
        path = self.plan_path(request)
        if request.method == "GET":
            return JSONResponse(self.assist_state(path))
        try:
            op = await request.json()
        except ValueError:
            return JSONResponse({"error": "the request is not JSON"}, 400)
        if isinstance(op, dict) and op.get("cancel"):
            self.assist.job.cancel.set()
            return JSONResponse(self.assist_state(path))
        frame, box, direction = _track_request(op)
        if self.rendering(path):
            return JSONResponse({"error": "a render of this plan is running; wait for it"}, 409)
        doc = self.folder.load(path)
        try:
            src = self.media.source(doc)
        except MediaError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        total = int(doc["input"]["frames"])
        if frame >= total:
            raise EditError(f"track: frame {frame} is past the last frame ({total - 1})", 422)

        anchors = plan_anchors(doc)

        def work(job: AssistJob) -> dict[str, Any]:
            return self._follow(job, path, src, op, (frame, box, direction, total), anchors)

        job = self.assist.start(self.folder.rel(path), work)
        if job is None:
            return JSONResponse({"error": "a tracking run is going on; wait for it"}, 409)
        return JSONResponse(job.to_dict(), 202)

    def _follow(self, job: AssistJob, path: Path, src: Path, op: dict[str, Any],
                request: tuple[int, list[float], str, int], anchors: Anchors) -> dict[str, Any]:
        """A tracking run in the background; its result goes into the plan as one edit. The
        plan's detections are its anchors."""
        from redact.review.assist import follow_in_video

        frame, box, direction, total = request

        def progress(done: int, _total: int) -> None:
            job.done, job.total = done, total
        job.frame = frame
        got = follow_in_video(src, frame, box, direction=direction, total=total,
                              progress=progress, cancel=job.cancel, anchors=anchors)
        lo, hi = min(got.boxes), max(got.boxes)
        note = (f"tracked {lo}–{hi} from frame {frame}; forwards: {got.forward[1]} "
                f"(last {got.forward[0]}); backwards: {got.backward[1]} "
                f"(first {got.backward[0]})")
        new = self.folder.edit(path, {"op": "manual_tracked", "index": op.get("index"),
                                      "category": op.get("category", "face"),
                                      "keyframes": got.keyframes(), "note": note})
        index = op.get("index")
        return {"index": len(new["manual"]) - 1 if index is None else index,
                "first": lo, "last": hi, "note": note,
                "forward": list(got.forward), "backward": list(got.backward)}

    def _render(self, job: RenderJob, plan_path: Path, src: Path) -> None:
        """The custody path of ``redact render``: BatchRunner in render mode (lock, job
        state, journal, audit record)."""
        from redact.batch.jobs import BatchRunner
        from redact.batch.options import BatchOptions
        from redact.config import load_settings

        def progress_for(_src):
            def update(done: int, total: int) -> None:
                job.done, job.total = done, total
            return update

        try:
            runner = BatchRunner(self.settings or load_settings(), self.folder.out_dir,
                                 BatchOptions(), progress=progress_for, mode="render",
                                 plan_path=plan_path)
            report = runner.run([src])
            result = report.results[0]
            job.output, job.verdict = result.output, result.verdict
            job.error = result.error
            job.state = "ok" if result.status in ("ok", "skipped") else "failed"
        except Exception as exc:  # shown to the reviewer as one line
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"


def _track_request(op: Any) -> tuple[int, list[float], str]:
    if not isinstance(op, dict):
        raise EditError("track: send {frame, box, category}", 400)
    frame, box, direction = op.get("frame"), op.get("box"), op.get("direction", "both")
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
        raise EditError("track: frame must be a whole number >= 0", 422)
    if not (isinstance(box, list) and len(box) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)
            and box[2] - box[0] >= 2 and box[3] - box[1] >= 2):
        raise EditError("track: box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1", 422)
    if direction not in ("both", "forward", "backward"):
        raise EditError("track: direction must be one of both, forward, backward", 422)
    return frame, [float(v) for v in box], direction


def _words(plan_path: Path) -> list[dict[str, Any]]:
    from redact.speech.transcript import load_transcript, transcript_path_for

    transcript = load_transcript(transcript_path_for(plan_path))
    if transcript is None:
        return []
    return [{"text": w.text, "start": w.start, "end": w.end, "stream": w.stream}
            for w in transcript.words]


def same_object_tracks(frames: list[dict]) -> dict[int, list[int]]:
    """Tracks that cover the same object (IoU > 0.3 on most frames they share): with two
    detectors for a category one face can have two tracks, and leaving it visible takes both."""
    boxes: dict[int, dict[int, list]] = {}
    for entry in frames:
        for r in entry.get("regions", []):
            if r.get("track", -1) >= 0:
                boxes.setdefault(r["track"], {}).setdefault(entry["frame"], r["box"])
    out: dict[int, list[int]] = {}
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            shared = boxes[a].keys() & boxes[b].keys()
            if shared and sum(_iou(boxes[a][f], boxes[b][f]) > 0.3 for f in shared) \
                    >= len(shared) / 2:
                out.setdefault(a, []).append(b)
                out.setdefault(b, []).append(a)
    return out


def _iou(a: list, b: list) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


class Guard(BaseHTTPMiddleware):
    """Token and Host checks before any route; answers are never cached or referred."""

    def __init__(self, app, review: Review) -> None:
        super().__init__(app)
        self.review = review

    async def dispatch(self, request: Request, call_next) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in LOOPBACK:
            return JSONResponse({"error": "this server answers on 127.0.0.1 only"}, 403)
        given = (request.query_params.get("token") or request.headers.get("x-redact-token")
                 or "")
        if not secrets.compare_digest(given.encode(), self.review.token.encode()):
            return JSONResponse({"error": "missing or wrong token: open the URL that "
                                 "`redact review` printed"}, 403)
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


async def _edit_error(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, EditError) else 500
    return JSONResponse({"error": str(exc)}, status)


def create_app(root: Path, *, out_dir: Path | None = None, cache_dir: Path | None = None,
               token: str | None = None, settings=None) -> tuple[Starlette, Review]:
    root = Path(root).resolve()
    if not root.is_dir():
        raise EditError(f"{root} is not a folder of plans", 404)
    review = Review(root, Path(out_dir) if out_dir else root / "rendered",
                    Path(cache_dir) if cache_dir else default_cache_dir(),
                    token or secrets.token_urlsafe(24), settings)
    routes = [
        Route("/", review.index), Route("/review", review.player),
        Route("/static/{name}", review.static),
        Route("/api/files", review.files), Route("/api/plan", review.plan),
        Route("/api/video", review.video), Route("/api/waveform", review.waveform),
        Route("/api/edit", review.edit, methods=["POST"]),
        Route("/api/render", review.render, methods=["GET", "POST"]),
        Route("/api/track", review.track, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, review=review)],
                    exception_handlers={EditError: _edit_error})
    return app, review


def default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redact" / "review"


def serve(root: Path, *, port: int = 0, out_dir: Path | None = None,
          cache_dir: Path | None = None, open_browser: bool = True, settings=None,
          ready=None) -> None:
    """Serve until interrupted; ``ready(url)`` is called once the socket listens."""
    import socket

    import uvicorn

    app, review = create_app(root, out_dir=out_dir, cache_dir=cache_dir, settings=settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    # Listen before saying so: a client that connects before uvicorn starts accepting then
    # waits in the backlog instead of being refused.
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={review.token}"
    if ready is not None:
        ready(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
