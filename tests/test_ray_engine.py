"""--engine ray: the same outputs, audit records and journal as the local engine; a worker
killed mid-file leaves no output, and the rerun completes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from redact.io.hashing import sha256_file
from tests.conftest import shared_data

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before Ray starts: nothing reaches the network

CLIPS = ("intel_asl_milk.mp4", "intel_asl_eat.mp4")
# Small inputs and a fast x264 preset: the test is about the engine, not the detectors.
# Both lower recall (accepted), which forces a second look over every output frame.
FLAGS = ["--categories", "face", "--face-size", "480", "--accept-recall-loss",
         "--encoder-preset", "ultrafast",
         "--verify-output", "off", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason='Ray is optional: pip install -e ".[ray]"')
    if ray.is_initialized():
        ray.shutdown()
    for attempt in range(3):
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
            break
        except Exception as exc:
            # Trap: Ray waits a fixed 30 s for its node to start; a busy machine needs longer.
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(exc):
                raise
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    videos = shared_data("videos")
    folder = tmp_path_factory.mktemp("in")
    for name in CLIPS:
        if not (videos / name).exists():
            pytest.skip(f"{videos / name} is absent")
        shutil.copy(videos / name, folder / name)
    return folder


def cli(*args: str) -> int:
    from typer.testing import CliRunner

    from redact.cli.main import app

    result = CliRunner().invoke(app, [*map(str, args)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code


def test_engine_and_mode_are_checked_before_any_state(tmp_path):
    from redact.batch.jobs import BatchRunner
    from redact.batch.options import BatchOptions
    from redact.config import load_settings
    from redact.errors import ConfigError

    settings = load_settings()
    with pytest.raises(ConfigError, match="unknown engine"):
        BatchRunner(settings, tmp_path / "out", BatchOptions(engine="slurm"))
    with pytest.raises(ConfigError, match="engine ray"):
        BatchRunner(settings, tmp_path / "out", BatchOptions(engine="ray"), mode="plan")
    with pytest.raises(ConfigError, match="retries"):
        BatchRunner(settings, tmp_path / "out", BatchOptions(engine="ray", retries=-1))
    assert not (tmp_path / "out").exists()


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch):
    from redact.batch.engine_ray import import_ray
    from redact.errors import SetupError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SetupError, match=r"redact\[ray\]"):
        import_ray()


def test_an_output_the_driver_cannot_see_fails_the_file(tmp_path):
    """A worker on a node without the shared folder would report 'ok' for its local disk."""
    from redact.batch.engine_ray import _visible
    from redact.batch.results import FileResult

    (tmp_path / "a.mp4").write_bytes(b"x")
    seen = _visible(FileResult("in", str(tmp_path / "a.mp4"), str(tmp_path / "a.audit.json"),
                               "ok"))
    assert seen.status == "failed" and seen.output is None and "shares" in seen.error


def test_import_redact_does_not_import_ray():
    code = "import sys, redact, redact.batch.jobs; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def audit_content(path: Path) -> dict:
    record = json.loads(path.read_text())
    record.pop("run")  # user, host, started, finished
    if record.get("second_look"):
        record["second_look"].pop("seconds")  # how long the look took
    return record


def journal_content(out: Path) -> list[dict]:
    skip = {"time", "prev", "hash", "signature", "user", "host", "pid", "out_dir"}
    entries = [json.loads(line) for line in
               (out / ".redact" / "journal.jsonl").read_text().splitlines()]
    for entry in entries:
        if "audit" in entry:  # the record holds its run's times (compared without them)
            entry["audit"].pop("sha256")
    return [{k: v for k, v in entry.items() if k not in skip} for entry in entries]


def verify(out: Path, files: int) -> None:
    """The release folder verifies, through the command and the library, with ``files``
    outputs checked against the journal (an empty journal would verify vacuously)."""
    from redact.audit.verify import verify as verify_folder

    proc = subprocess.run([sys.executable, "-m", "redact.cli.main", "audit", "verify",
                           str(out)], capture_output=True, text=True, timeout=300)
    result = verify_folder(out)
    assert result.ok and result.problems == [], result.problems
    assert result.files_checked == files and result.entries > files, result
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.models
def test_ray_engine_matches_local_engine(cluster, inputs, tmp_path):
    local, distributed = tmp_path / "local", tmp_path / "ray"
    assert cli("run", inputs, "-o", local, *FLAGS) == 0
    assert cli("run", inputs, "-o", distributed, *FLAGS, "--engine", "ray") == 0
    for name in CLIPS:
        assert sha256_file(local / name) == sha256_file(distributed / name), name
        audit = Path(f"{name}.audit.json")
        assert audit_content(local / audit) == audit_content(distributed / audit)
    assert journal_content(local) == journal_content(distributed)
    verify(distributed, len(CLIPS))
    # Idempotent: a rerun skips every file (the driver's job state, not the workers').
    assert cli("run", inputs, "-o", distributed, *FLAGS, "--engine", "ray") == 0
    assert journal_content(distributed)[-1]["skipped"] == len(CLIPS)


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return seen


def _open_clip(pid: int) -> str | None:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        name = Path(target).name
        if name in CLIPS and "/in" in target:
            return name
    return None


def _busy_worker(clip: str | None) -> tuple[int, str] | None:
    """A worker of this test's cluster that is reading a clip (``clip``, or any)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            if not title.startswith(b"ray::_run_file") or me not in _ancestors(int(entry.name)):
                continue
            name = _open_clip(int(entry.name))
        except OSError:
            continue
        if name is not None and clip in (None, name):
            return int(entry.name), name
    return None


@pytest.mark.models
def test_killed_worker_leaves_no_output_and_rerun_completes(cluster, inputs, tmp_path):
    """One file's worker is killed mid-file, then its retry too: --retries 1 runs it twice,
    then reports it failed; the other file completes. The rerun redoes the failed one."""
    out = tmp_path / "out"
    killed: list[str] = []
    stop = threading.Event()

    def killer() -> None:
        pids: set[int] = set()
        while not stop.is_set() and len(killed) < 2:
            found = _busy_worker(killed[0] if killed else None)
            # Mid-file: a temporary output exists while the worker reads its clip.
            if found and found[0] not in pids and list(out.rglob("*.redact-tmp*")):
                os.kill(found[0], signal.SIGKILL)
                pids.add(found[0])
                killed.append(found[1])
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        code = cli("run", inputs, "-o", out, *FLAGS, "--engine", "ray", "--retries", "1")
    finally:
        stop.set()
        thread.join()
    assert len(killed) == 2 and killed[0] == killed[1], killed
    assert code == 1  # fail closed: the lost file is reported failed
    assert not list(out.rglob("*.redact-tmp*"))
    rows = {Path(e["input"]["path"]).name: e for e in journal_content(out)
            if e["event"] == "file"}
    assert rows[killed[0]]["status"] == "failed"
    assert "worker lost 2 time(s)" in rows[killed[0]]["error"]
    assert [r["status"] for n, r in rows.items() if n != killed[0]] == ["ok"]
    assert not (out / killed[0]).exists() and not (out / f"{killed[0]}.audit.json").exists()
    # The rerun redoes the failed file only.
    assert cli("run", inputs, "-o", out, *FLAGS, "--engine", "ray") == 0
    assert all((out / name).is_file() for name in CLIPS)
    assert journal_content(out)[-1]["ok"] == 1
    verify(out, len(CLIPS))
