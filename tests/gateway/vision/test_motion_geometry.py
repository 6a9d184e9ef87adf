"""Boxes, polygons and the region helpers."""

from __future__ import annotations

import pytest

from gateway.inference.geometry import (
    Box,
    Point,
    Polygon,
    merge_overlapping,
    merge_vertical,
    square_region,
)


def test_box_measures() -> None:
    box = Box(10, 20, 50, 100)
    assert (box.width, box.height, box.area) == (40, 80, 3200)
    assert box.center == Point(30, 60)
    assert box.bottom_center == Point(30, 100)
    assert Box.from_xywh(10, 20, 40, 80) == box
    with pytest.raises(ValueError, match="out of order"):
        Box(5, 0, 1, 1)


def test_iou() -> None:
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(10, 0, 20, 10)) == 0.0  # touching edges share no area
    assert a.iou(Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert a.overlap_of_smaller(Box(2, 2, 4, 4)) == 1.0


def test_expand_clip_scale() -> None:
    box = Box(10, 10, 20, 30)
    assert box.expand(5) == Box(5, 5, 25, 35)
    assert box.expand(-20) == Box(15, 20, 15, 20)  # shrinks to its centre, not inside out
    assert Box(-5, -5, 120, 90).clip(100, 80) == Box(0, 0, 100, 80)
    assert Box(150, 150, 200, 200).clip(100, 80) == Box(100, 80, 100, 80)
    assert box.scale(2, 0.5) == Box(20, 5, 40, 15)
    assert Box(0.5, 0.5, 9.2, 9.8).to_int() == (0, 0, 10, 10)


def test_square_region_stays_in_frame() -> None:
    assert square_region(Box(40, 40, 60, 60), 64, 640, 480) == Box(18, 18, 82, 82)
    corner = square_region(Box(0, 0, 10, 30), 64, 640, 480)
    assert corner == Box(0, 0, 64, 64)  # shifted inwards, not cut
    tall = square_region(Box(300, 0, 320, 480), 64, 640, 480)
    assert (tall.width, tall.height) == (480, 480)
    tiny_frame = square_region(Box(0, 0, 10, 10), 64, 50, 40)
    assert tiny_frame == Box(0, 0, 40, 40)


def test_merge_vertical_rejoins_a_person_cut_by_a_pole() -> None:
    torso = Box(100, 100, 130, 150)
    legs = Box(104, 160, 128, 210)
    other = Box(300, 100, 330, 200)
    assert sorted(merge_vertical([torso, other, legs], max_gap=16), key=lambda b: b.x1) == [
        Box(100, 100, 130, 210),
        other,
    ]
    # Too far apart vertically, or side by side: kept apart.
    assert len(merge_vertical([torso, Box(104, 200, 128, 250)], max_gap=16)) == 2
    assert len(merge_vertical([torso, Box(140, 100, 170, 150)], max_gap=16)) == 2


def test_merge_overlapping_regions() -> None:
    a = Box(0, 0, 100, 100)
    b = Box(20, 20, 120, 120)
    far = Box(300, 300, 400, 400)
    merged = merge_overlapping([a, b, far], 0.5, 100, 640, 480)
    assert len(merged) == 2
    assert merged[0] == Box(0, 0, 120, 120)
    assert merged[1] == far


def test_polygon() -> None:
    square = Polygon.from_pairs([(0, 0), (10, 0), (10, 10), (0, 10)])
    assert square.contains(Point(5, 5))
    assert not square.contains(Point(15, 5))
    assert square.bounds() == Box(0, 0, 10, 10)
    concave = Polygon.from_pairs([(0, 0), (10, 0), (10, 10), (5, 3), (0, 10)])
    assert not concave.contains(Point(5, 8))
    assert concave.contains(Point(2, 2))
    with pytest.raises(ValueError, match="3 points"):
        Polygon.from_pairs([(0, 0), (1, 1)])
