"""Frames of a clip by index, for tests that need a particular moment of vtest.avi."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["clip_frame", "clip_frames"]

Image = npt.NDArray[np.uint8]


def clip_frames(path: Path, first: int, count: int) -> list[Image]:
    """Return up to `count` frames of `path` from 0-based frame `first` (BGR)."""
    cap = cv2.VideoCapture(str(path))
    out: list[Image] = []
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        for _ in range(count):
            ok, frame = cap.read()
            if not ok:
                break
            out.append(np.asarray(frame, np.uint8))
    finally:
        cap.release()
    return out


def clip_frame(path: Path, index: int) -> Image:
    """Return 0-based frame `index` of `path` (BGR); AssertionError when there is none."""
    frames = clip_frames(path, index, 1)
    assert frames, f"{path} has no frame {index}"
    return frames[0]
