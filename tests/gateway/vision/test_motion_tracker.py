"""IoU tracker on synthetic moving boxes."""

from __future__ import annotations

from dataclasses import dataclass

import pydantic
import pytest

from gateway.inference.geometry import Box
from gateway.vision.tracker import IoUTracker, Track, TrackerConfig, TrackState, ZoneConfig

FPS = 10.0


@dataclass(slots=True, frozen=True)
class Det:
    """Stands in for the decoders' Detection."""

    label: str
    score: float
    box: Box


def person(x: float, y: float, score: float = 0.8, w: float = 40, h: float = 80) -> Det:
    return Det("person", score, Box(x, y, x + w, y + h))


def run(
    tracker: IoUTracker, frames: list[list[Det]]
) -> tuple[list[Track], list[Track], dict[int, list[Box]]]:
    """Feed frames at FPS; return started, ended, and each id's matched boxes."""
    started: list[Track] = []
    ended: list[Track] = []
    boxes: dict[int, list[Box]] = {}
    for i, dets in enumerate(frames):
        update = tracker.update(dets, ts=i / FPS)
        started += update.started
        ended += update.ended
        for t in update.started + update.updated:
            boxes.setdefault(t.id, []).append(t.box)
    return started, ended, boxes


def test_two_crossing_objects_keep_their_ids_and_one_disappears() -> None:
    config = TrackerConfig(min_hits=3, max_misses=4)
    tracker = IoUTracker(config)
    frames: list[list[Det]] = []
    for i in range(60):
        dets = [person(100 + 6 * i, 100, score=0.5 + i / 200)]  # A walks right
        if i < 40:
            dets.append(person(400 - 6 * i, 130, score=0.9 if i == 10 else 0.6))  # B walks left
        frames.append(dets)
    started, ended, boxes = run(tracker, frames)
    assert [t.id for t in started] == [1, 2]
    assert all(t.hits == config.min_hits for t in started)
    # B vanished at frame 40 and ends after max_misses + 1 missing frames; A is still there.
    assert [t.id for t in ended] == [2]
    b = ended[0]
    assert b.state is TrackState.ENDED
    assert b.hits == 40
    assert b.best_score == 0.9
    assert b.best_frame_index == 10
    assert b.best_box == person(400 - 60, 130).box
    assert b.last_seen == pytest.approx(39 / FPS)
    # Ids never swapped while crossing: each id's boxes move one way only.
    a_x = [box.x1 for box in boxes[1]]
    b_x = [box.x1 for box in boxes[2]]
    assert a_x == sorted(a_x)
    assert len(a_x) == 60 - 2
    assert b_x == sorted(b_x, reverse=True)
    assert len(b_x) == 40 - 2
    final = tracker.flush(ts=6.0)
    assert [t.id for t in final.ended] == [1]
    assert final.ended[0].best_score == pytest.approx(0.5 + 59 / 200)
    assert tracker.tracks == []


def test_a_single_frame_blip_never_starts() -> None:
    tracker = IoUTracker(TrackerConfig(min_hits=2))
    started, ended, _ = run(tracker, [[person(10, 10)], [], [], [person(300, 10)], []])
    assert started == []
    assert ended == []
    assert tracker.tracks == []


def test_small_fast_boxes_match_by_centre_distance() -> None:
    tracker = IoUTracker(TrackerConfig(min_hits=2, center_distance=1.0))
    frames = [[Det("bird", 0.7, Box(10 * i, 50, 10 * i + 12, 62))] for i in range(10)]
    started, _, boxes = run(tracker, frames)
    assert [t.id for t in started] == [1]  # IoU of consecutive boxes is 0.09: one track anyway
    assert len(boxes[1]) == 9


def test_labels_are_tracked_separately() -> None:
    tracker = IoUTracker(TrackerConfig(min_hits=1))
    update = tracker.update([person(0, 0), Det("car", 0.9, Box(0, 0, 40, 80))], ts=0.0)
    assert sorted(t.label for t in update.started) == ["car", "person"]
    update = tracker.update([Det("car", 0.9, Box(2, 0, 42, 80))], ts=0.1)
    assert [t.label for t in update.updated] == ["car"]


def test_max_age_ends_a_track_seen_long_ago() -> None:
    tracker = IoUTracker(TrackerConfig(min_hits=1, max_misses=100, max_age_s=2.0))
    tracker.update([person(0, 0)], ts=0.0)
    assert tracker.update([], ts=1.0).ended == []
    ended = tracker.update([], ts=2.5).ended
    assert [t.id for t in ended] == [1]
    assert ended[0].misses == 2


def test_filters_drop_detections() -> None:
    config = TrackerConfig(min_hits=1, labels=["person"], min_score=0.5, min_area=1000)
    tracker = IoUTracker(config)
    update = tracker.update(
        [
            Det("cat", 0.9, Box(0, 0, 50, 50)),
            person(100, 0, score=0.4),
            person(200, 0, w=10, h=10),
            person(300, 0),
        ],
        ts=0.0,
    )
    assert [t.box.x1 for t in update.started] == [300]


def test_zones_use_the_bottom_centre() -> None:
    door = ZoneConfig(name="door", points=[(200, 0), (400, 0), (400, 200), (200, 200)])
    cars_only = ZoneConfig(
        name="drive", points=[(0, 0), (1000, 0), (1000, 1000), (0, 1000)], labels=["car"]
    )
    tracker = IoUTracker(TrackerConfig(min_hits=1, zones=[door, cars_only]))
    seen: list[frozenset[str]] = []
    for i in range(20):
        update = tracker.update([person(100 + 10 * i, 60)], ts=i / FPS)  # feet at y=140
        (track,) = update.started + update.updated
        assert track.id == 1
        seen.append(track.zones)
    # Foot x = 120 + 10 i: outside, then inside [200, 400] past i = 8; 'drive' is cars only.
    assert seen[:8] == [frozenset()] * 8
    assert all(z == frozenset({"door"}) for z in seen[9:])
    final = tracker.flush(ts=2.0).ended[0]
    assert final.zones_entered == frozenset({"door"})


def test_config_is_strict() -> None:
    with pytest.raises(pydantic.ValidationError):
        TrackerConfig(min_hit=2)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        ZoneConfig(name="z", points=[(0, 0), (1, 1)])
    schema = TrackerConfig.model_json_schema()
    assert all("description" in p for p in schema["properties"].values())
