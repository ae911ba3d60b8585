"""Tracker behaviour on scripted detections (times in seconds, VFR-safe)."""

from __future__ import annotations

import pytest

from redact.detect.detections import CANDIDATE, Detections
from redact.track.slots import Slot
from redact.track.tracker import CONTINUED, TrackingStage


def dets(*boxes):
    return Detections.from_lists(list(boxes), [0.9] * len(boxes), ["face"] * len(boxes))


def run(times, script, **kw):
    """script: frame index -> list of boxes, or None for 'detection skipped'."""
    params = {"coast_s": 0.2, "gap_fill_s": 0.5, "pad_before_s": 0.1, "pad_after_s": 0.1}
    params.update(kw)
    stage = TrackingStage(**params)
    released = []
    for i, t in enumerate(times):
        d = script.get(i, [])
        released += stage.push(Slot(i, t, None if d is None else dets(*d)))
    released += stage.flush()
    assert [s.index for s in released] == list(range(len(times)))  # order kept, none lost
    return {s.index: s.final_regions() for s in released}, stage


def sources(regions):
    return sorted(set(regions.source))


BOX = [100, 100, 140, 140]


def test_new_object_redacted_from_first_detection():
    regions, _ = run([0.0, 0.04, 0.08], {1: [BOX], 2: [BOX]}, pad_before_s=0.0)
    assert "detected" in sources(regions[1])


def test_gap_is_filled_by_interpolation():
    times = [i * 0.04 for i in range(12)]
    hidden = (4, 5, 6, 7, 8)
    moving = {i: [[100 + 4 * i, 100, 140 + 4 * i, 140]] for i in range(12) if i not in hidden}
    regions, _ = run(times, moving, coast_s=0.0, pad_after_s=0.0)
    for i in (4, 5, 6, 7, 8):
        assert "interpolated" in sources(regions[i]), i
        box = regions[i][regions[i].source == "interpolated"].xyxy[0]
        # centred where the straight motion puts it, grown a little, never shifted
        assert abs((box[0] + box[2]) / 2 - (120 + 4 * i)) < 1e-3
        assert box[0] <= 100 + 4 * i and box[2] >= 140 + 4 * i
        assert box[2] - box[0] < 40 * 1.5


def test_padding_before_first_and_after_last_detection():
    times = [i * 0.04 for i in range(15)]
    regions, _ = run(times, {i: [BOX] for i in range(5, 8)}, coast_s=0.0)
    assert len(regions[3]) and "padded" in sources(regions[3])  # 0.08 s before
    assert not len(regions[1])  # 0.16 s before: beyond pad_before_s
    assert "padded" in sources(regions[9])
    assert not len(regions[12])


def test_coasting_ends():
    times = [i * 0.05 for i in range(20)]
    regions, stage = run(times, {0: [BOX], 1: [BOX]}, pad_after_s=0.0, gap_fill_s=0.2)
    assert "tracked" in sources(regions[4])  # 0.15 s after the last detection
    assert not len(regions[8])  # 0.35 s: coasting (0.2 s) is over
    assert stage.tracks[0].ended


def test_skipped_frames_follow_motion():
    times = [i * 0.04 for i in range(7)]
    script = {0: [[0, 0, 20, 20]], 1: None, 2: [[8, 0, 28, 20]], 3: None, 4: None}
    regions, _ = run(times, script)
    r3 = regions[3][regions[3].source == "tracked"].xyxy[0]
    assert (r3[0] + r3[2]) / 2 > 18  # centre predicted forward, not frozen at the last box
    assert r3[0] <= 12 and r3[2] >= 30  # and the box grew with uncertainty


def test_vfr_uses_seconds_not_frames():
    # frames bunched then a long pause: coasting is bounded by time, not by frame count
    times = [0.0, 0.01, 0.02, 0.03, 1.5]
    regions, _ = run(times, {0: [BOX]}, coast_s=0.1, pad_after_s=0.0, gap_fill_s=0.1)
    assert "tracked" in sources(regions[3])
    assert not len(regions[4])


