"""Fixtures for the camera pipeline tests: JPEG frames of vtest.avi and small images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.cameras import encode_jpeg
from tests.support.assets import VWW

__all__ = ["VWW", "jpeg_of", "vtest_jpegs"]


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


def jpeg_of(width: int, height: int, value: int = 128) -> bytes:
    """Return a plain grey JPEG of the given size."""
    return encode_jpeg(np.full((height, width, 3), value, np.uint8), 80)


@pytest.fixture(autouse=True)
def _camera_models(model_paths: dict[str, Path]) -> dict[str, Path]:
    """Fetch the models every camera here may load (faces are blurred by default: BlazeFace
    full range; unknown objects: EfficientNet-Lite0), so no test relies on another's fetch."""
    return model_paths
