"""Fixtures for the camera pipeline tests: JPEG frames of vtest.avi and small images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.cameras import encode_jpeg
from gateway.vision.analyzer import FrameOutcome, TrackReport
from gateway.vision.tracker import Track
from tests.support.assets import VWW

__all__ = ["VWW", "frame_outcome", "jpeg_of", "vtest_jpegs"]


@pytest.fixture(scope="session")
def vtest_jpegs(vtest_path: Path) -> list[bytes]:
    """Return vtest.avi's first 80 frames as JPEG (quality 80), as a camera sends them."""
    cap = cv2.VideoCapture(str(vtest_path))
    out: list[bytes] = []
    try:
        while len(out) < 80:
            ok, frame = cap.read()
            if not ok:
                break
            out.append(encode_jpeg(frame, 80))
    finally:
        cap.release()
    return out


def frame_outcome(
    ts: float,
    *,
    width: int,
    height: int,
    started: tuple[TrackReport, ...] = (),
    updated: tuple[Track, ...] = (),
    ended: tuple[TrackReport, ...] = (),
    crops: tuple[TrackReport, ...] = (),
) -> FrameOutcome:
    """One analysed frame at `ts` (10 fps) with these track changes, as a publisher gets it."""
    return FrameOutcome(
        index=int(ts * 10),
        received_at=ts,
        width=width,
        height=height,
        motion_fraction=0.0,
        has_motion=True,
        detector_calls=1,
        inference_ms=1.0,
        detections=len(started) + len(updated),
        started=started,
        updated=updated,
        ended=ended,
        active=(),
        crops=crops,
    )


def jpeg_of(width: int, height: int, value: int = 128) -> bytes:
    """Return a plain grey JPEG of the given size."""
    return encode_jpeg(np.full((height, width, 3), value, np.uint8), 80)


@pytest.fixture(autouse=True)
def _camera_models(model_paths: dict[str, Path]) -> dict[str, Path]:
    """Fetch the models every camera here may load (faces are blurred by default: BlazeFace
    full range; unknown objects: EfficientNet-Lite0), so no test relies on another's fetch."""
    return model_paths
