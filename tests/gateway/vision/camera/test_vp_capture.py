"""OpenCV capture: a file plays to its end (or loops); a missing file is retried."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.cameras import CaptureEvent, CaptureStatus, Frame, OpenCVCapture, RetryPolicy
from devices.cameras.guard import ImageIssue, ImageLimits, ImageProblem

FAST = RetryPolicy(min_delay_s=0.02, max_delay_s=0.05, open_timeout_s=2, read_timeout_s=2)


def write_video(path: Path, frames: int = 6) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 200.0, (64, 48))
    for i in range(frames):
        out.write(np.full((48, 64, 3), i * 30, np.uint8))
    out.release()


def collect(source: str, *, loop: bool, until: int) -> tuple[list[Frame], list[CaptureStatus]]:
    frames: list[Frame] = []
    statuses: list[CaptureStatus] = []
    enough = threading.Event()

    def on_frame(frame: Frame) -> None:
        frames.append(frame)
        if len(frames) >= until:
            enough.set()

    def on_status(status: CaptureStatus) -> None:
        statuses.append(status)
        ends = status.event is CaptureEvent.ENDED
        if ends or sum(s.event is CaptureEvent.OPEN_FAILED for s in statuses) >= 3:
            enough.set()

    cap = OpenCVCapture(source, on_frame=on_frame, on_status=on_status, retry=FAST, loop=loop)
    cap.start()
    try:
        assert enough.wait(10)
    finally:
        cap.stop()
    return frames, statuses


def test_a_file_plays_to_its_end(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi")
    frames, statuses = collect(str(tmp_path / "clip.avi"), loop=False, until=10**6)
    assert len(frames) == 6
    assert frames[0].image.shape == (48, 64, 3)
    assert [s.event for s in statuses] == [CaptureEvent.OPENED, CaptureEvent.ENDED]


def test_a_looping_file_starts_again(tmp_path: Path) -> None:
    write_video(tmp_path / "clip.avi")
    frames, _ = collect(str(tmp_path / "clip.avi"), loop=True, until=15)
    assert len(frames) >= 15


def test_a_missing_file_is_retried_with_a_clear_reason(tmp_path: Path) -> None:
    frames, statuses = collect(str(tmp_path / "nope.avi"), loop=False, until=1)
    assert not frames
    assert len(statuses) >= 3
    assert all(s.event is CaptureEvent.OPEN_FAILED for s in statuses)
    assert "does not exist" in statuses[0].detail
    assert statuses[0].retry_in_s is not None


def test_a_source_over_max_pixels_is_refused_at_open_and_its_frames_never_delivered(
    tmp_path: Path,
) -> None:
    write_video(tmp_path / "clip.avi")
    statuses: list[CaptureStatus] = []
    frames: list[Frame] = []
    refused = threading.Event()

    def on_status(status: CaptureStatus) -> None:
        statuses.append(status)
        if status.event is CaptureEvent.OPEN_FAILED:
            refused.set()

    cap = OpenCVCapture(
        str(tmp_path / "clip.avi"),
        on_frame=frames.append,
        on_status=on_status,
        retry=FAST,
        limits=ImageLimits(max_pixels=64 * 48 - 1),
    )
    cap.start()
    try:
        assert refused.wait(10)
    finally:
        cap.stop()
    assert frames == []
    assert "frames of 64x48 is 3072 pixels, over max_pixels 3071" in statuses[0].detail


def test_frames_over_max_pixels_are_rejected_one_by_one_when_the_size_is_not_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some backends announce no frame size (0x0): then each frame is checked."""
    write_video(tmp_path / "clip.avi")
    real = cv2.VideoCapture
    monkeypatch.setattr(cv2, "VideoCapture", lambda *args: _NoSize(real(*args)))
    rejected: list[ImageIssue] = []
    ended = threading.Event()
    cap = OpenCVCapture(
        str(tmp_path / "clip.avi"),
        on_frame=lambda f: None,
        on_status=lambda s: ended.set() if s.event is CaptureEvent.ENDED else None,
        retry=FAST,
        limits=ImageLimits(max_pixels=100),
        on_reject=rejected.append,
    )
    cap.start()
    try:
        assert ended.wait(10)
    finally:
        cap.stop()
    assert [r.problem for r in rejected] == [ImageProblem.TOO_MANY_PIXELS] * 6


class _NoSize:
    """A capture that reports no frame size, like some network backends."""

    def __init__(self, cap: cv2.VideoCapture) -> None:
        self._cap = cap

    def isOpened(self) -> bool:  # noqa: N802  # OpenCV's name
        return bool(self._cap.isOpened())

    def get(self, prop: int) -> float:
        if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            return 0.0
        return float(self._cap.get(prop))

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, image = self._cap.read()
        return bool(ok), image

    def release(self) -> None:
        self._cap.release()
