"""The second look: the written output is decoded and searched again; what is found outside
the painted regions is recorded per frame, the file is flagged ``review`` and the batch exits 4."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from redact.audit.report import build_report
from redact.audit.second_look import second_look_config, uncovered
from redact.batch.jobs import BatchRunner
from redact.batch.results import BatchReport
from redact.batch.runner import FileRunner
from redact.config import Config, load_settings
from redact.detect.base import DetectorSet
from redact.detect.detections import Detections
from tests.test_fail_closed import BrightDetector, square_clip


class MissingDetector(BrightDetector):
    """Sees the square except on the frames listed (by call order)."""

    def __init__(self, miss: set[int]) -> None:
        super().__init__()
        self.miss, self.calls = miss, 0

    def detect(self, frames, scale: float = 1.0, *, still: bool = False):
        out = super().detect(frames, scale, still=still)
        out = [Detections.empty() if self.calls + i in self.miss else d
               for i, d in enumerate(out)]
        self.calls += len(frames)
        return out


def runner_with(first, second, **overrides) -> FileRunner:
    settings = load_settings(overrides={"verify_output": "all", "verify_every": 1,
                                        "style": "solid", **overrides}, override_source="api")
    runner = FileRunner(settings)
    runner.use_detectors(DetectorSet([first], [], "cpu"))
    runner._second[settings.config.digest()] = DetectorSet([second], [], "cpu")
    return runner


def test_missed_frames_are_flagged_for_review_with_their_times(tmp_path):
    src = square_clip(tmp_path / "a.mp4", 10, 1.0)
    runner = runner_with(MissingDetector({3, 4, 5}), BrightDetector(), tracking=False,
                         detect_every=1, accept_recall_loss=True)
    result = runner.run(src, tmp_path / "out" / "a.mp4")
    assert result.status == "ok" and result.verdict == "review"
    look = json.loads(Path(result.audit).read_text())["second_look"]
    assert look["verdict"] == "review" and look["frames_checked"] == 10
    assert sorted({f["frame"] for f in look["flagged"]}) == [3, 4, 5]
    assert look["review_times"] == [0.3, 0.4, 0.5]
    assert BatchReport([result]).exit_code == 4


def test_a_clean_output_is_clean_and_sampling_checks_every_nth_and_the_last(tmp_path):
    src = square_clip(tmp_path / "a.mp4", 10, 1.2)  # 12 frames
    runner = runner_with(BrightDetector(), BrightDetector(), verify_every=5)
    result = runner.run(src, tmp_path / "out" / "a.mp4")
    look = json.loads(Path(result.audit).read_text())["second_look"]
    assert result.verdict == "clean" and look["frames_checked"] == 4  # 0, 5, 10 and 11
    assert BatchReport([result]).exit_code == 0


def test_batch_exit_4_and_the_report_lists_frames_to_review(tmp_path):
    (tmp_path / "in").mkdir()
    square_clip(tmp_path / "in" / "a.mp4", 10, 1.0)
    runner = runner_with(MissingDetector({2}), BrightDetector(), tracking=False,
                         detect_every=1, accept_recall_loss=True)
    report = BatchRunner(runner.settings, tmp_path / "out", file_runner=runner).run(
        [tmp_path / "in"])
    assert report.exit_code == 4
    journal = (tmp_path / "out" / ".redact" / "journal.jsonl").read_text()
    assert '"verdict": "review"' in journal
    html_path, csv_path = build_report(tmp_path / "out")
    assert "REVIEW" in html_path.read_text() and ",review,2," in csv_path.read_text()


def test_stills_get_the_second_look_by_default(tmp_path):
    import cv2

    img = np.zeros((64, 96, 3), np.uint8)
    img[10:30, 20:40] = 255
    cv2.imwrite(str(tmp_path / "a.png"), img)
    settings = load_settings()
    assert settings.config.verify_output == "stills"
    runner = FileRunner(settings)
    runner.use_detectors(DetectorSet([MissingDetector({0})], [], "cpu"))
    runner._second[settings.config.digest()] = DetectorSet([BrightDetector()], [], "cpu")
    result = runner.run(tmp_path / "a.png", tmp_path / "out" / "a.png")
    assert result.status == "ok" and result.verdict == "review"


def test_second_look_is_another_look_and_more_sensitive_than_a_weakened_first_pass():
    first = Config()
    second = second_look_config(first)
    assert second.face.size != first.face.size and second.plate.size != first.plate.size
    assert second.face.threshold == second.plate.threshold == first.verify_threshold
    weak = Config(face_threshold=0.9, plate_threshold=0.9)
    assert second_look_config(weak).face.threshold < weak.face.threshold


def test_detection_mostly_inside_paint_is_covered():
    found = Detections.from_lists([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 60, 60],
                                   [70, 70, 80, 80]], [0.9] * 4, ["face"] * 4)
    painted = np.array([[0, 0, 12, 6], [35, 35, 45, 45], [70, 70, 80, 74]], np.float32)
    # 60% inside; outside; centre inside a small painted box; 40% inside, centre outside
    assert uncovered(found, painted, 100, 100).tolist() == [False, True, False, True]
