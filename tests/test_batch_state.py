"""Resumable, idempotent batches, the lock, the journal, verification and the report."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redact.audit.journal import generate_keys, load_private_key, load_public_key
from redact.audit.verify import verify
from redact.batch.jobs import BatchRunner
from redact.batch.options import BatchOptions
from redact.batch.runner import FileRunner
from redact.batch.state import OutputLock, StateDB
from redact.config import load_settings
from redact.errors import LockError
from redact.models.store import sha256_file
from tests.conftest import ScriptedDetector, make_clip, scripted_set


def batch(inputs, out, options=None, **overrides):
    settings = load_settings(overrides=overrides, override_source="api")
    runner = FileRunner(settings)
    runner.use_detectors(scripted_set(ScriptedDetector({0: [[4, 4, 20, 20]]})))
    return BatchRunner(settings, out, options, file_runner=runner).run(inputs)


@pytest.fixture
def footage(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for i in range(3):
        make_clip(d / f"c{i}.mp4", n=6 + i)
    return d


def statuses(report):
    return {Path(r.input).name: r.status for r in report.results}


def test_second_run_skips_and_changes_redo_exactly_the_affected(tmp_path, footage):
    out = tmp_path / "out"
    assert set(statuses(batch([footage], out)).values()) == {"ok"}
    assert set(statuses(batch([footage], out)).values()) == {"skipped"}
    make_clip(footage / "c1.mp4", n=9, metadata={"title": "changed"})  # new content
    assert statuses(batch([footage], out)) == {"c0.mp4": "skipped", "c1.mp4": "ok",
                                               "c2.mp4": "skipped"}
    assert set(statuses(batch([footage], out, style="solid")).values()) == {"ok"}
    # a damaged output is redone, not trusted
    data = bytearray((out / "c2.mp4").read_bytes())
    data[-100] ^= 0xFF
    (out / "c2.mp4").write_bytes(bytes(data))
    assert statuses(batch([footage], out, style="solid"))["c2.mp4"] == "ok"


def test_lock_refuses_second_run(tmp_path, footage):
    out = tmp_path / "out"
    with OutputLock(out / ".redact"), pytest.raises(LockError) as err:
        batch([footage], out)
    assert err.value.exit_code == 3 and "another redact run" in str(err.value)


def test_cli_second_concurrent_run_exits_3(tmp_path, footage):
    out = tmp_path / "out"
    with OutputLock(out / ".redact"):
        proc = subprocess.run([sys.executable, "-m", "redact.cli.main", "run", str(footage),
                               "-o", str(out), "--quiet"], capture_output=True, text=True,
                              timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "another redact run" in proc.stderr and "Traceback" not in proc.stderr


def test_sigkill_mid_file_then_rerun_completes(tmp_path, footage):
    out = tmp_path / "out"
    helper = Path(__file__).with_name("_slow_batch.py")
    proc = subprocess.Popen([sys.executable, str(helper), str(footage), str(out), "0.15"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait until the first output is complete, then kill in the middle of the next file
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "c0.mp4").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finals = [p for p in out.glob("*.mp4") if not p.name.startswith(".")]
    journal = {e["output"]["path"]: e for e in map(json.loads, journal_lines(out))
               if e["event"] == "file" and "output" in e}
    db = StateDB(out / ".redact" / "state.sqlite")
    for p in finals:  # nothing under a final name lacks its completed audit record
        audit = out / (p.name + ".audit.json")
        record = json.loads(audit.read_text())
        assert record["status"] == "ok"
        # The record is always written "ok"; what vouches for the file is the journal entry
        # and the job state of this exact output and record.
        entry = journal[p.name]
        assert entry["status"] == "ok" and db.get(entry["input"]["path"]).status == "ok"
        assert entry["output"]["sha256"] == sha256_file(p) == record["output"]["sha256"]
        assert entry["audit"]["sha256"] == sha256_file(audit)
    db.close()
    assert finals and len(finals) < 3  # it really was interrupted, after the first file
    report = batch([footage], out)
    assert all(r.status in ("ok", "skipped") for r in report.results)
    assert sorted(p.name for p in out.glob("*.mp4")) == ["c0.mp4", "c1.mp4", "c2.mp4"]
    assert not [p for p in out.rglob("*redact-tmp*")]
    result = verify(out)
    assert result.ok and result.problems == [] and result.files_checked == 3, result.problems


@pytest.fixture
def signed_run(tmp_path, footage):
    private, public = generate_keys(tmp_path / "keys")
    out = tmp_path / "out"
    batch([footage], out, BatchOptions(sign_key=private))
    return out, public


def test_verify_passes_untouched(signed_run):
    out, public = signed_run
    result = verify(out, load_public_key(public))
    assert result.ok, result.problems
    assert result.files_checked == 3 and result.signed == result.entries


def journal_lines(out):
    return (out / ".redact" / "journal.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(out, lines):
    (out / ".redact" / "journal.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def tamper_output(out):
    with open(out / "c1.mp4", "r+b") as fh:
        fh.seek(200)
        b = fh.read(1)
        fh.seek(200)
        fh.write(bytes([b[0] ^ 1]))


def tamper_audit(out):
    p = out / "c0.mp4.audit.json"
    rec = json.loads(p.read_text())
    rec["counts"]["face"] = 0
    p.write_text(json.dumps(rec))


def delete_line(out):
    lines = journal_lines(out)
    write_lines(out, lines[:2] + lines[3:])


def edit_line(out):
    lines = journal_lines(out)
    entry = json.loads(lines[2])
    entry["input"]["path"] = "/elsewhere/other.mp4"
    lines[2] = json.dumps(entry, sort_keys=True).encode()
    write_lines(out, lines)


@pytest.mark.parametrize("tamper, expect", [
    (tamper_output, "c1.mp4: sha256 differs"),
    (tamper_audit, "c0.mp4.audit.json: sha256 differs"),
    (delete_line, "chain broken"),
    (edit_line, "edited"),
])
def test_verify_names_each_tampering(signed_run, tamper, expect):
    out, public = signed_run
    tamper(out)
    result = verify(out, load_public_key(public))
    assert not result.ok
    assert any(expect in p for p in result.problems), result.problems


def test_verify_rejects_signature_from_another_key(tmp_path, signed_run, footage):
    out, public = signed_run
    other_private, _ = generate_keys(tmp_path / "other")
    make_clip(footage / "c0.mp4", n=4, metadata={"title": "new"})
    batch([footage], out, BatchOptions(sign_key=other_private))
    result = verify(out, load_public_key(public))
    assert any("another key" in p for p in result.problems), result.problems
    # even without a trusted key, a key change inside one journal is reported
    assert any("different key" in p for p in verify(out).problems)
    assert load_private_key(other_private)


def test_cli_verify_exit_codes(signed_run):
    out, public = signed_run
    cmd = [sys.executable, "-m", "redact.cli.main", "audit", "verify", str(out),
           "--public-key", str(public)]
    assert subprocess.run(cmd, capture_output=True, timeout=120).returncode == 0
    tamper_output(out)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "FAIL" in proc.stdout


def test_since_selects_new_files(tmp_path, footage):
    old = time.time() - 3 * 86400
    for p in footage.iterdir():
        os.utime(p, (old, old))
    shutil.copy(footage / "c0.mp4", footage / "new.mp4")
    report = batch([footage], tmp_path / "out", BatchOptions(since=time.time() - 86400))
    assert statuses(report) == {"c0.mp4": "skipped", "c1.mp4": "skipped", "c2.mp4": "skipped",
                                "new.mp4": "ok"}


def test_report_lists_every_file(tmp_path, footage):
    from redact.audit.report import build_report

    out = tmp_path / "out"
    (footage / "broken.mp4").write_text("nope")
    batch([footage], out)
    html_path, csv_path = build_report(out)
    page = html_path.read_text()
    for name in ("c0.mp4", "c1.mp4", "c2.mp4", "broken.mp4"):
        assert name in page
    assert "<svg class=\"timeline\"" in page
    assert "<img" not in page  # no pixels from any input
    assert len(csv_path.read_text().strip().splitlines()) == 5


def test_report_renders_in_headless_chromium(tmp_path, footage):
    """Open the HTML report in a real browser and take a screenshot."""
    from redact.audit.report import build_report

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    out = tmp_path / "out"
    batch([footage], out)
    html_path, _ = build_report(out)
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1000,900", html_path.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 5000, proc.stderr[-500:]
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1000
    # the page is not blank: the timeline strip colours are present
    assert (abs(img.astype(int) - [15, 72, 217]).sum(axis=2) < 40).any()


XSS = '<script>alert(1)</script>"&'


def test_report_escapes_what_files_and_records_say(tmp_path):
    """Paths, errors and every field of an audit record reach the page as text, never markup."""
    from redact.audit.report import build_report

    # '/' cannot be in a file name, so the string spans two folder names.
    nasty = tmp_path / "in" / XSS.split("/")[0] / XSS.split("/")[1]
    nasty.mkdir(parents=True)
    make_clip(nasty / "c0.mp4", n=6)
    (nasty / "broken.mp4").write_text("nope")
    out = tmp_path / "out"
    batch([tmp_path / "in"], out)
    (audit,) = out.rglob("*.audit.json")
    record = json.loads(audit.read_text())
    record["counts"] = {XSS: XSS}
    record["tracks"][0]["category"] = XSS
    record["regions"][0]["regions"][0]["category"] = XSS
    record["warnings"] = [XSS]
    record["second_look"] = {"verdict": "review", "frames_flagged": XSS, "flagged": [
        {"frame": 0, "time": XSS, "category": XSS, "box": XSS, "score": XSS}]}
    audit.write_text(json.dumps(record))
    (out / ".redact" / "state.sqlite").unlink()  # the journal and the records are enough
    html_path, csv_path = build_report(out)
    page = html_path.read_text()
    assert "<script" not in page and '"&' not in page
    escaped = re.findall(r"&lt;script&gt;alert\(1\)&lt;/script&gt;(?:&#34;|&quot;)&amp;", page)
    # two paths, two file names, a count, a track, a timeline lane, a warning, five look cells
    assert len(escaped) >= 13, page
    rows = list(csv.reader(csv_path.open()))
    assert {Path(r[0]).name: r[1] for r in rows[1:]} == {"broken.mp4": "failed", "c0.mp4": "ok"}
    assert [bool(r[-1]) for r in sorted(rows[1:])] == [True, False]  # the failure's error
    assert {Path(r[0]).parent.as_posix().endswith(XSS) for r in rows[1:]} == {True}
