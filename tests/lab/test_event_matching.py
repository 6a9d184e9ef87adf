"""The event and presence rules of `lab.evaluation`, pinned on hand-built tracks."""

from __future__ import annotations

import pytest

from gateway.inference.geometry import Box
from lab.evaluation import (
    TrackPath,
    box_matches,
    frame_presence,
    match_events,
    matched_frames,
)


def person(x: float, frames: range, y: float = 100.0) -> dict[int, Box]:
    """Return a 20x50 person box at `x` in each frame."""
    return dict.fromkeys(frames, Box(x, y, x + 20, y + 50))


def track(tid: int, boxes: dict[int, Box]) -> TrackPath:
    return TrackPath(tid, boxes)


def test_a_box_matches_by_iou_or_by_the_oracle_centre_inside() -> None:
    oracle = Box(0, 0, 20, 50)
    assert box_matches(Box(2, 2, 22, 52), oracle)  # IoU ~0.85
    assert box_matches(Box(-100, -100, 200, 200), oracle)  # IoU tiny, centre inside
    assert not box_matches(Box(11, 0, 31, 50), oracle)  # IoU 0.29, centre (10, 25) outside
    assert box_matches(Box(9, 0, 29, 50), oracle)  # IoU 0.38 and centre inside
    assert not box_matches(Box(30, 0, 50, 50), oracle)  # disjoint


def test_iou_threshold_is_0_3() -> None:
    oracle = Box(0, 0, 100, 10)
    # Reported boxes right of the oracle centre (50, 5): only IoU counts.
    assert not box_matches(Box(60, 0, 160, 10), oracle)  # 40 / 160 = 0.25
    assert box_matches(Box(51, 0, 111, 10), oracle)  # 49 / 111 = 0.44
    assert box_matches(Box(0, 0, 30, 10), oracle)  # IoU exactly 0.3 counts
    assert not box_matches(Box(0, 0, 29, 10), oracle)  # 0.29


def test_one_track_on_one_person_is_recalled_and_precise() -> None:
    o = [track(1, person(100, range(10)))]
    r = [track(7, person(102, range(10)))]
    score = match_events(r, o)
    assert (score.recall, score.precision, score.matched) == (1.0, 1.0, 1)
    assert score.pairs[0].frames == 10


def test_a_pair_needs_at_least_three_matched_frames() -> None:
    o = [track(1, person(100, range(10)))]
    assert match_events([track(7, person(100, range(2)))], o).matched == 0
    assert match_events([track(7, person(100, range(3)))], o).matched == 1
    # Frames where only one of the two has a box do not count.
    assert matched_frames(track(7, person(100, range(20, 30))), o[0]) == 0


def test_a_second_track_on_the_same_person_is_a_false_positive() -> None:
    o = [track(1, person(100, range(20)))]
    r = [track(7, person(100, range(12))), track(8, person(100, range(12, 20)))]
    score = match_events(r, o)
    assert score.matched == 1
    assert score.pairs[0].reported == 7  # the one with more matched frames wins
    assert score.recall == 1.0
    assert score.precision == 0.5
    assert score.lenient_precision == 1.0  # leniently, both tracks are on a person
    assert (score.duplicates, score.spurious) == (1, 0)


def test_a_group_reported_as_one_track_recalls_one_person() -> None:
    o = [track(1, person(100, range(10))), track(2, person(125, range(10)))]
    group = {f: Box(95, 95, 150, 155) for f in range(10)}  # holds both centres
    score = match_events([track(7, group)], o)
    assert score.matched == 1
    assert score.recall == 0.5
    assert score.precision == 1.0
    assert score.lenient_recall == 1.0  # leniently, both people were "seen"
    assert (score.merged, score.missed) == (1, 0)


def test_greedy_assignment_by_matched_frames() -> None:
    # Reported 7 overlaps oracle 1 in 8 frames and oracle 2 in 4; reported 8 only oracle 1
    # in 5. All three are candidates (>= MIN_FRAMES). Greedy by matched frames: (7, 1)
    # first; then 8 cannot take 1, and 7 is taken, so oracle 2 stays unpaired.
    o = [track(1, person(100, range(10))), track(2, person(300, range(12)))]
    r7 = {**person(100, range(8)), **person(300, range(8, 12))}
    r8 = person(100, range(5))
    assert [matched_frames(track(7, r7), t) for t in o] == [8, 4]
    assert matched_frames(track(8, r8), o[0]) == 5
    score = match_events([track(7, r7), track(8, r8)], o)
    assert [(p.reported, p.oracle, p.frames) for p in score.pairs] == [(7, 1, 8)]
    assert score.recall == 0.5
    assert score.precision == 0.5
    assert score.lenient_recall == 1.0  # oracle 2 had a candidate (7, with 4 frames) ...
    assert score.merged == 1  # ... which greedy gave to oracle 1
    assert score.duplicates == 1  # reported 8 lost oracle 1 to 7's 8 frames


def test_greedy_ties_break_by_ids() -> None:
    o = [track(1, person(100, range(5)))]
    r = [track(9, person(100, range(5))), track(3, person(100, range(5)))]
    assert match_events(r, o).pairs[0].reported == 3


def test_empty_sets() -> None:
    assert match_events([], []).recall == 1.0
    score = match_events([], [track(1, person(0, range(5)))])
    assert (score.recall, score.precision) == (0.0, 1.0)
    score = match_events([track(1, person(0, range(5)))], [])
    assert (score.recall, score.precision, score.lenient_precision) == (1.0, 0.0, 0.0)
    assert (score.spurious, score.duplicates) == (1, 0)
    assert match_events([], [track(1, person(0, range(5)))]).missed == 1


def test_frame_presence() -> None:
    score = frame_presence(reported={1, 2, 3, 9}, oracle={2, 3, 4, 5}, frames=range(10))
    assert (score.tp, score.fp, score.fn) == (2, 2, 2)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.5)
    assert score.f1 == pytest.approx(0.5)
    # Frames outside `frames` are ignored.
    assert frame_presence({50}, {50}, range(10)).tp == 0
