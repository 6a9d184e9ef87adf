"""Frame decoding, the newest-frame worker, the analyzer and the camera config (no broker)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from devices.cameras import EncodedFrame, Frame, FrameIssue, FrameProblem, decode_frame
from gateway.config.vision import CameraConfig, EscalationConfig, ModelConfig
from gateway.stats_registry import Stats
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome, TrackReport
from gateway.vision.camera import CameraWorker
from gateway.vision.camera_stats import CameraStats
from gateway.vision.cascade import Band, Decision
from gateway.vision.motion import MotionConfig
from gateway.vision.tracker import TrackerConfig
from tests.gateway.vision.camera.conftest import jpeg_of


def problem(payload: bytes, encoding: str = "jpeg") -> FrameProblem:
    result = decode_frame(EncodedFrame(payload, 0.0, encoding))  # type: ignore[arg-type]
    assert isinstance(result, FrameIssue), result
    return result.problem


def test_good_jpeg_and_base64_decode() -> None:
    jpeg = jpeg_of(64, 48)
    for payload, enc in ((jpeg, "jpeg"), (base64.b64encode(jpeg), "base64")):
        frame = decode_frame(EncodedFrame(payload, 1.0, enc))  # type: ignore[arg-type]
        assert isinstance(frame, Frame)
        assert frame.image.shape == (48, 64, 3)


def test_bad_payloads_say_why() -> None:
    jpeg = jpeg_of(64, 48)
    assert problem(b"") is FrameProblem.EMPTY
    assert problem(b"not a jpeg at all") is FrameProblem.NOT_JPEG
    assert problem(jpeg[: len(jpeg) // 2]) is FrameProblem.TRUNCATED
    garbage = jpeg[:2] + bytes(range(256)) * 4 + jpeg[-2:]
    assert problem(garbage) is FrameProblem.CORRUPT
    assert problem(b"%%% not base64 %%%", "base64") is FrameProblem.BASE64


def make_worker(
    outcomes: list[FrameOutcome], done: threading.Event, stats: CameraStats
) -> CameraWorker:
    def deliver(outcome: FrameOutcome) -> None:
        outcomes.append(outcome)
        done.set()

    camera = CameraConfig(id="w", source="mqtt:w", motion=MotionConfig(enabled=False))
    analyzer = FrameAnalyzer(camera)
    return CameraWorker(camera_id="w", analyzer=analyzer, stats=stats, deliver=deliver)


def test_only_the_newest_frame_waits_and_drops_are_counted() -> None:
    registry = Stats()
    stats = CameraStats(registry, "w")
    outcomes: list[FrameOutcome] = []
    done = threading.Event()
    worker = make_worker(outcomes, done, stats)
    for width in (32, 48, 64, 80, 96):  # queued before the thread starts: 4 are dropped
        worker.submit(EncodedFrame(jpeg_of(width, 32), 0.0))
    worker.start()
    assert done.wait(10)
    worker.stop()
    assert [o.width for o in outcomes] == [96]
    snapshot = registry.snapshot()  # what /metrics and the stats topic report
    assert snapshot["camera_frames_skipped_total"] == {"w": 4.0}
    assert snapshot["camera_frames_in_total"] == {"w": 5.0}


def test_a_started_worker_keeps_opencv_to_one_thread() -> None:
    """The camera's thread is its parallelism: OpenCV's pool would only add CPU per frame."""
    cv2.setNumThreads(4)
    outcomes: list[FrameOutcome] = []
    worker = make_worker(outcomes, threading.Event(), CameraStats(Stats(), "w"))
    worker.start()
    try:
        assert cv2.getNumThreads() == 1
    finally:
        worker.stop()


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # a worker-thread counter has no event to wait on
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def corrupt_count(stats: Stats, reason: str) -> float:
    value = stats.snapshot().get("camera_frames_corrupt_total", {})
    assert isinstance(value, dict)
    return value.get(f"w,{reason}", 0.0)


def test_bad_frames_and_a_size_change_do_not_stop_the_worker() -> None:
    registry = Stats()
    stats = CameraStats(registry, "w")
    outcomes: list[FrameOutcome] = []
    done = threading.Event()
    worker = make_worker(outcomes, done, stats)
    worker.start()
    good = jpeg_of(64, 48)
    bad = {"empty": b"", "truncated": good[:100], "corrupt": b"\xff\xd8junk" * 9 + b"\xff\xd9"}
    try:
        for reason, payload in bad.items():
            worker.submit(EncodedFrame(payload, 0.0))
            wait_until(partial(lambda r: corrupt_count(registry, r) == 1, reason))
            done.clear()
            worker.submit(EncodedFrame(good, 0.0))  # the camera goes on
            assert done.wait(10)
        done.clear()
        worker.submit(EncodedFrame(jpeg_of(32, 24), 0.0))  # another size mid-stream
        assert done.wait(10)
    finally:
        worker.stop()
    assert [(o.width, o.height) for o in outcomes] == [(64, 48)] * 3 + [(32, 24)]


def test_analyzer_motion_only_tracks_a_moving_square_and_ends_it_on_flush() -> None:
    camera = CameraConfig(id="w", source="mqtt:w", tracker=TrackerConfig(min_hits=2))
    analyzer = FrameAnalyzer(camera)
    started: list[TrackReport] = []
    for i in range(12):
        image = np.zeros((240, 320, 3), np.uint8)
        x = 20 + 8 * i
        if i >= 3:
            image[100:160, x : x + 40] = 255
        out = analyzer.process(image, i / 10)
        started += out.started
    assert started, "a moving square gives a motion track"
    assert started[0].track.label == "motion"
    assert started[0].snapshot is not None
    assert started[0].snapshot[:2] == b"\xff\xd8"
    end = analyzer.flush(2.0)
    assert end.ended
    assert end.ended[0].crop is not None


def test_a_crop_carries_every_tracks_box_on_the_frame_it_shows() -> None:
    """`TrackReport.scene` is the tracks of the crop's own frame (a verdict is judged on
    it), not of the frame the report is sent on: an end crop shows an earlier frame."""
    camera = CameraConfig(id="w", source="mqtt:w", tracker=TrackerConfig(min_hits=2))
    analyzer = FrameAnalyzer(camera)
    tracks_on: dict[int, dict[int, tuple[float, ...]]] = {}
    reports: list[tuple[int, TrackReport]] = []
    for i in range(14):
        image = np.zeros((240, 320, 3), np.uint8)
        image[20:80, 20 + 8 * i : 60 + 8 * i] = 255  # A, from the start
        if i >= 7:
            image[150:210, 260 - 8 * (i - 7) : 300 - 8 * (i - 7)] = 255  # B comes in later
        out = analyzer.process(image, i / 10)
        tracks_on[i] = {t.id: t.box.to_int() for t in analyzer.tracker.tracks}
        reports += [(i, r) for r in (*out.started, *out.crops, *out.ended)]
    end = analyzer.flush(2.0)
    reports += [(14, r) for r in end.ended]
    cropped = [(sent, r) for sent, r in reports if r.crop is not None]
    assert len({r.track.id for _, r in cropped}) >= 2, "A and B both cropped"
    for _, r in cropped:
        assert r.scene is not None
        scene = {seen.id: seen.box.to_int() for seen in r.scene}
        assert scene == tracks_on[r.shot_index]
        assert r.shot_box is not None
        assert scene[r.track.id] == r.shot_box.to_int()
    # At least one crop shows an earlier frame than the one it is sent on, with other
    # tracks then than at its sending (A's end crop: B was not there yet).
    assert any(
        r.shot_index < min(sent, 13)
        and tracks_on[r.shot_index].keys() != tracks_on[min(sent, 13)].keys()
        for sent, r in cropped
    )


def test_escalation_band_is_ordered_and_decides() -> None:
    with pytest.raises(ValidationError, match="low < high"):
        EscalationConfig(low=0.9, high=0.5)
    band = Band(0.5, 0.99)
    assert band.decide(0.995) is Decision.SETTLED
    assert band.decide(0.7) is Decision.HARD_CASE
    assert band.decide(0.2) is Decision.DROPPED


def test_model_config_needs_name_or_path_with_decoder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ModelConfig(id="m")
    with pytest.raises(ValidationError, match="needs `decoder`"):
        ModelConfig(id="m", path=tmp_path / "x.tflite")
    with pytest.raises(ValidationError, match="unknown model"):
        ModelConfig(id="m", name="yolo_v99")
    with pytest.raises(ValidationError, match="needs a topic"):
        CameraConfig(id="c", source="mqtt:")
