"""Boxes, polygons and the region helpers shared by motion, detectors and the tracker.

Every coordinate is in source pixels of the frame it was found in (x to the right, y
down), as floats. Values are frozen slotted dataclasses, never positional tuples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Box",
    "Point",
    "Polygon",
    "merge_overlapping",
    "merge_vertical",
    "square_region",
]


@dataclass(slots=True, frozen=True)
class Point:
    """A point in source pixels."""

    x: float
    y: float

    def distance(self, other: Point) -> float:
        """Return the Euclidean distance to `other`."""
        return math.hypot(self.x - other.x, self.y - other.y)


@dataclass(slots=True, frozen=True)
class Box:
    """An axis-aligned box in source pixels, `x1 <= x2` and `y1 <= y2`."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x1 <= self.x2 and self.y1 <= self.y2):
            msg = f"box corners out of order: {self.x1}, {self.y1}, {self.x2}, {self.y2}"
            raise ValueError(msg)

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float) -> Box:
        """Build a box from its top-left corner and size."""
        return cls(x, y, x + w, y + h)

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return self.width * self.height

    @property
    def center(self) -> Point:
        """The centre point."""
        return Point((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    @property
    def bottom_center(self) -> Point:
        """The middle of the bottom edge: where a standing object touches the ground."""
        return Point((self.x1 + self.x2) / 2, self.y2)

    @property
    def diagonal(self) -> float:
        """Length of the diagonal."""
        return math.hypot(self.width, self.height)

    def intersection(self, other: Box) -> float:
        """Return the area shared with `other` (0 when disjoint)."""
        w = min(self.x2, other.x2) - max(self.x1, other.x1)
        h = min(self.y2, other.y2) - max(self.y1, other.y1)
        return w * h if w > 0 and h > 0 else 0.0

    def iou(self, other: Box) -> float:
        """Return intersection over union with `other`, in [0, 1]."""
        inter = self.intersection(other)
        if inter == 0.0:
            return 0.0
        return inter / (self.area + other.area - inter)

    def overlap_of_smaller(self, other: Box) -> float:
        """Return the shared area as a fraction of the smaller box (1.0 if it is inside)."""
        smaller = min(self.area, other.area)
        return self.intersection(other) / smaller if smaller > 0 else 0.0

    def union(self, other: Box) -> Box:
        """Return the smallest box that holds both."""
        return Box(
            min(self.x1, other.x1),
            min(self.y1, other.y1),
            max(self.x2, other.x2),
            max(self.y2, other.y2),
        )

    def expand(self, margin: float) -> Box:
        """Return the box grown by `margin` pixels on every side (shrunk if negative)."""
        cx, cy = (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2
        half_w = max(self.width / 2 + margin, 0.0)
        half_h = max(self.height / 2 + margin, 0.0)
        return Box(cx - half_w, cy - half_h, cx + half_w, cy + half_h)

    def clip(self, width: float, height: float) -> Box:
        """Return the box cut to a `width` x `height` frame."""
        x1 = min(max(self.x1, 0.0), width)
        y1 = min(max(self.y1, 0.0), height)
        return Box(x1, y1, min(max(self.x2, x1), width), min(max(self.y2, y1), height))

    def scale(self, sx: float, sy: float) -> Box:
        """Return the box with x multiplied by `sx` and y by `sy` (frame resizes)."""
        return Box(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)

    def to_json(self, digits: int | None = None) -> dict[str, float]:
        """Return `{"x1", "y1", "x2", "y2"}` for JSON, rounded to `digits` when given."""
        corners = {"x1": self.x1, "y1": self.y1, "x2": self.x2, "y2": self.y2}
        if digits is None:
            return corners
        return {k: round(v, digits) for k, v in corners.items()}

    def to_int(self) -> tuple[int, int, int, int]:
        """Return (x1, y1, x2, y2) rounded outwards, for slicing an image."""
        return (
            math.floor(self.x1),
            math.floor(self.y1),
            math.ceil(self.x2),
            math.ceil(self.y2),
        )


@dataclass(slots=True, frozen=True)
class Polygon:
    """A simple polygon in source pixels (a zone or a mask)."""

    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            msg = f"a polygon needs at least 3 points, got {len(self.points)}"
            raise ValueError(msg)

    @classmethod
    def from_pairs(cls, pairs: Iterable[Sequence[float]]) -> Polygon:
        """Build a polygon from `[x, y]` pairs, the shape used in YAML config."""
        return cls(tuple(Point(float(p[0]), float(p[1])) for p in pairs))

    def contains(self, point: Point) -> bool:
        """Return True when `point` is inside (even-odd rule; edges count as inside-ish)."""
        inside = False
        pts = self.points
        j = len(pts) - 1
        for i, pi in enumerate(pts):
            pj = pts[j]
            if (pi.y > point.y) != (pj.y > point.y):
                x_cross = pi.x + (point.y - pi.y) * (pj.x - pi.x) / (pj.y - pi.y)
                if point.x < x_cross:
                    inside = not inside
            j = i
        return inside

    def bounds(self) -> Box:
        """Return the bounding box."""
        xs = [p.x for p in self.points]
        ys = [p.y for p in self.points]
        return Box(min(xs), min(ys), max(xs), max(ys))


def merge_vertical(boxes: Sequence[Box], max_gap: float, min_x_overlap: float = 0.3) -> list[Box]:
    """Join boxes stacked above each other with at most `max_gap` pixels between them.

    A pole or sign in front of a walking person cuts the motion blob into torso and legs;
    two boxes are joined when their horizontal overlap is at least `min_x_overlap` of the
    narrower one and the vertical gap between them is at most `max_gap`.
    """

    def join(a: Box, b: Box) -> Box | None:
        x_overlap = min(a.x2, b.x2) - max(a.x1, b.x1)
        narrower = min(a.width, b.width)
        gap = max(a.y1, b.y1) - min(a.y2, b.y2)
        if narrower > 0 and x_overlap >= min_x_overlap * narrower and gap <= max_gap:
            return a.union(b)
        return None

    return _merge_pairs(boxes, join)


def square_region(box: Box, min_size: float, width: float, height: float) -> Box:
    """Return a square around `box`, at least `min_size` wide, moved to stay in the frame.

    Detectors take square inputs; a square crop keeps the aspect ratio when resized.
    The square is shifted (not cut) at frame edges, and only cut if the frame is smaller.
    """
    side = min(max(box.width, box.height, min_size), width, height)
    cx, cy = box.center.x, box.center.y
    x1 = min(max(cx - side / 2, 0.0), width - side)
    y1 = min(max(cy - side / 2, 0.0), height - side)
    return Box(x1, y1, x1 + side, y1 + side)


def merge_overlapping(
    regions: Sequence[Box], min_overlap: float, min_size: float, width: float, height: float
) -> list[Box]:
    """Merge square regions that share at least `min_overlap` of the smaller one.

    Each merge yields the square around the union, so the result stays model-shaped.
    """

    def join(a: Box, b: Box) -> Box | None:
        if a.overlap_of_smaller(b) >= min_overlap:
            return square_region(a.union(b), min_size, width, height)
        return None

    return _merge_pairs(regions, join)


def _merge_pairs(boxes: Sequence[Box], join: Callable[[Box, Box], Box | None]) -> list[Box]:
    """Replace the first pair that `join` joins by its join, until no pair joins."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                joined = join(merged[i], merged[j])
                if joined is not None:
                    merged[i] = joined
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged
