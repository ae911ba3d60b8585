"""A custody trail that travels: journal paths relative to the release folder, a copy of the
folder verifies on its own, uncovered files and unchecked signatures are said out loud, and
`plan`/`render` leave journal entries like `run` does."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from redact.audit.journal import canonical, generate_keys, line_hash, load_public_key
from redact.audit.verify import verify
from redact.batch.jobs import BatchRunner
from redact.batch.options import BatchOptions
from redact.batch.runner import FileRunner
from redact.config import load_settings
from redact.errors import SetupError
from tests.conftest import ScriptedDetector, make_clip, scripted_set


def batch(inputs, out, options=None, *, mode="run", plan_path=None, **overrides):
    settings = load_settings(overrides={"detect_every": 1, **overrides}, override_source="api")
    runner = FileRunner(settings)
    runner.use_detectors(scripted_set(ScriptedDetector({0: [[4, 4, 20, 20]]})))
    return BatchRunner(settings, out, options, file_runner=runner, mode=mode,
                       plan_path=plan_path).run(inputs)


@pytest.fixture
def release(tmp_path):
    src = tmp_path / "in"
    (src / "cam1").mkdir(parents=True)
    make_clip(src / "cam1" / "a.mp4", n=5)
    make_clip(src / "b.mp4", n=4)
    out = tmp_path / "release"
    assert batch([src], out).exit_code == 0
    return out


def flip_byte(path: Path, at: int = 300) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_journal_and_audit_name_outputs_relative_to_the_release(release):
    entries = [json.loads(x) for x in (release / ".redact" / "journal.jsonl").read_text()
               .splitlines()]
    files = {e["output"]["path"]: e for e in entries if e["event"] == "file"}
    assert set(files) == {"cam1/a.mp4", "b.mp4"}
    assert files["cam1/a.mp4"]["audit"]["path"] == "cam1/a.mp4.audit.json"
    record = json.loads((release / "cam1" / "a.mp4.audit.json").read_text())
    assert record["output"]["path"] == "cam1/a.mp4"


def test_a_copy_verifies_on_its_own_and_a_flipped_byte_in_it_is_named(release, tmp_path):
    copy = tmp_path / "elsewhere" / "copy-of-release"
    shutil.copytree(release, copy)
    assert verify(copy).ok, verify(copy).problems
    flip_byte(copy / "cam1" / "a.mp4")
    result = verify(copy)
    assert not result.ok
    assert any("cam1/a.mp4:" in p and "sha256 differs" in p for p in result.problems)
    assert verify(release).ok  # the original is untouched
    proc = subprocess.run([sys.executable, "-m", "redact.cli.main", "audit", "verify",
                           str(copy)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "cam1/a.mp4" in proc.stdout


def test_an_extra_file_in_the_release_is_reported(release):
    shutil.copy(release / "b.mp4", release / "cam1" / "extra.mp4")
    result = verify(release)
    assert [p for p in result.problems if "not covered" in p] == [
        "cam1/extra.mp4: not covered by any journal entry (added after the run, or not made "
        "by redact)"]


def test_unsigned_journal_and_unchecked_signatures_are_said(tmp_path, release):
    notes = verify(release).notes
    assert any("not signed" in n for n in notes)
    private, public = generate_keys(tmp_path / "keys")
    signed = tmp_path / "signed"
    batch([release.parent / "in"], signed, BatchOptions(sign_key=private))
    result = verify(signed)
    assert result.ok and not result.signatures_checked
    assert any("signatures NOT checked" in n for n in result.notes)
    assert verify(signed, load_public_key(public)).signatures_checked
    # Strip every signature and re-chain: without a key it is still "ok", but it says so.
    path = signed / ".redact" / "journal.jsonl"
    prev, out_lines = "0" * 64, []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        for k in ("signature", "key_id"):
            entry.pop(k, None)
        entry["prev"] = prev
        entry["hash"] = hashlib.sha256(canonical(entry)).hexdigest()
        text = json.dumps(entry, sort_keys=True)
        prev = line_hash(text.encode())
        out_lines.append(text)
    path.write_text("\n".join(out_lines) + "\n")
    stripped = verify(signed)
    assert stripped.signed == 0 and any("not signed" in n for n in stripped.notes)
    assert not verify(signed, load_public_key(public)).ok


def test_unsigned_run_appended_to_a_signed_journal_fails(tmp_path, release):
    private, _ = generate_keys(tmp_path / "keys")
    src = release.parent / "in"
    out = tmp_path / "mixed"
    batch([src], out, BatchOptions(sign_key=private))
    batch([src], out, BatchOptions(force=True))
    problems = verify(out).problems
    assert problems and all("not signed, but the journal was signed" in p for p in problems)


def test_plan_and_render_leave_journal_entries_that_verify(tmp_path):
    clip = make_clip(tmp_path / "in" / "v.mp4", n=6, width=96, height=64) \
        if (tmp_path / "in").mkdir() is None else None
    plans = tmp_path / "plans"
    assert batch([clip], plans, mode="plan").exit_code == 0
    plan_path = plans / "v.mp4.plan.json"
    assert plan_path.is_file() and verify(plans).ok, verify(plans).problems
    out = tmp_path / "out"
    report = batch([clip], out, mode="render", plan_path=plan_path)
    assert report.exit_code == 0, report.results[0].error
    result = verify(out)
    assert result.ok and result.files_checked == 1, result.problems
    entries = [json.loads(x) for x in (out / ".redact" / "journal.jsonl").read_text()
               .splitlines()]
    start, file_entry = entries[0], entries[1]
    assert start["mode"] == "render" and start["plan"]["path"] == str(plan_path)
    assert file_entry["plan"]["sha256"] == start["plan"]["sha256"]
    # Unchanged: skipped on rerun; an edited plan is rendered again.
    assert batch([clip], out, mode="render", plan_path=plan_path).results[0].status == \
        "skipped"
    doc = json.loads(plan_path.read_text())
    doc["manual"].append({"category": "face", "box": [0, 0, 8, 8], "start_frame": 0,
                          "end_frame": 2})
    plan_path.write_text(json.dumps(doc))
    assert batch([clip], out, mode="render", plan_path=plan_path).results[0].status == "ok"


def test_models_load_once_before_any_file_and_a_failure_exits_2(tmp_path):
    make_clip(tmp_path / "in" / "a.mp4") if (tmp_path / "in").mkdir() is None else None
    settings = load_settings(overrides={"face_model": "no-such-model"}, override_source="api")
    with pytest.raises(Exception) as err:
        BatchRunner(settings, tmp_path / "out").run([tmp_path / "in"])
    assert err.value.exit_code == 2 and "no-such-model" in str(err.value)
    assert not list((tmp_path / "out").glob("*.mp4"))
    proc = subprocess.run([sys.executable, "-m", "redact.cli.main", "run", str(tmp_path / "in"),
                           "-o", str(tmp_path / "out2"), "--device", "cuda", "--offline"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert SetupError.exit_code == 2


def test_replanning_never_overwrites_a_reviewed_plan(tmp_path):
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "v.mp4", n=6, width=96, height=64)
    plans = tmp_path / "plans"
    batch([clip], plans, mode="plan")
    plan_path = plans / "v.mp4.plan.json"
    doc = json.loads(plan_path.read_text())
    doc["manual"].append({"category": "face", "box": [0, 0, 8, 8], "start_frame": 0,
                          "end_frame": 2})
    edited = json.dumps(doc)
    plan_path.write_text(edited)
    result = batch([clip], plans, mode="plan", style="solid").results[0]  # settings changed
    assert result.status == "skipped" and "edited" in result.error
    assert plan_path.read_text() == edited
    assert batch([clip], plans, BatchOptions(force=True), mode="plan").results[0].status == "ok"
    assert json.loads(plan_path.read_text())["manual"] == []
