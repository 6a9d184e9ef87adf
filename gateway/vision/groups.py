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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gateway.inference.geometry import Box

__all__ = [
    "PEOPLE_SLACK",
    "SAME_PERSON",
    "FractionBox",
    "Placement",
    "crop_box",
    "distinct_people",
    "in_frame",
    "place_people",
]

PEOPLE_SLACK = 0.5
"""A person box must overlap the crop's box grown by this fraction of its size."""
SAME_PERSON = 0.6
"""Two boxes sharing this much of the smaller one show one person."""


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


def distinct_people(people: Iterable[Box]) -> list[Box]:
    """The judge's people, each once, in the judge's order: boxes sharing `SAME_PERSON` of
    the smaller one show one person (a judge may find a person and a part of them), and the
    larger box is kept. So a far person standing inside a near one's box is not taken for
    the near one (those two are told apart, if at all, by who else is tracked)."""
    given = list(people)
    kept: list[Box] = []
    for p in sorted(given, key=lambda b: -b.area):
        if all(p.overlap_of_smaller(k) < SAME_PERSON for k in kept):
            kept.append(p)
    chosen = {id(k) for k in kept}
    return [p for p in given if id(p) in chosen]


def place_people(box: Box, people: Iterable[Box]) -> list[Placement] | None:
    """Each person's place inside `box` (the box the crop was cut around).

    None when a person lies outside `box` grown by `PEOPLE_SLACK` of its size (a bad
    verdict), or when there are none.
    """
    w, h = max(box.width, 1e-6), max(box.height, 1e-6)
    around = box.expand(PEOPLE_SLACK * max(w, h))
    out = []
    for p in people:
        if p.intersection(around) <= 0.0:
            return None
        out.append(
            Placement(
                (p.x1 - box.x1) / w, (p.y1 - box.y1) / h, (p.x2 - box.x1) / w, (p.y2 - box.y1) / h
            )
        )
    return out or None
