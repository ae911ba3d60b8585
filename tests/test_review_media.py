"""The review page numbers and times frames exactly as the decoder that made the plan."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from redact.io.decode import iter_frames, open_input
from redact.review.media import Media

TB = Fraction(1, 1000)


def repeated_pts_clip(path: Path) -> Path:
    """An intra-only Matroska clip whose fourth frame repeats the third one's timestamp (as
    some cameras write after a dropped frame); Matroska accepts equal timestamps."""
    pts = [0, 40, 80, 80, 160, 200, 240]
    with av.open(str(path), "w", format="matroska") as out:
        vs = out.add_stream("mjpeg", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p"
        vs.time_base = TB
        vs.codec_context.time_base = TB
        for i in range(len(pts)):
            image = np.full((48, 64, 3), 20 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuvj420p")
            frame.pts, frame.time_base = i * 40, TB
            for packet in vs.encode(frame):
                packet.pts = packet.dts = pts[i]
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def test_review_frames_are_the_decoders_frames(tmp_path):
    clip = repeated_pts_clip(tmp_path / "c.mkv")
    container = open_input(clip)
    try:
        decoded = [(f.index, f.pts, f.time, f.rotation)
                   for f in iter_frames(container, lambda _packet: None)]
    finally:
        container.close()
    assert [pts for _, pts, _, _ in decoded] == [0, 40, 80, 81, 160, 200, 240]
    info = Media(tmp_path / "cache").info(clip)
    assert info["times"] == [t for _, _, t, _ in decoded]
    assert [(f["index"], f["pts"], f["time"], f["rotation"]) for f in info["frames"]] == decoded


def test_preview_keeps_every_decoded_frame_at_its_time(tmp_path):
    clip = repeated_pts_clip(tmp_path / "c.mkv")
    media = Media(tmp_path / "cache")
    preview = media.playable(clip)
    assert preview != clip and not media.info(clip)["playable"]
    with av.open(str(preview)) as c:
        times = [float(f.pts * f.time_base) for f in c.decode(video=0)]
    assert times == media.info(clip)["times"]