def test_buffer_is_bounded():
    stage = TrackingStage(coast_s=0.2, gap_fill_s=0.5, pad_before_s=0.1, pad_after_s=0.1)
    peak = 0
    for i in range(3000):
        stage.push(Slot(i, i / 30, dets(BOX) if i % 7 else dets()))
        peak = max(peak, len(stage.buffer))
    assert peak <= 0.5 * 30 + 2


def test_tracking_never_removes_detections():
    times = [i * 0.04 for i in range(5)]
    script = {i: [BOX, [300, 300, 310, 310]] for i in range(5)}
    regions, _ = run(times, script)
    for i in range(5):
        assert (regions[i].source == "detected").sum() == 2


def test_padding_before_first_detection_follows_the_motion():
    """A fast object first found at frame 5: once its second detection gives the motion,
    the frames before frame 5 are padded where it was, not only around frame 5's box."""
    times = [i * 0.04 for i in range(10)]
    moving = {i: [[100 + 30 * i, 100, 140 + 30 * i, 140]] for i in (5, 6, 7, 8, 9)}
    regions, _ = run(times, moving, pad_before_s=0.13, coast_s=0.0)
    for i in (2, 3, 4):  # 30 px a frame: by frame 2 the object is 90 px left of frame 5's box
        x1 = 100 + 30 * i
        padded = regions[i][regions[i].source == "padded"].xyxy
        assert any(b[0] <= x1 and b[2] >= x1 + 40 for b in padded), (i, padded.tolist())
    assert not len(regions[1])  # beyond pad_before_s


def push_all(stage, times, script, candidates):
    released = []
    for i, t in enumerate(times):
        d = script.get(i, [])
        low = candidates.get(i, [])
        slot = Slot(i, t, None if d is None else dets(*d),
                    candidates=Detections.from_lists(low, [0.08] * len(low),
                                                     ["face"] * len(low), source=CANDIDATE))
        released += stage.push(slot)
    released += stage.flush()
    return {s.index: s.final_regions() for s in released}


def test_a_candidate_under_the_threshold_continues_a_track_but_never_starts_one():
    times = [i * 0.08 for i in range(8)]
    stage = TrackingStage(coast_s=0.0, gap_fill_s=0.0, pad_before_s=0.0, pad_after_s=0.0)
    moving = {i: [[100 + 10 * i, 100, 130 + 10 * i, 120]] for i in range(8)}
    script = {0: moving[0], 1: moving[1]}  # found twice, then only as weak candidates
    regions = push_all(stage, times, script, {
        i: moving[i] + [[400, 400, 430, 420]] for i in range(2, 8)})  # + a lone candidate
    for i in range(2, 8):
        cont = regions[i][regions[i].source == CONTINUED]
        assert cont.xyxy.tolist() == [moving[i][0]], i  # the track's own box, painted
        assert cont.track_id.tolist() == [stage.tracks[0].id]
        # the lone candidate continues nothing and is never painted
        assert not any(b[0] >= 390 for b in regions[i].xyxy), regions[i].xyxy.tolist()
    assert len(stage.tracks) == 1


def test_a_small_fast_object_seen_once_is_followed_with_its_whole_motion():
    """A 27 px plate driving at the camera moves two box widths between two detected frames
    (0.32 s apart): the second detection joins the first one's track, and the track then
    predicts where it goes at full speed, so the next frame's weak candidate continues it."""
    times = [i * 0.08 for i in range(9)]
    stage = TrackingStage(coast_s=0.5, gap_fill_s=1.0, pad_before_s=0.0, pad_after_s=0.0)
    box = {i: [179, 117 + 14.5 * i, 206, 131 + 14.5 * i] for i in range(9)}
    script = {i: None for i in range(9)} | {0: [box[0]], 4: [box[4]], 8: []}
    regions = push_all(stage, times, script, {8: [box[8]]})
    assert len(stage.tracks) == 1  # not a second track at frame 4
    assert regions[8][regions[8].source == CONTINUED].xyxy.tolist() == [box[8]]
    assert stage.tracks[0].velocity[1] == pytest.approx(14.5 / 0.08, rel=1e-3)


