"""``redact report OUT_DIR``: an HTML page and a CSV a person can read.

Everything comes from the job state and the audit records; there are no thumbnails, so no
pixel of any input can end up in the report.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from redact.batch.state import StateDB

BINS = 120
COLORS = {"face": "#d9480f", "plate": "#1971c2", "screen": "#5f3dc4"}


def _timeline(record: dict) -> str:
    """SVG strip: one lane per category, coloured over the part of the video (by frame
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
    h = 8
    rects = []
    for li, (cat, bins) in enumerate(lanes.items()):
        y = li * (h + 2)
        rects.append(f'<rect x="0" y="{y}" width="{BINS * 3}" height="{h}" fill="#eee"/>')
        rects += [f'<rect x="{i * 3}" y="{y}" width="3" height="{h}" fill="{COLORS.get(cat)}">'
                  f'<title>{cat}</title></rect>' for i, on in enumerate(bins) if on]
    height = len(lanes) * (h + 2)
    return (f'<svg class="timeline" width="{BINS * 3}" height="{height}" role="img" '
            f'aria-label="redaction timeline">{"".join(rects)}</svg>')


def _review_frames(look: dict) -> list[int]:
    return sorted({f["frame"] for f in look.get("flagged", [])})


def _second_look_html(look: dict | None) -> str:
    """The frames a reviewer must check before release (found again outside the paint)."""
    if not look:
        return '<p class="look">second look: not run</p>'
    if look["verdict"] == "clean":
        return (f'<p class="look">second look: <b>clean</b> ({look["frames_checked"]} frames '
                'checked)</p>')
    rows = "".join(
        f"<tr><td>{f['frame']}</td><td>{'' if f.get('time') is None else f['time']}</td>"
        f"<td>{html.escape(f['category'])}</td><td>{f['box']}</td><td>{f['score']}</td></tr>"
        for f in look.get("flagged", [])[:200])
    return (f'<p class="look error">second look: <b>REVIEW</b> — '
            f'{look.get("frames_flagged", 0)} frame(s) may still show a face, plate or screen'
            f'</p><table class="review"><tr><th>frame</th><th>time s</th><th>category</th>'
            f'<th>box</th><th>score</th></tr>{rows}</table>')


def build_report(out_dir: Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    state = out_dir / ".redact" / "state.sqlite"
    if not state.is_file():
        from redact.errors import ConfigError

        raise ConfigError(f"{out_dir} has no job state; run `redact run ... -o {out_dir}` first")
    db = StateDB(state)
    rows = db.rows()
    db.close()
    items = []
    for row in rows:
        record = {}
        if row.audit and Path(row.audit).is_file():
            try:
                record = json.loads(Path(row.audit).read_text(encoding="utf-8"))
            except ValueError:
                record = {"warnings": ["audit record unreadable"]}
        items.append((row, record))
    csv_path = out_dir / "report.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["input", "status", "output", "frames", "faces", "plates", "screens",
                    "tracks", "second_look", "review_frames", "warnings", "error"])
        for row, rec in items:
            counts = rec.get("counts", {})
            look = rec.get("second_look") or {}
            w.writerow([row.input, row.status, row.output or "",
                        rec.get("frames", {}).get("output", ""), counts.get("face", 0),
                        counts.get("plate", 0), counts.get("screen", 0),
                        len(rec.get("tracks", [])), look.get("verdict", "not run"),
                        " ".join(str(f) for f in _review_frames(look)),
                        " | ".join(rec.get("warnings", [])), row.error or ""])
    parts = []
    for row, rec in items:
        counts = rec.get("counts", {})
        tracks = rec.get("tracks", [])
        track_rows = "".join(
            f"<tr><td>{t['id']}</td><td>{t['category']}</td><td>{t['first_time']:.2f}</td>"
            f"<td>{t['last_time']:.2f}</td><td>{t['frames_detected']}</td></tr>"
            for t in tracks[:50])
        more = f"<p>… {len(tracks) - 50} more tracks</p>" if len(tracks) > 50 else ""
        status_cls = {"ok": "ok", "failed": "bad"}.get(row.status, "warn")
        parts.append(f"""
<section class="file">
 <h2><span class="status {status_cls}">{html.escape(row.status)}</span>
 {html.escape(Path(row.input).name)}</h2>
 <p class="path">{html.escape(row.input)}</p>
 <p>{' · '.join(f'{html.escape(k)}: <b>{v}</b>' for k, v in sorted(counts.items()))
     or 'no regions'} · frames: {rec.get('frames', {}).get('output', '–')}</p>
 {_timeline(rec) if rec.get('regions') is not None else ''}
 {f'<p class="error">{html.escape(row.error)}</p>' if row.error else ''}
 {_second_look_html(rec.get('second_look'))}
 {''.join(f'<p class="warn">⚠ {html.escape(w)}</p>' for w in rec.get('warnings', []))}
 {f'<details><summary>{len(tracks)} tracks</summary><table><tr><th>id</th><th>category'
  f'</th><th>first s</th><th>last s</th><th>detected frames</th></tr>{track_rows}</table>'
  f'{more}</details>' if tracks else ''}
</section>""")
    n_ok = sum(r.status == "ok" for r, _ in items)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>redact report — {html.escape(str(out_dir))}
</title><style>
body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}
.file{{border-top:1px solid #ccc;padding:.5em 0}} h2{{font-size:16px;margin:.2em 0}}
.status{{padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}}
.ok{{background:#2b8a3e}}.bad{{background:#c92a2a}}.warn{{background:#e67700}}
.path{{color:#666;font-size:12px;margin:0}} .error{{color:#c92a2a}}
table{{border-collapse:collapse}} td,th{{padding:2px 8px;border-bottom:1px solid #eee}}
.legend span{{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}}
</style></head><body>
<h1>Redaction report</h1>
<p>{html.escape(str(out_dir))}: {len(items)} file(s), {n_ok} ok,
{sum(r.status == 'failed' for r, _ in items)} failed.</p>
<p class="legend">Timeline lanes:{''.join(f'<span style="background:{c}"></span>{k}'
                                          for k, c in COLORS.items())}</p>
{''.join(parts)}
</body></html>"""
    html_path = out_dir / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return html_path, csv_path
