"""Bad inputs fail alone, with a one-line reason, no output, and untouched inputs."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from redact.batch.collect import collect_jobs
from tests.conftest import make_clip


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mixed_folder(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    make_clip(d / "good.mp4", n=8)
    make_clip(d / "sub" / "good2.mkv", n=5)
    (d / "text.mp4").write_text("this is not a video\n")
    (d / "zero.mp4").write_bytes(b"")
    full = make_clip(tmp_path / "full.mp4", n=60, width=128, height=96)
    data = full.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    # Matroska declares its duration up front: a cut copy still opens and decodes.
    full_mkv = make_clip(tmp_path / "full.mkv", n=45)
    data = full_mkv.read_bytes()
    (d / "truncated.mkv").write_bytes(data[: len(data) // 3])
    (d / "notes.txt").write_text("not media")
    return d


def run_batch(runner, folder, out):
    jobs, results = collect_jobs([folder], out)
    for job in jobs:
        results.append(runner.run(job.src, job.dst))
    return {r.input.split("/")[-1]: r for r in results}


def test_mixed_folder(tmp_path, mixed_folder, fake_runner):
    before = {p: digest(p) for p in mixed_folder.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    results = run_batch(fake_runner(), mixed_folder, out)
    assert results["good.mp4"].status == "ok"
    assert results["good2.mkv"].status == "ok"
    assert (out / "sub" / "good2.mkv").is_file()  # layout mirrors the input folder
    for bad in ("text.mp4", "zero.mp4", "truncated.mp4", "truncated.mkv"):
        r = results[bad]
        assert r.status == "failed" and r.error and "\n" not in r.error
        assert not (out / bad).exists() and not (out / (bad + ".audit.json")).exists()
    assert "empty" in results["zero.mp4"].error
    assert "truncated" in results["truncated.mp4"].error
    assert "truncated" in results["truncated.mkv"].error
    assert results["notes.txt"].status == "skipped"
    assert {p: digest(p) for p in mixed_folder.rglob("*") if p.is_file()} == before
    leftovers = [p.name for p in out.rglob("*") if "redact-tmp" in p.name]
    assert leftovers == []


def test_detector_failure_fails_the_file_closed(tmp_path, fake_runner):
    src = make_clip(tmp_path / "a.mp4", n=10)
    result = fake_runner(fail_at=5).run(src, tmp_path / "out" / "a.mp4")
    assert result.status == "failed" and "detector" in result.error
    assert not (tmp_path / "out" / "a.mp4").exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_no_video_stream(tmp_path, fake_runner):
    from tests.test_corpus import audio_only

    path = audio_only(tmp_path / "audio_only.mp4")
    result = fake_runner().run(path, tmp_path / "out" / "audio_only.mp4")
    assert result.status == "failed" and "no video stream" in result.error


def test_output_never_overwrites_input(tmp_path, fake_runner):
    src = make_clip(tmp_path / "a.mp4", n=3)
    before = digest(src)
    result = fake_runner().run(src, src)
    assert result.status == "failed" and "overwrite" in result.error
    assert digest(src) == before


def test_corrupt_image(tmp_path, fake_runner):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8garbage")
    result = fake_runner().run(bad, tmp_path / "out" / "x.jpg")
    assert result.status == "failed" and "image" in result.error


def test_existing_output_replaced_only_on_success(tmp_path, fake_runner):
    src = make_clip(tmp_path / "a.mp4", n=6)
    dst = tmp_path / "out" / "a.mp4"
    dst.parent.mkdir()
    shutil.copy(src, dst)
    old = digest(dst)
    assert fake_runner(fail_at=2).run(src, dst).status == "failed"
    assert digest(dst) == old  # a failed rerun leaves the previous good output alone


def test_colliding_outputs_fail_instead_of_overwriting(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    make_clip(a / "same.mp4", n=2)
    make_clip(b / "same.mp4", n=3)
    jobs, early = collect_jobs([a, b], tmp_path / "out")
    assert len(jobs) == 1
    assert early[0].status == "failed" and "separate output folders" in early[0].error
