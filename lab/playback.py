"""The clip played otherwise: mirrored or backwards, with its hand-verified truth moved along.

One 27-person clip scores a tracker with a noise of its own, and every setting chosen on
it fits its crossings in their order. Played mirrored (every frame flipped left to right)
or reversed (the frames in the opposite order), the same people meet every crossing from
the other side or in the other order, so the tracker's choices are made afresh; the truth
moves with the frames (mirrored boxes; frame f becomes n - 1 - f), so no new labelling is
taken on trust. `bench.vision_robustness` and `bench.hybrid --footage` play it so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from gateway.inference.geometry import Box
from lab.evaluation import TrackPath

__all__ = ["Footage", "footage_frames", "footage_truth"]

Image = npt.NDArray[np.uint8]


class Footage(StrEnum):
    """How the clip is played (and its truth changed to match)."""

    AS_SHOT = "as-shot"
    MIRRORED = "mirrored"
    """Every frame flipped left to right."""
    REVERSED = "reversed"
    """The frames in the opposite order (people walk backwards through the same scene).
    The whole clip is held in memory (about 1 GB for vtest.avi's 795 frames)."""


def footage_frames(frames: Iterator[Image], footage: Footage) -> Iterator[Image]:
    """The clip's `frames` as `footage` plays them."""
    if footage is Footage.MIRRORED:
        return (np.ascontiguousarray(image[:, ::-1]) for image in frames)
    if footage is Footage.REVERSED:
        return reversed(list(frames))
    return frames


def footage_truth(
    truth: Sequence[TrackPath], footage: Footage, *, frames: int, width: int
) -> list[TrackPath]:
    """The truth of the first `frames` frames (`width` pixels wide) as `footage` plays them."""
    seen = [
        TrackPath(p.id, {f: b for f, b in p.boxes.items() if f < frames})
        for p in truth
        if any(f < frames for f in p.boxes)
    ]
    if footage is Footage.MIRRORED:
        return [
            TrackPath(
                p.id, {f: Box(width - b.x2, b.y1, width - b.x1, b.y2) for f, b in p.boxes.items()}
            )
            for p in seen
        ]
    if footage is Footage.REVERSED:
        return [TrackPath(p.id, {frames - 1 - f: b for f, b in p.boxes.items()}) for p in seen]
    return seen
