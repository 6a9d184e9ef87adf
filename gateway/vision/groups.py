"""A group the edge saw as one track, told apart by the cloud: one box per person.

The edge's classifier boxes motion blobs, so people walking together are one track. When
such a track goes to the cloud as a hard case (see `Band.group_aspect`), a judge that
finds people answers their boxes in the crop (`Verdict.people`, fractions of the crop).
The rule: each person's box is placed *relative to the track's box in the frame the
crop came from*, and in every other frame of the track it keeps that relative place
inside the track's box there. So the N person tracks come from the cloud's answer (how
many, and where in the group), and follow the edge's group track over time; the edge
alone never makes them up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.inference.geometry import Box

__all__ = ["FractionBox", "Placement", "crop_box", "place_people"]


class FractionBox(Protocol):
    """A box as fractions (0-1) of a crop (`cloud_bridge.uplink.CropBox` fits)."""

    @property
    def x1(self) -> float: ...
    @property
    def y1(self) -> float: ...
    @property
    def x2(self) -> float: ...
    @property
    def y2(self) -> float: ...


@dataclass(slots=True, frozen=True)
class Placement:
    """Where one person is inside a group track's box, as fractions of that box."""

    x1: float
    y1: float
    x2: float
    y2: float

    def within(self, box: Box) -> Box:
        """Return the person's box inside the group's box `box`."""
        w, h = box.width, box.height
        return Box(
            box.x1 + self.x1 * w, box.y1 + self.y1 * h, box.x1 + self.x2 * w, box.y1 + self.y2 * h
        )


def crop_box(best_box: Box, margin: float, width: int, height: int) -> Box:
    """Return the region of the frame a track's crop shows (as `FrameAnalyzer` cuts it)."""
    return best_box.expand(margin).clip(width, height)


def in_frame(crop: Box, person: FractionBox) -> Box:
    """Return a person found in the crop `crop` (fractions) in the frame's pixels."""
    w, h = crop.width, crop.height
    return Box(
        crop.x1 + person.x1 * w,
        crop.y1 + person.y1 * h,
        crop.x1 + person.x2 * w,
        crop.y1 + person.y2 * h,
    )


def place_people(track_box: Box, crop: Box, people: Sequence[FractionBox]) -> list[Placement]:
    """Return each person's place inside `track_box` (the box the crop was cut around)."""
    w, h = max(track_box.width, 1e-6), max(track_box.height, 1e-6)
    out = []
    for person in people:
        b = in_frame(crop, person)
        out.append(
            Placement(
                (b.x1 - track_box.x1) / w,
                (b.y1 - track_box.y1) / h,
                (b.x2 - track_box.x1) / w,
                (b.y2 - track_box.y1) / h,
            )
        )
    return out