def test_a_plate_crossing_a_car_park_between_detected_frames_stays_covered():
    """intel_car-detection.mp4: at 30 fps with every 4th frame detected, a 26 px plate moved
    82-87 px (over 3 of its widths) between detected frames. Seen once, its track must still
    take the next detection, so the frames between are interpolated along the motion: as
    separate tracks each kept its own place, and the plate leaked half-way between them."""
    times = [i / 30 for i in range(9)]
    box = {i: [225 - 3 * i, 67 + 21 * i, 251 - 3 * i, 77 + 21 * i] for i in range(9)}
    script = {i: None for i in range(9)} | {0: [box[0]], 4: [box[4]], 8: [box[8]]}
    regions, stage = run(times, script, coast_s=0.5, gap_fill_s=1.0, pad_before_s=0.0,
                         pad_after_s=0.0)
    assert len(stage.tracks) == 1
    for i in (2, 6):  # half-way: the plate inside one painted box
        x1, y1, x2, y2 = box[i]
        assert any(b[0] <= x1 and b[1] <= y1 and b[2] >= x2 and b[3] >= y2
                   for b in regions[i].xyxy.tolist()), (i, regions[i].xyxy.tolist())


def _scored(script, times, confirm=0.5, **kw):
    """script: frame -> list of (box, score); every frame detected."""
    params = {"coast_s": 0.2, "gap_fill_s": 0.5, "pad_before_s": 0.1, "pad_after_s": 0.1,
              "confirm": {"face": confirm}}
    params.update(kw)
    stage = TrackingStage(**params)
    released = []
    for i, t in enumerate(times):
        found = script.get(i, [])
        d = Detections.from_lists([b for b, _ in found], [s for _, s in found],
                                  ["face"] * len(found))
        # Regions are read when a slot is released, as analysis does (plan/analyse.py).
        released += [(s.index, s.final_regions()) for s in stage.push(Slot(i, t, d,
                                                                           size=(640, 480)))]
    released += [(s.index, s.final_regions()) for s in stage.flush()]
    return dict(released), stage


def test_padding_before_follows_only_a_motion_between_confident_boxes():
    """A weak second box far away may be another thing: the frames before the first
    detection keep the box grown in place, not one moved back along that jump."""
    times = [i * 0.04 for i in range(10)]
    script = {5: [([250, 100, 290, 140], 0.9)], 6: [([280, 100, 320, 140], 0.15)]}
    regions, _ = _scored(script, times, confirm=0.0, coast_s=0.0, pad_before_s=0.13)
    for i in (2, 3, 4):
        padded = regions[i][regions[i].source == "padded"].xyxy
        assert len(padded) and all(b[0] > 200 for b in padded), (i, padded.tolist())


def test_a_low_score_face_seen_once_is_not_painted():
    times = [i * 0.04 for i in range(30)]
    regions, stage = _scored({10: [(BOX, 0.15)]}, times)
    assert all(len(r) == 0 for r in regions.values())
    assert not any(t.confirmed for t in stage.tracks)


def test_a_real_face_seen_in_one_frame_only_is_painted():
    times = [i * 0.04 for i in range(30)]
    regions, _ = _scored({10: [(BOX, 0.8)]}, times)
    assert "detected" in sources(regions[10])


def test_a_low_score_face_seen_three_times_is_painted_from_its_first_frame():
    times = [i * 0.04 for i in range(30)]
    twice = {10: [(BOX, 0.15)], 14: [(BOX, 0.2)]}
    regions, stage = _scored(twice, times)
    assert not stage.tracks[0].confirmed and all(len(r) == 0 for r in regions.values())
    regions, stage = _scored({**twice, 18: [(BOX, 0.15)]}, times)
    assert stage.tracks[0].confirmed
    for i in range(10, 19):  # the first sighting and the frames between, filled back
        assert len(regions[i]), i
    assert "padded" in sources(regions[9])  # padded before its first detection, too


