"""Fixtures for the camera pipeline tests: JPEG frames of vtest.avi and small images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.cameras import encode_jpeg
from gateway.inference import catalog
from lab.footage import FootageError, fetch_vtest

VWW = "visual_wake_words"


@pytest.fixture(scope="session")
def vww_path() -> Path:
    """Return the visual wake words model, fetched once into the edgegw cache."""
    return catalog.fetch([VWW])[VWW]


@pytest.fixture(scope="session")
def vtest_jpegs() -> list[bytes]:
    """Return vtest.avi's first 80 frames as JPEG (quality 80), as a camera sends them."""
    try:
        path = fetch_vtest()
    except FootageError as exc:
        pytest.skip(f"vtest.avi unavailable: {exc}")
    cap = cv2.VideoCapture(str(path))
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
