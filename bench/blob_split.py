"""EXPERIMENT, not the shipped pipeline: split wide motion blobs into one box per person.

The edge's classifier (visual wake words) reports each motion blob as one track, so a
group walking together is one event. This measures what a split of wide blobs at the
valleys of their column profile (the oracle's `split_columns`, applied to the change
mask) would gain, by overriding `MotionDetector._blobs` in a subclass swapped into a
`FrameAnalyzer`. It reaches into motion.py's private method on purpose: it is a
measurement for a proposed change to `gateway/vision/motion.py`, not a design.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gateway.vision.analyzer import FrameAnalyzer
from gateway.vision.geometry import Box
from gateway.vision.motion import MotionDetector
from gateway.vision.oracle import split_columns

if TYPE_CHECKING:
    from cv2.typing import MatLike

__all__ = ["SPLIT_ASPECT", "SPLIT_VALLEY", "SplittingMotionDetector", "use_splitting_motion"]

SPLIT_ASPECT = 0.6  # a blob wider than this times its height may hold several people
SPLIT_VALLEY = 0.6  # cut where the column profile falls below this of both peaks


class SplittingMotionDetector(MotionDetector):
    """A `MotionDetector` whose wide blobs are cut into person-wide boxes."""

    def _blobs(self, changed: MatLike, state: Any) -> list[Box]:
        boxes = super()._blobs(changed, state)
        sx = state.source_size[0] / state.small_size[0]
        sy = state.source_size[1] / state.small_size[1]
        mask = np.asarray(changed) > 0
        out: list[Box] = []
        for box in boxes:
            x1, y1 = int(box.x1 / sx), int(box.y1 / sy)
            x2, y2 = max(int(box.x2 / sx), x1 + 1), max(int(box.y2 / sy), y1 + 1)
            part = mask[y1:y2, x1:x2]
            if part.size == 0:
                out.append(box)
                continue
            for a, b in split_columns(part, SPLIT_ASPECT, SPLIT_VALLEY):
                rows = np.flatnonzero(part[:, a:b].any(axis=1))
                if rows.size == 0:
                    continue
                out.append(
                    Box((x1 + a) * sx, (y1 + rows[0]) * sy, (x1 + b) * sx, (y1 + rows[-1] + 1) * sy)
                )
        return out


def use_splitting_motion(analyzer: FrameAnalyzer) -> None:
    """Swap the analyzer's motion detector for the splitting one (same config)."""
    analyzer.motion = SplittingMotionDetector(analyzer.settings.motion)