def test_a_low_score_face_another_model_also_saw_is_painted():
    times = [i * 0.04 for i in range(30)]
    stage = TrackingStage(coast_s=0.2, gap_fill_s=0.5, pad_before_s=0.1, pad_after_s=0.1,
                          confirm={"face": 0.5})
    seen = Detections.from_lists([BOX], [0.15], ["face"])
    other = Detections.from_lists([[102, 98, 142, 141]], [0.3], ["face"], source=CANDIDATE)
    released = []
    for i, t in enumerate(times):
        found = (seen, other) if i == 10 else (Detections.empty(), Detections.empty())
        released += stage.push(Slot(i, t, found[0], candidates=found[1]))
    released += stage.flush()
    regions = {s.index: s.final_regions() for s in released}
    assert "detected" in sources(regions[10])


def test_confirm_zero_paints_every_detection():
    times = [i * 0.04 for i in range(30)]
    regions, _ = _scored({10: [(BOX, 0.15)]}, times, confirm=0.0)
    assert "detected" in sources(regions[10])


def test_a_refound_track_gets_its_motion_not_padding_between():
    times = [i * 0.1 for i in range(12)]
    script = {0: [([0, 100, 40, 140], 0.9)], 4: [([120, 100, 160, 140], 0.9)]}
    regions, _ = _scored(script, times, coast_s=0.5, gap_fill_s=1.0, pad_after_s=0.5)
    for i in (1, 2, 3):
        r = regions[i]
        assert set(r.source) == {"interpolated"}, (i, r.source)
        box = r.xyxy[0]
        centre = 20 + 30 * i
        assert box[0] < centre - 20 and box[2] > centre + 20  # covers where it is
        assert box[2] - box[0] < 120  # not the span of both positions (160 px)


def test_a_still_object_between_two_detections_gets_its_box_not_a_larger_one():
    # Both ends are detections; between them only motion may grow the box (the margin is
    # the render's, on every frame alike). A 5% growth here once made every frame between
    # two detections paint more than the detected frames around it.
    times = [i * 0.1 for i in range(12)]
    script = {0: [([100, 100, 140, 150], 0.9)], 4: [([100, 100, 140, 150], 0.9)]}
    regions, _ = _scored(script, times, coast_s=0.5, gap_fill_s=1.0, pad_after_s=0.5)
    for i in (1, 2, 3):
        assert set(regions[i].source) == {"interpolated"}, (i, regions[i].source)
        assert regions[i].xyxy.tolist() == [[100, 100, 140, 150]], i


def test_a_track_leaving_the_frame_is_covered_until_it_has_left():
    # a face moving left at 100 px/s, cut by the left edge from frame 0; detections stop at
    # frame 10 (x2 = 40) while 0.4 s more pass before it has left (x2 = 0 at frame 20)
    times = [i * 0.04 for i in range(40)]
    script = {i: [([max(0.0, 40 - 4 * i), 100, 80 - 4 * i, 140], 0.9)] for i in range(11)}
    regions, _ = _scored(script, times, coast_s=0.1, pad_after_s=0.0, edge_coast_s=1.5)
    for i in range(11, 19):
        boxes = regions[i].xyxy
        assert len(boxes) and (boxes[:, 2] >= 80 - 4 * i).any(), i
    assert all(len(regions[i]) == 0 for i in range(22, 40))  # and then nothing lingers
    regions, _ = _scored(script, times, coast_s=0.1, pad_after_s=0.0, edge_coast_s=0.0)
    assert len(regions[15]) == 0  # what the edge rule adds


