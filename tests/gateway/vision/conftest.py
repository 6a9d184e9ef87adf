"""Fixtures for the motion and tracker tests: frames of vtest.avi (`vtest_path`: tests/conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from cv2.typing import MatLike

Frame = MatLike


def read_frames(path: Path, count: int) -> Iterator[Frame]:
    """Yield the first `count` frames of `path` (BGR), decoding lazily."""
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(count):
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


@pytest.fixture(scope="session")
def first_frame(vtest_path: Path) -> Frame:
    """Return vtest's first frame (768x576 BGR)."""
    return next(read_frames(vtest_path, 1))
