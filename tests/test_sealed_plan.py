"""Custody of the plan: what the audit vouches for is what was released.

A plan's analysed part is sealed; `redact render` refuses a plan changed outside its editable
fields (naming the field), or with --accept-plan-edits lists every change, holds the file for
review and exits 4. Settings that lower recall are refused (exit 2) unless accepted by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from redact.batch.jobs import BatchRunner
from redact.cli.main import app
from redact.io.hashing import sha256_file
from tests.conftest import make_clip, read_video

N = 12
BOX = [10, 10, 40, 40]


@pytest.fixture
def planned(tmp_path, fake_runner):
    """A clip, its sealed plan (written by a plan batch with a scripted face every frame)."""
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "v.mp4", width=96, height=64, n=N)
    runner = fake_runner({i: [BOX] for i in range(N)}, style="solid")
    report = BatchRunner(runner.settings, tmp_path / "plans", file_runner=runner,
                         mode="plan").run([clip])
    assert report.results[0].status == "ok", report.results[0].error
    return clip, tmp_path / "plans" / "v.mp4.plan.json"


def render(clip: Path, plan: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["render", str(clip), "--plan", str(plan), "--out", str(out),
                                    "--quiet", *extra])


def edit(plan: Path, change) -> dict:
    doc = json.loads(plan.read_text())
    change(doc)
    plan.write_text(json.dumps(doc))
    return doc


def painted_frames(video: Path, orig: Path) -> list[int]:
    """Frames whose box area is black (the solid style), read from the decoded pixels."""
    out, src = read_video(video)["images"], read_video(orig)["images"]
    assert len(out) == len(src) == N
    return [i for i, img in enumerate(out) if img[14:36, 14:36].max() < 40]


def test_an_unedited_plan_renders_clean_and_painted(planned, tmp_path):
    clip, plan = planned
    result = render(clip, plan, tmp_path / "out")
    assert result.exit_code == 0, result.output
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    doc = json.loads(plan.read_text())
    assert audit["plan"]["seal"] == doc["seal"]["sha256"] and audit["plan"]["sealed_intact"]
    assert audit["plan"]["journaled"] and not audit["plan"]["journal_signed"]
    assert audit["plan_edits"] == [] and audit["verdict"] is None
    assert painted_frames(tmp_path / "out" / "v.mp4", clip) == list(range(N))
    journal = [json.loads(line) for line in
               (tmp_path / "plans" / ".redact" / "journal.jsonl").read_text().splitlines()]
    assert [e["plan"]["seal"] for e in journal if e.get("event") == "file"] == \
        [doc["seal"]["sha256"]]


def test_a_signed_plan_batch_anchors_the_seal(tmp_path, fake_runner):
    from redact.audit.journal import generate_keys
    from redact.batch.options import BatchOptions

    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "v.mp4", width=96, height=64, n=N)
    private, _public = generate_keys(tmp_path / "keys")
    runner = fake_runner({i: [BOX] for i in range(N)}, style="solid")
    BatchRunner(runner.settings, tmp_path / "plans", BatchOptions(sign_key=private),
                file_runner=runner, mode="plan").run([clip])
    plan = tmp_path / "plans" / "v.mp4.plan.json"
    assert render(clip, plan, tmp_path / "out").exit_code == 0
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    assert audit["plan"]["journaled"] and audit["plan"]["journal_signed"]


def test_a_plan_without_its_journal_says_so(planned, tmp_path):
    clip, plan = planned
    (tmp_path / "plans" / ".redact" / "journal.jsonl").unlink()
    assert render(clip, plan, tmp_path / "out").exit_code == 0
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    assert not audit["plan"]["journaled"] and audit["plan"]["sealed_intact"]


def test_deleting_every_region_is_refused_naming_frames(planned, tmp_path):
    clip, plan = planned
    edit(plan, lambda d: [f.update(regions=[]) for f in d["frames"]])
    result = render(clip, plan, tmp_path / "out")
    assert result.exit_code == 2
    assert "frames[]" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "v.mp4").exists()


def test_deleted_regions_render_with_consent_listed_held_for_review(planned, tmp_path):
    clip, plan = planned
    edit(plan, lambda d: [f.update(regions=[]) for f in d["frames"]])
    result = render(clip, plan, tmp_path / "out", "--accept-plan-edits")
    assert result.exit_code == 4, result.output
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    assert audit["verdict"] == "review" and not audit["plan"]["sealed_intact"]
    assert audit["plan"]["changed"] == ["frames[]"]
    removed = [e for e in audit["plan_edits"] if e["edit"] == "regions_removed"]
    assert removed == [{"edit": "regions_removed", "field": "frames[]", "category": "face",
                        "count": N, "frames": list(range(N))}]
    assert painted_frames(tmp_path / "out" / "v.mp4", clip) == []  # what was released
    journal = (tmp_path / "out" / ".redact" / "journal.jsonl").read_text()
    assert '"verdict": "review"' in journal and '"changed": ["frames[]"]' in journal


def test_a_changed_margin_is_treated_the_same(planned, tmp_path):
    clip, plan = planned
    edit(plan, lambda d: d["settings"].update(margin=0.0))
    refused = render(clip, plan, tmp_path / "out")
    assert refused.exit_code == 2 and "settings.margin" in refused.output
    accepted = render(clip, plan, tmp_path / "out", "--accept-plan-edits")
    assert accepted.exit_code == 4, accepted.output
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    assert {"edit": "analysis_setting", "field": "settings.margin", "from": 0.2, "to": 0.0} \
        in audit["plan_edits"]


def test_a_recomputed_seal_without_the_sealed_copy_is_still_caught(planned, tmp_path):
    """Whoever edits frames[] and also rewrites the stated part hashes gets caught: the seal
    no longer hashes its parts, and no sealed copy carries the new seal."""
    from redact.plan.model import parse_plan
    from redact.plan.seal import compute_seal

    clip, plan = planned

    def forge(d):
        d["frames"] = d["frames"][:1]
        d["seal"] = compute_seal(parse_plan(d)).model_dump()

    edit(plan, forge)
    result = render(clip, plan, tmp_path / "out", "--accept-plan-edits")
    assert result.exit_code == 2 and "not among the sealed analyses" in result.output


def test_editable_fields_render_without_review(planned, tmp_path):
    clip, plan = planned
    doc = json.loads(plan.read_text())
    tid = doc["tracks"][0]["id"]
    edit(plan, lambda d: d["tracks"][0].update(exclude=True))
    result = render(clip, plan, tmp_path / "out")
    assert result.exit_code == 0, result.output
    audit = json.loads((tmp_path / "out" / "v.mp4.audit.json").read_text())
    assert audit["plan"]["sealed_intact"] and audit["verdict"] is None
    assert {"edit": "exclude_track", "track": tid} in audit["plan_edits"]
    assert painted_frames(tmp_path / "out" / "v.mp4", clip) == []


def test_require_approval_refuses_an_unapproved_plan(planned, tmp_path):
    clip, plan = planned
    refused = render(clip, plan, tmp_path / "out", "--require-approval")
    assert refused.exit_code == 2 and "not approved" in refused.output
    assert not (tmp_path / "out" / "v.mp4").exists()
    edit(plan, lambda d: d.update(review={"approved": True}))
    assert render(clip, plan, tmp_path / "out", "--require-approval").exit_code == 0
    assert painted_frames(tmp_path / "out" / "v.mp4", clip) == list(range(N))


def test_require_approval_is_a_preset_key(planned, tmp_path):
    clip, plan = planned
    preset = tmp_path / "strict.toml"
    preset.write_text("[settings]\nrequire_approval = true\n")
    result = render(clip, plan, tmp_path / "out", "--preset", str(preset))
    assert result.exit_code == 2 and "not approved" in result.output


def test_a_render_flag_that_changes_the_painting_is_refused(planned, tmp_path):
    clip, plan = planned
    result = render(clip, plan, tmp_path / "out", "--set", "margin=0.5")
    assert result.exit_code == 2 and "margin" in result.output


def test_missing_plan_is_one_line_exit_2(tmp_path):
    clip = make_clip(tmp_path / "v.mp4", n=3)
    result = render(clip, tmp_path / "missing.json", tmp_path / "out")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "missing.json" in lines[0] and "does not exist" in lines[0]


def test_plan_then_render_is_byte_identical_to_run(planned, tmp_path, fake_runner):
    """The library path of the Done-when check (the CLI one with real models is below)."""
    clip, plan = planned
    runner = fake_runner({i: [BOX] for i in range(N)}, style="solid")
    assert runner.run(clip, tmp_path / "run" / "v.mp4").status == "ok"
    assert render(clip, plan, tmp_path / "out").exit_code == 0
    assert sha256_file(tmp_path / "run" / "v.mp4") == sha256_file(tmp_path / "out" / "v.mp4")


@pytest.mark.parametrize("flag", [["--no-tracking"], ["--detect-every", "10"],
                                  ["--face-threshold", "0.3"], ["--categories", "face"]])
def test_settings_that_lower_recall_are_refused(tmp_path, flag):
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "v.mp4", n=3)
    result = CliRunner().invoke(app, ["run", str(clip), "--out", str(tmp_path / "out"),
                                      "--offline", "--quiet", *flag])
    assert result.exit_code == 2, result.output
    assert "lower recall" in result.output and "--accept-recall-loss" in result.output
    assert not (tmp_path / "out" / "v.mp4").exists()


def test_accepted_recall_loss_is_named_and_every_frame_looked_at(tmp_path, fake_runner):
    clip = make_clip(tmp_path / "v.mp4", width=96, height=64, n=N)
    runner = fake_runner({i: [BOX] for i in range(N)}, tracking=False, detect_every=10,
                         accept_recall_loss=True)
    result = runner.run(clip, tmp_path / "out" / "v.mp4")
    assert result.status == "ok", result.error
    audit = json.loads(Path(result.audit).read_text())
    assert audit["recall_reductions"] == ["detect_every 10 (default 4: higher lowers recall)",
                                          "tracking off (default on)"]
    assert audit["second_look"]["frames_checked"] == N and audit["second_look"]["every"] == 1


def test_settings_refused_for_the_library_too(tmp_path, fake_runner):
    clip = make_clip(tmp_path / "v.mp4", n=3)
    result = fake_runner({}, tracking=False).run(clip, tmp_path / "out" / "v.mp4")
    assert result.status == "failed" and "lower recall" in result.error


@pytest.mark.models
def test_cli_plan_render_reproduces_run_with_a_threshold(tmp_path):
    """plan → render of an unedited plan gives the same video bytes as run, with
    --face-threshold 0.3 (accepted as a recall reduction) given to both; plan --quiet and
    --json work."""
    (tmp_path / "in").mkdir()
    clip = make_clip(tmp_path / "in" / "v.mp4", width=160, height=120, n=8)
    common = ["--face-threshold", "0.3", "--accept-recall-loss", "--offline"]
    cli = CliRunner()
    ran = cli.invoke(app, ["run", str(clip), "--out", str(tmp_path / "run"), "--quiet",
                           *common])
    assert ran.exit_code in (0, 4), ran.output
    quiet = cli.invoke(app, ["plan", str(clip), "--out", str(tmp_path / "plans"), "--quiet",
                             *common])
    assert quiet.exit_code == 0 and quiet.output.strip() == ""
    as_json = cli.invoke(app, ["plan", str(clip), "--out", str(tmp_path / "plans2"), "--json",
                               *common])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["results"][0]["status"] == "ok"
    plan = tmp_path / "plans" / "v.mp4.plan.json"
    rendered = cli.invoke(app, ["render", str(clip), "--plan", str(plan), "--out",
                                str(tmp_path / "out"), "--quiet", *common])
    assert rendered.exit_code in (0, 4), rendered.output
    assert sha256_file(tmp_path / "run" / "v.mp4") == sha256_file(tmp_path / "out" / "v.mp4")
    doc = json.loads(plan.read_text())
    assert doc["settings"]["face"]["threshold"] == 0.3
    out = read_video(tmp_path / "out" / "v.mp4")
    assert len(out["pts"]) == 8 and np.array_equal(out["pts"], read_video(clip)["pts"])


def test_the_shipped_schema_is_generated_from_the_model(planned):
    from redact.plan.schema import SCHEMA_FILE, render_schema

    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), \
        "run `python -m redact.plan.schema` after changing redact/plan/model.py"
    jsonschema = pytest.importorskip("jsonschema")
    _clip, plan = planned
    jsonschema.validate(json.loads(plan.read_text()), json.loads(SCHEMA_FILE.read_text()))


def test_a_plan_handed_over_in_memory_must_keep_its_seal(planned, tmp_path, fake_runner):
    """The library path (FileRunner.run(plan=...)) checks the seal too: an edited analysis
    is refused there as well, never rendered with a clean record."""
    from redact.plan.model import load_plan

    clip, plan = planned
    runner = fake_runner({}, style="solid")
    ok = runner.run(clip, tmp_path / "ok" / "v.mp4", plan=load_plan(plan))
    assert ok.status == "ok" and ok.verdict is None
    edit(plan, lambda d: [f.update(regions=[]) for f in d["frames"]])
    refused = runner.run(clip, tmp_path / "edited" / "v.mp4", plan=load_plan(plan))
    assert refused.status == "failed" and "frames[]" in refused.error
    assert not (tmp_path / "edited" / "v.mp4").exists()


def test_a_deleted_speech_suggestion_is_an_edit_a_rejected_one_is_not(planned):
    from redact.errors import ConfigError
    from redact.plan.edits import check_plan
    from redact.plan.model import AudioItem, load_plan
    from redact.plan.seal import sealed, store_sealed

    _, path = planned
    said = AudioItem(start=1.0, end=2.5, source="suggested", reason="digits")
    plan = sealed(load_plan(path).model_copy(update={"audio": (said,)}))
    store_sealed(plan, path.parent)
    path.write_text(json.dumps(plan.to_json()))
    assert check_plan(plan, path, accept_edits=False).intact

    rejected = plan.model_copy(update={"audio": (said.model_copy(update={"decision":
                                                                         "rejected"}),)})
    assert check_plan(rejected, path, accept_edits=False).intact
    deleted = plan.model_copy(update={"audio": ()})
    with pytest.raises(ConfigError, match="suggested by the speech finder"):
        check_plan(deleted, path, accept_edits=False)
    listed = check_plan(deleted, path, accept_edits=True)
    assert {"edit": "analysis_changed", "field": listed.changed[0]} in listed.edits


def test_a_run_seals_the_same_analysis_a_plan_batch_writes(planned, tmp_path, fake_runner):
    """`redact run` keeps no plan frames in memory (a long video's grew by about 2 kB a
    region): it hashes each frame as it is painted. Its seal must still be the plan's."""
    clip, plan = planned
    runner = fake_runner({i: [BOX] for i in range(N)}, style="solid")
    report = BatchRunner(runner.settings, tmp_path / "run", file_runner=runner).run([clip])
    assert report.results[0].status == "ok", report.results[0].error
    audit = json.loads((tmp_path / "run" / "v.mp4.audit.json").read_text())
    doc = json.loads(plan.read_text())
    assert len(doc["frames"]) == N
    assert audit["plan"]["seal"] == doc["seal"]["sha256"] == report.results[0].seal
