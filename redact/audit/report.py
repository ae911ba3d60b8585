"""``redact report OUT_DIR``: an HTML page and a CSV a person can read.

Everything comes from the journal and the audit records it names; there are no thumbnails, so
no pixel of any input can end up in the report. The page is a Jinja2 template with autoescape:
paths, errors and every field of a record reach it as text.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from redact.audit.verify import META_DIR, resolve
from redact.errors import ConfigError

BINS = 120
COLORS = {"face": "#d9480f", "plate": "#1971c2", "screen": "#5f3dc4", "text": "#2b8a3e",
          "head": "#f59f00", "person": "#c2255c"}
# One count column per category, in the order of CATEGORIES.
COUNTED = (("faces", "face"), ("plates", "plate"), ("screens", "screen"), ("texts", "text"),
           ("heads", "head"), ("persons", "person"))
CSV_HEADER = ["input", "status", "output", "frames", *(col for col, _ in COUNTED), "tracks",
              "second_look", "review_frames", "warnings", "error"]


def _timeline(record: dict) -> dict[str, Any]:
    """SVG strip data: one lane per category, marked over the part of the video (by frame
    position) where a region of that category was painted."""
    frames = record.get("regions", [])
    total = max(1, record.get("frames", {}).get("output", 1) or 1)
    cats = sorted({r["category"] for f in frames for r in f["regions"]}) or ["face"]
    lanes = {c: [0] * BINS for c in cats}
    for f in frames:
        b0 = min(BINS - 1, f["frame"] * BINS // total)
        b1 = max(b0 + 1, (f["frame"] + 1) * BINS // total)
        for r in f["regions"]:
            lanes[r["category"]][b0:b1] = [1] * (b1 - b0)
    bar = 8
    return {"width": BINS * 3, "height": len(lanes) * (bar + 2), "bar": bar,
            "lanes": [{"y": li * (bar + 2), "category": cat, "color": COLORS.get(cat),
                       "bins": [i for i, on in enumerate(bins) if on]}
                      for li, (cat, bins) in enumerate(lanes.items())]}


def _review_frames(look: dict) -> list[int]:
    return sorted({f["frame"] for f in look.get("flagged", [])})


def _read_record(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {"warnings": ["audit record unreadable"]}


def journal_files(out_dir: Path) -> list[dict[str, Any]]:
    """The latest ``file`` entry of each input in ``OUT/.redact/journal.jsonl`` (by input
    path), with its output path and audit record resolved inside ``out_dir``."""
    journal = out_dir / META_DIR / "journal.jsonl"
    if not journal.is_file():
        raise ConfigError(f"{out_dir} has no journal; run `redact run ... -o {out_dir}` first")
    latest: dict[str, dict] = {}
    out_dirs: list[str] = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a damaged line is `redact audit verify`'s to report
        if entry.get("event") == "run_start" and entry.get("out_dir"):
            out_dirs.append(entry["out_dir"])
        elif entry.get("event") == "file":
            latest[entry["input"]["path"]] = entry
    files = []
    for name in sorted(latest):
        entry = latest[name]
        output, audit = (resolve(entry[k]["path"], out_dir, out_dirs) if entry.get(k) else None
                         for k in ("output", "audit"))
        files.append({"input": name, "status": entry.get("status", ""),
                      "error": entry.get("error"), "output": output,
                      "record": _read_record(audit)})
    return files


def _write_csv(path: Path, files: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADER)
        for f in files:
            rec = f["record"]
            counts = rec.get("counts", {})
            look = rec.get("second_look") or {}
            w.writerow([f["input"], f["status"], f["output"] or "",
                        rec.get("frames", {}).get("output", ""),
                        *(counts.get(cat, 0) for _, cat in COUNTED),
                        len(rec.get("tracks", [])), look.get("verdict", "not run"),
                        " ".join(str(x) for x in _review_frames(look)),
                        " | ".join(rec.get("warnings", [])), f["error"] or ""])


def _section(f: dict[str, Any]) -> dict[str, Any]:
    """What the template shows of one file."""
    rec = f["record"]
    return {"status": f["status"], "status_cls": {"ok": "ok", "failed": "bad"}.get(
                f["status"], "warn"),
            "name": Path(f["input"]).name, "input": f["input"], "error": f["error"],
            "counts": sorted(rec.get("counts", {}).items()),
            "frames": rec.get("frames", {}).get("output", "–"),
            "timeline": _timeline(rec) if rec.get("regions") is not None else None,
            "look": rec.get("second_look"), "warnings": rec.get("warnings", []),
            "tracks": rec.get("tracks", [])}


def build_report(out_dir: Path) -> tuple[Path, Path]:
    """Write ``OUT/report.html`` and ``OUT/report.csv``: one row per input the journal
    names, failed ones included."""
    import jinja2

    out_dir = Path(out_dir)
    files = [{**f, "output": str(f["output"]) if f["output"] else None}
             for f in journal_files(out_dir)]
    csv_path = out_dir / "report.csv"
    _write_csv(csv_path, files)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True)
    page = env.get_template("report.html.j2").render(
        out_dir=str(out_dir), files=[_section(f) for f in files], colors=COLORS,
        n_ok=sum(f["status"] == "ok" for f in files),
        n_failed=sum(f["status"] == "failed" for f in files))
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return html_path, csv_path
