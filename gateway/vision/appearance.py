"""A cheap appearance cue for the tracker: colour histograms of a box's upper and lower half.

What DeepSORT and BoT-SORT get from a re-identification network, cut down to what a Pi can
afford on every detection: the box's central strip (its sides are mostly background), split
into an upper half (shirt) and a lower half (trousers), each described by a hue-saturation
histogram and a value histogram in HSV. A few dozen floats per box and two `cv2.calcHist`
calls per half, some tens of microseconds. Two descriptors are compared by the
Bhattacharyya coefficient of each histogram, averaged: 1 for the same colours, 0 for
disjoint ones; `distance` is 1 minus that.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from gateway.inference.geometry import Box

__all__ = ["APPEARANCE_SIZE", "Descriptor", "describe", "distance"]

Image = npt.NDArray[np.uint8]
Descriptor = npt.NDArray[np.float32]
"""One box's appearance: each histogram normalised to sum 1, concatenated."""

_HUE_BINS = 8
_SAT_BINS = 4
_VAL_BINS = 8
_PART = _HUE_BINS * _SAT_BINS + _VAL_BINS
_PARTS = 2  # upper and lower half
APPEARANCE_SIZE = _PARTS * _PART
"""Floats in one descriptor."""
_HISTOGRAMS = 2 * _PARTS  # hue-saturation and value, per half
_SIDE = 0.2
"""Fraction of the width left out on each side (background beside the body)."""
_TOP = 0.1
"""Fraction of the height left out at the top (the head: hair and face vary with the view)."""
_BOTTOM = 0.05
"""Fraction of the height left out at the bottom (the floor between the feet)."""
_MIN_PIXELS = 4
"""A half smaller than this many pixels on a side is not described."""


def describe(image: Image, box: Box) -> Descriptor | None:
    """Return the appearance of `box` in `image` (BGR), or None when it is too small to tell."""
    height, width = image.shape[:2]
    x1 = round(max(box.x1 + _SIDE * box.width, 0.0))
    x2 = round(min(box.x2 - _SIDE * box.width, float(width)))
    y1 = round(max(box.y1 + _TOP * box.height, 0.0))
    y2 = round(min(box.y2 - _BOTTOM * box.height, float(height)))
    mid = (y1 + y2) // 2
    if x2 - x1 < _MIN_PIXELS or mid - y1 < _MIN_PIXELS or y2 - mid < _MIN_PIXELS:
        return None
    hsv = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2HSV)
    parts = [hsv[: mid - y1], hsv[mid - y1 :]]
    out = np.empty(APPEARANCE_SIZE, np.float32)
    for k, part in enumerate(parts):
        hs = cv2.calcHist([part], [0, 1], None, [_HUE_BINS, _SAT_BINS], [0, 180, 0, 256])
        val = cv2.calcHist([part], [2], None, [_VAL_BINS], [0, 256])
        start = k * _PART
        out[start : start + _HUE_BINS * _SAT_BINS] = hs.ravel() / max(float(hs.sum()), 1.0)
        out[start + _HUE_BINS * _SAT_BINS : start + _PART] = val.ravel() / max(
            float(val.sum()), 1.0
        )
    return out


def distance(a: Descriptor, b: Descriptor) -> float:
    """Return 1 minus the mean Bhattacharyya coefficient of the histograms (0 = alike)."""
    return 1.0 - float(np.sqrt(a * b).sum()) / _HISTOGRAMS