def test_a_track_at_the_edge_moving_inward_coasts_no_longer_than_any_other():
    # a box cut by the bottom edge (frame 640x480) whose top rises 10 px a frame, as a
    # "person" on a car bonnet did: it touches the edge but is not leaving through it, so it
    # stops where any track stops (coast_s), not after edge_coast_s on its growth
    times = [i * 0.04 for i in range(40)]
    script = {i: [([200, 400 - 10 * i, 440, 480], 0.9)] for i in range(6)}
    regions, _ = _scored(script, times, coast_s=0.1, pad_after_s=0.0, edge_coast_s=1.5)
    assert len(regions[7]) and all(len(regions[i]) == 0 for i in range(9, 40))
    # the same box leaving through the bottom edge (moving down, cut) is still followed out
    script = {i: [([200, 300 + 10 * i, 440, 480], 0.9)] for i in range(6)}
    regions, _ = _scored(script, times, coast_s=0.1, pad_after_s=0.0, edge_coast_s=1.5)
    assert all(len(regions[i]) for i in range(6, 18))  # its top reaches the edge at 18


def test_the_filter_of_unconfirmed_tracks_stays_small_on_long_footage():
    # a false face somewhere new every second for ten minutes at 10 fps: none painted, and
    # the ids the filter holds do not pile up
    times = [i * 0.1 for i in range(6000)]
    script = {i: [([10 + (i // 10) % 50 * 12, 100, 30 + (i // 10) % 50 * 12, 120], 0.15)]
              for i in range(0, 6000, 10)}
    regions, stage = _scored(script, times)
    assert all(len(r) == 0 for r in regions.values())
    assert len(stage.tracks) == 600 and len(stage.tentative) < 10


def test_a_tentative_face_found_again_with_a_high_score_is_painted():
    # first seen at 0.15, then at 0.9 once, then gone: the 0.9 detection confirms it
    times = [i * 0.04 for i in range(30)]
    regions, stage = _scored({10: [(BOX, 0.15)], 14: [(BOX, 0.9)]}, times)
    assert stage.tracks[0].confirmed
    for i in range(10, 15):
        assert len(regions[i]), i


def test_a_nearby_box_of_another_size_is_another_object():
    """Near the track but not overlapping it and seven times smaller: a new object, not the
    track moved (a 146 px hand at a wide-angle frame's edge was continued by a 20 px box
    0.9 s later, and the box interpolated between them painted up to 1.4% of each frame)."""
    times = [i * 0.1 for i in range(6)]
    big, small = [100, 100, 240, 240], [260, 250, 280, 270]
    regions, stage = run(times, {0: [big], 5: [small]}, coast_s=0.1, pad_after_s=0.1,
                         gap_fill_s=1.0)
    assert len(stage.tracks) == 2
    assert not len(regions[3])  # no box swept between the two places
    # about the same size, as near: still the same object, found again and filled between
    regions, stage = run(times, {0: [big], 5: [[260, 250, 380, 370]]}, coast_s=0.1,
                         pad_after_s=0.1, gap_fill_s=1.0)
    assert len(stage.tracks) == 1 and "interpolated" in sources(regions[3])


def test_the_stride_cover_spans_only_boxes_that_could_be_one_object():
    """Across a detection stride, two boxes of different tracks are spanned (one object the
    tracker did not link) only when they overlap or are about one size: a 119 px box and a
    27 px one 300 px above it are two things, each carried where it was seen."""
    from redact.track.stride import carried

    big = Detections.from_lists([[1034, 853, 1153, 920]], [0.65], ["face"])
    small = Detections.from_lists([[993, 527, 1017, 557]], [0.11], ["face"])
    tall = max(float(b[3] - b[1]) for b in carried(big, small, 0.5).xyxy)
    assert tall < 120  # no box reaches from one to the other (the span would be ~400 px)
    near = Detections.from_lists([[1000, 700, 1100, 780]], [0.5], ["face"])  # alike, apart
    assert max(float(b[3] - b[1]) for b in carried(big, near, 0.5).xyxy) > 200  # spanned
