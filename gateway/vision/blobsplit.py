"""Cut a wide blob (people walking side by side) into one column range per person.

Shared by motion gating (`MotionDetector`, on the change mask, when `split_wide` is on)
and the oracle (on DeepLabv3 person masks). The column profile (mask pixels per column)
of two people side by side has two peaks and a valley between them; a blob wider than
`aspect` times its height is cut at each valley deeper than `valley` times the lower of
the peaks on either side. People one behind the other stay one blob.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ColumnSpan", "split_columns", "split_mask_box"]

_MIN_PERSON_WIDTH = 0.2  # of the blob's height: a person is at least this wide


@dataclass(slots=True, frozen=True)
class ColumnSpan:
    """Columns `[x1, x2)` of one part of a blob's mask."""

    x1: int
    x2: int


def split_columns(mask: npt.NDArray[np.bool_], aspect: float, valley: float) -> list[ColumnSpan]:
    """Return the column spans of the people side by side in one blob's mask."""
    h, w = mask.shape
    if w <= aspect * h or w < 6:
        return [ColumnSpan(0, w)]
    profile = np.convolve(mask.sum(axis=0).astype(np.float32), np.ones(3) / 3, mode="same")
    min_width = max(3, int(_MIN_PERSON_WIDTH * h))
    cuts: list[int] = []
    start = 0
    for x in range(min_width, w - min_width):
        left = profile[start:x].max() if x > start else 0.0
        right = profile[x:].max()
        is_min = profile[x] <= profile[x - 1] and profile[x] <= profile[x + 1]
        if is_min and x - start >= min_width and profile[x] < valley * min(left, right):
            cuts.append(x)
            start = x
    return [ColumnSpan(a, b) for a, b in itertools.pairwise([0, *cuts, w])]


@dataclass(slots=True, frozen=True)
class MaskPart:
    """One part of a split blob: its tight box in mask pixels, `[x1, x2) x [y1, y2)`."""

    x1: int
    y1: int
    x2: int
    y2: int


def split_mask_box(mask: npt.NDArray[np.bool_], aspect: float, valley: float) -> list[MaskPart]:
    """Split the blob whose mask (cut to its bounding box) is `mask`; tight box per part."""
    parts: list[MaskPart] = []
    for span in split_columns(mask, aspect, valley):
        rows = np.flatnonzero(mask[:, span.x1 : span.x2].any(axis=1))
        if rows.size:
            parts.append(MaskPart(span.x1, int(rows[0]), span.x2, int(rows[-1]) + 1))
    return parts
