"""Decode/encode fidelity on clips the tests build themselves (scripted detector, no models)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from tests.conftest import make_clip, read_video


def run_one(fake_runner, src, out_dir, script=None, **overrides):
    result = fake_runner(script, **overrides).run(src, out_dir / src.name)
    assert result.status == "ok", result.error
    return result


def test_constant_rate_clip_keeps_frames_pts_and_size(tmp_path, fake_runner):
    src = make_clip(tmp_path / "cfr.mp4", n=12)
    run_one(fake_runner, src, tmp_path / "out")
    a, b = read_video(src), read_video(tmp_path / "out" / "cfr.mp4")
    assert b["size"] == a["size"]
    assert len(b["pts"]) == len(a["pts"]) == 12
    assert b["times"] == pytest.approx(a["times"], abs=1e-6)


def test_variable_frame_rate_timestamps_survive(tmp_path, fake_runner):
    pts = [0, 40, 50, 130, 140, 300, 310, 320, 600, 633]
    src = make_clip(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 1000))
    run_one(fake_runner, src, tmp_path / "out")
    out = read_video(tmp_path / "out" / "vfr.mp4")
    assert out["times"] == pytest.approx([p / 1000 for p in pts], abs=1e-6)


@pytest.mark.parametrize("size", [(63, 47), (33, 65), (64, 38)])
def test_odd_sizes_keep_exact_resolution(tmp_path, fake_runner, size):
    # (64, 38): even, but each chroma plane has an odd number of rows (19), like 480x270
    src = make_clip(tmp_path / "odd.mp4", width=size[0], height=size[1], n=5)
    result = run_one(fake_runner, src, tmp_path / "out", style="solid",
                     script={i: [[2, 2, 20, 20]] for i in range(5)})
    out = read_video(tmp_path / "out" / "odd.mp4")
    assert out["size"] == size and len(out["pts"]) == 5
    audit = json.loads(Path(result.audit).read_text())
    odd = size[0] % 2 or size[1] % 2
    assert any("4:4:4" in w for w in audit["warnings"]) == bool(odd)


def test_audio_is_copied_not_reencoded(tmp_path, fake_runner):
    import av

    src = make_clip(tmp_path / "a.mp4", n=20, audio=True)
    run_one(fake_runner, src, tmp_path / "out")

    def audio_packets(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]

    assert read_video(tmp_path / "out" / "a.mp4")["audio"] == read_video(src)["audio"]
    # Stream copy: the compressed audio payloads are byte-identical.
    assert audio_packets(tmp_path / "out" / "a.mp4") == audio_packets(src)


def test_rotation_metadata_is_kept(tmp_path, fake_runner):
    src = make_clip(tmp_path / "rot.mp4", n=4, rotation=90)
    assert read_video(src)["rotation"] == 90
    run_one(fake_runner, src, tmp_path / "out")
    assert read_video(tmp_path / "out" / "rot.mp4")["rotation"] == 90


def test_location_metadata_stripped_by_default_and_kept_on_request(tmp_path, fake_runner):
    tags = {"location": "+40.7128-074.0060/", "title": "unit 12"}
    src = make_clip(tmp_path / "gps.mov", n=3, metadata=tags)
    assert "location" in read_video(src)["metadata"]
    run_one(fake_runner, src, tmp_path / "strip")
    assert "location" not in read_video(tmp_path / "strip" / "gps.mov")["metadata"]
    run_one(fake_runner, src, tmp_path / "keep", keep_metadata=True)
    assert read_video(tmp_path / "keep" / "gps.mov")["metadata"].get("location") == tags["location"]


@pytest.mark.parametrize("suffix", [".mkv", ".mov", ".avi"])
def test_other_containers(tmp_path, fake_runner, suffix):
    src = make_clip(tmp_path / f"c{suffix}", n=6, pts=list(range(6)), time_base=Fraction(1, 25))
    run_one(fake_runner, src, tmp_path / "out")
    assert len(read_video(tmp_path / "out" / f"c{suffix}")["pts"]) == 6


def test_full_range_and_deep_pixel_formats(tmp_path, fake_runner):
    """Full-range 4:2:0 (common in body cameras) keeps its range and levels; a 10-bit input
    is encoded as 8-bit 4:2:0 and the audit says so."""
    import av
    import numpy as np

    full = make_clip(tmp_path / "full.mp4", n=6, pix_fmt="yuvj420p")
    deep = make_clip(tmp_path / "deep.mp4", n=6, pix_fmt="yuv420p10le")
    for src in (full, deep):
        run_one(fake_runner, src, tmp_path / "out")
    with av.open(str(full)) as a, av.open(str(tmp_path / "out" / "full.mp4")) as b:
        assert b.streams.video[0].codec_context.color_range == \
            a.streams.video[0].codec_context.color_range
    a, b = read_video(full), read_video(tmp_path / "out" / "full.mp4")
    diff = np.mean([np.abs(x.astype(int) - y).mean() for x, y in zip(a["images"], b["images"],
                                                                    strict=True)])
    assert diff < 2.0
    audit = json.loads((tmp_path / "out" / "full.mp4.audit.json").read_text())
    assert not audit["warnings"]
    audit = json.loads((tmp_path / "out" / "deep.mp4.audit.json").read_text())
    assert any("yuv420p10le" in w for w in audit["warnings"])
    assert len(read_video(tmp_path / "out" / "deep.mp4")["pts"]) == 6


def test_region_is_redacted_and_rest_untouched(tmp_path, fake_runner):
    import numpy as np

    src = make_clip(tmp_path / "r.mp4", width=96, height=64, n=3)
    runner = fake_runner({0: [[10, 10, 40, 40]], 1: [[10, 10, 40, 40]], 2: [[10, 10, 40, 40]]},
                         style="solid", margin=0.0, tracking=False,
                         accept_recall_loss=True)
    assert runner.run(src, tmp_path / "out" / "r.mp4").status == "ok"
    out = read_video(tmp_path / "out" / "r.mp4")["images"]
    orig = read_video(src)["images"]
    for o, i in zip(out, orig, strict=True):
        assert o[12:38, 12:38].max() < 30  # black box (codec noise allowed)
        diff = np.abs(o[:, 50:].astype(int) - i[:, 50:].astype(int)).mean()
        assert diff < 6  # outside the box: visually faithful


def test_buffer_stays_bounded_on_long_clips(tmp_path, fake_runner):
    """Frames held at once do not grow with clip length (look-back buffer)."""
    peaks = []
    for n in (60, 600):
        src = make_clip(tmp_path / f"long{n}.mp4", n=n, width=32, height=32,
                        pts=list(range(n)), time_base=Fraction(1, 30))
        script = {i: [[2, 2, 12, 12]] for i in range(0, n, 5)}
        result = fake_runner(script).run(src, tmp_path / "out" / src.name)
        assert result.status == "ok", result.error
        audit = json.loads(Path(result.audit).read_text())
        assert audit["frames"]["output"] == n
        peaks.append(audit["frames"]["max_buffered"])
    from redact.plan.analyse import DETECT_AHEAD

    # look-back (1 s at 30 fps) + frames waiting for their detection + the current one
    assert peaks[0] == peaks[1] <= 1.0 * 30 + DETECT_AHEAD + 2


def test_copy_atomic_leaves_whole_copy_or_nothing(tmp_path, monkeypatch):
    import shutil

    from redact.io.atomic import copy_atomic

    src = tmp_path / "weights.bin"
    src.write_bytes(b"x" * 5000)
    copy_atomic(src, tmp_path / "cache" / "weights.bin")
    assert (tmp_path / "cache" / "weights.bin").read_bytes() == src.read_bytes()

    def half_copy(a, b):
        Path(b).write_bytes(Path(a).read_bytes()[:100])
        raise OSError("interrupted")

    monkeypatch.setattr(shutil, "copyfile", half_copy)
    with pytest.raises(OSError, match="interrupted"):
        copy_atomic(src, tmp_path / "cache" / "other.bin")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["weights.bin"]


@pytest.mark.parametrize(("suffix", "out_suffix"), [(".mp4", ".mp4"), (".mov", ".mov"),
                                                    (".mkv", ".mkv"), (".mp4", ".webm")])
def test_identical_frames_encode_to_identical_bytes(tmp_path, suffix, out_suffix):
    """Same frames, settings and source: same output bytes, also when the clock's seconds tick
    between the runs (a resumed batch compares output hashes)."""
    import time

    from redact.io.decode import iter_frames, open_input
    from redact.io.encode import VideoWriter

    # WebM holds no AAC: that case's clip has no sound (VP9 video, the Matroska container).
    clip = make_clip(tmp_path / f"in{suffix}", width=64, height=48, n=17,
                     audio=out_suffix != ".webm",
                     metadata={"creation_time": "2024-05-01T10:00:00.000000Z"})

    def encode(out: Path, keep_metadata: bool) -> bytes:
        source = open_input(clip)
        writer = VideoWriter(out, out_suffix, source, crf=18, preset="medium",
                             keep_metadata=keep_metadata)
        for frame in iter_frames(source, writer.add_audio):
            writer.write(frame)
        writer.close()
        source.close()
        return out.read_bytes()

    for keep in (False, True):
        first = encode(tmp_path / f"a{keep}{out_suffix}", keep)
        for n in range(4):
            if n == 0:
                time.sleep(1.1)
            assert encode(tmp_path / f"b{keep}{n}{out_suffix}", keep) == first, (keep, n)
