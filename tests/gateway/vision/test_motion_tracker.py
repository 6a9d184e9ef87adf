"""The object tracker (Kalman + two-stage association) on synthetic trajectories.

Frames come at 8 per second so that every time is exact in binary; walkers move at a
constant velocity in pixels per second. Each detection carries the name of the walker it
belongs to, so a test can say which walkers each track id was given.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import numpy as np
import pydantic
import pytest

from gateway.inference.geometry import Box
from gateway.vision.appearance import Descriptor
from gateway.vision.tracker import ObjectTracker, Track, TrackerConfig, TrackState, ZoneConfig

FPS = 8.0
DT = 1 / FPS


@dataclass(slots=True, frozen=True)
class Det:
    """Stands in for the decoders' Detection; `who` is the truth, unseen by the tracker."""

    label: str
    score: float
    box: Box
    who: str = ""


@dataclass(slots=True, frozen=True)
class Walker:
    """An object moving at constant velocity (pixels per second) from (x0, y0) at t = 0."""

    name: str
    x0: float
    y0: float
    vx: float
    vy: float = 0.0
    w: float = 40.0
    h: float = 80.0
    label: str = "person"

    def box(self, t: float) -> Box:
        x, y = self.x0 + self.vx * t, self.y0 + self.vy * t
        return Box(x, y, x + self.w, y + self.h)

    def det(self, t: float, score: float = 0.8) -> Det:
        return Det(self.label, score, self.box(t), self.name)


Frame = tuple[float, list[Det]]


@dataclass(slots=True)
class Log:
    """What the tracker reported over a run."""

    started: list[Track] = field(default_factory=list)
    updated: list[Track] = field(default_factory=list)
    ended: list[Track] = field(default_factory=list)
    holders: dict[int, list[str]] = field(default_factory=dict)
    """Per track id, the walker of each detection it was matched to, in order."""

    def walkers_of(self, track_id: int) -> set[str]:
        return set(self.holders.get(track_id, []))


def run(tracker: ObjectTracker, frames: list[Frame], *, flush: bool = True) -> Log:
    """Feed `(time, detections)` frames; return what was reported (ends at flush included)."""
    log = Log()
    for index, (ts, dets) in enumerate(frames):
        update = tracker.update(dets, ts, index)
        log.started += update.started
        log.updated += update.updated
        log.ended += update.ended
        owner = {d.box: d.who for d in dets}
        for t in update.started + update.updated:
            log.holders.setdefault(t.id, []).append(owner[t.box])
    if flush and frames:
        log.ended += tracker.flush(frames[-1][0] + DT).ended
    return log


def at(i: int) -> float:
    return i * DT


def ids(tracks: list[Track]) -> list[int]:
    return [t.id for t in tracks]


# ---- identities ---------------------------------------------------------------------


def test_a_walker_hidden_for_a_second_keeps_one_id() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lost_s=1.5))
    walker = Walker("a", 100, 100, vx=40)  # 5 px a frame; a 40 px wide box
    frames: list[Frame] = []
    for i in range(40):
        if i < 16:
            frames.append((at(i), [walker.det(at(i))]))
        elif i < 19:  # half behind the post: the detector is unsure
            frames.append((at(i), [walker.det(at(i), score=0.3)]))
        elif i < 27:  # behind it for a second: 40 px, a whole box width
            frames.append((at(i), []))
        else:
            frames.append((at(i), [walker.det(at(i))]))
    assert walker.box(at(18)).iou(walker.box(at(27))) == 0.0  # last box is no help
    log = run(tracker, frames)
    assert ids(log.started) == [1]
    assert ids(log.ended) == [1]
    assert log.walkers_of(1) == {"a"}
    assert log.ended[0].hits == 40 - 8
    assert log.ended[0].best_score == 0.8


def test_hidden_longer_than_lost_s_is_a_new_track_and_the_old_one_ends() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lost_s=1.0))
    walker = Walker("a", 100, 100, vx=40)
    frames = [(at(i), [walker.det(at(i))] if i < 10 or i >= 22 else []) for i in range(32)]
    ended_at: dict[int, int] = {}
    for i, (ts, dets) in enumerate(frames):
        for t in tracker.update(dets, ts, i).ended:
            ended_at[t.id] = i
    # Last seen at frame 9 (1.125 s): lost once more than 1 s has passed, at frame 18.
    assert ended_at == {1: 18}
    assert [t.id for t in tracker.tracks] == [2]


def test_only_a_detection_where_the_track_is_expected_continues_it() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lost_s=1.5))
    walker = Walker("a", 100, 100, vx=40)
    # Someone else stands where the walker was last seen, after the walker has moved on.
    other = Walker("b", walker.box(at(9)).x1, 100, vx=0)
    frames = [(at(i), [walker.det(at(i))]) for i in range(10)]
    frames += [(at(i), [other.det(at(i))]) for i in range(18, 24)]
    log = run(tracker, frames)
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(1) == {"a"}
    assert log.walkers_of(2) == {"b"}


def test_two_walkers_crossing_keep_their_ids() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3))
    a = Walker("a", 100, 100, vx=48)
    b = Walker("b", 403, 104, vx=-48)  # overlapping in y: they pass through each other
    frames = [(at(i), [a.det(at(i)), b.det(at(i), score=0.7)]) for i in range(50)]
    log = run(tracker, frames)
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(1) == {"a"}
    assert log.walkers_of(2) == {"b"}
    assert len(log.holders[1]) == len(log.holders[2]) == 50 - 2


def test_a_walker_hidden_behind_another_while_crossing_keeps_its_id() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3))
    a = Walker("a", 100, 100, vx=48)
    b = Walker("b", 403, 100, vx=-48)
    frames: list[Frame] = []
    for i in range(50):
        front = a.det(at(i))
        behind = b.det(at(i), score=0.7)
        # While their boxes overlap, the detector sees only the walker in front.
        seen = [front] if a.box(at(i)).iou(b.box(at(i))) > 0.1 else [front, behind]
        frames.append((at(i), seen))
    assert sum(len(dets) == 1 for _, dets in frames) >= 4
    log = run(tracker, frames)
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(1) == {"a"}
    assert log.walkers_of(2) == {"b"}
    assert ids(log.ended) == [1, 2]  # at flush: nobody was cut in two


def _ahead_or_behind(config: TrackerConfig) -> set[str]:
    """A walker, then two boxes about its prediction: its own a step ahead, a stranger's
    just behind its last box and overlapping the prediction a little more. Return the
    walkers the first track was given."""
    tracker = ObjectTracker(config)
    walker = Walker("a", 100, 100, vx=80, w=60)  # 10 px a frame
    frames: list[Frame] = [(at(i), [walker.det(at(i))]) for i in range(12)]
    predicted = walker.box(at(12))
    assert predicted.x1 - walker.box(at(11)).x1 == 10
    own = Det("person", 0.8, Box(predicted.x1 + 22, 100, predicted.x2 + 22, 180), "a")
    stranger = Det("person", 0.8, Box(predicted.x1 - 20, 100, predicted.x2 - 20, 180), "b")
    assert stranger.box.iou(predicted) > own.box.iou(predicted)
    frames.append((at(12), [stranger, own]))
    frames += [(at(i), [walker.det(at(i) + 22 / 80)]) for i in range(13, 16)]
    return run(tracker, frames).walkers_of(1)


def test_direction_keeps_a_walker_from_being_taken_over_from_behind() -> None:
    assert _ahead_or_behind(TrackerConfig(min_hits=3)) == {"a", "b"}  # IoU alone: taken over
    assert _ahead_or_behind(TrackerConfig(min_hits=3, direction_weight=0.5)) == {"a"}


def test_two_people_side_by_side_are_two_tracks() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3))
    left = Walker("left", 100, 100, vx=30)
    right = Walker("right", 144, 102, vx=30)  # 4 px apart, same pace
    log = run(tracker, [(at(i), [left.det(at(i)), right.det(at(i))]) for i in range(40)])
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(1) == {"left"}
    assert log.walkers_of(2) == {"right"}
    assert ids(log.ended) == [1, 2]


# ---- scores ---------------------------------------------------------------------------


def test_low_scores_keep_a_track_alive_but_never_start_one() -> None:
    cfg = TrackerConfig(min_hits=3, max_misses=2, lost_s=1.0, min_score=0.1, high_score=0.5)
    tracker = ObjectTracker(cfg)
    walker = Walker("a", 100, 100, vx=20)
    ghost = Walker("ghost", 400, 300, vx=0)  # only ever scored low
    frames: list[Frame] = []
    for i in range(60):
        score = 0.8 if i < 5 else 0.3  # 55 frames, almost 7 s, of low scores only
        frames.append((at(i), [walker.det(at(i), score), ghost.det(at(i), 0.4)]))
    log = run(tracker, frames, flush=False)
    assert ids(log.started) == [1]
    assert log.ended == []
    assert len(log.updated) == 60 - 3
    assert log.walkers_of(1) == {"a"}
    assert [t.id for t in tracker.tracks] == [1]  # the ghost never even became tentative
    (track,) = tracker.tracks
    assert track.best_score == 0.8
    assert track.score == 0.3


def test_a_low_score_needs_a_closer_match_than_a_high_one() -> None:
    cfg = TrackerConfig(min_hits=1, iou_threshold=0.3, low_iou_threshold=0.5, lost_s=0.0)
    still = Walker("a", 100, 100, vx=0)
    shifted = Box(120, 100, 160, 180)  # IoU 1/3 with the track's box
    assert 0.3 < still.box(0).iou(shifted) < 0.5
    for score, continued in ((0.9, True), (0.3, False)):
        tracker = ObjectTracker(cfg)
        tracker.update([still.det(0.0)], 0.0)
        update = tracker.update([Det("person", score, shifted)], DT)
        assert bool(update.updated) is continued


def test_a_pair_dearer_than_max_cost_never_matches() -> None:
    still = Walker("a", 100, 100, vx=0)
    shifted = Box(120, 100, 160, 180)  # IoU 1/3 with the track's box: costs 2/3
    for max_cost, continued in ((0.0, True), (0.8, True), (0.5, False)):
        tracker = ObjectTracker(TrackerConfig(min_hits=1, lost_s=0.0, max_cost=max_cost))
        tracker.update([still.det(0.0)], 0.0)
        update = tracker.update([Det("person", 0.9, shifted)], DT)
        assert bool(update.updated) is continued


def test_scores_below_min_score_are_ignored() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=1, min_score=0.2, max_misses=0, lost_s=0.0))
    walker = Walker("a", 100, 100, vx=0)
    tracker.update([walker.det(0.0)], 0.0)
    update = tracker.update([walker.det(DT, score=0.1)], DT)
    assert update.updated == []
    assert ids(update.ended) == [1]


# ---- time -----------------------------------------------------------------------------


def test_a_stationary_object_stays_one_track_through_misses_and_low_scores() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=5, lost_s=1.5, min_score=0.1))
    rng = random.Random(9)
    base = Box(200, 150, 240, 230)
    frames: list[Frame] = []
    seen = 0
    for i in range(400):  # 50 s
        phase = i % 40
        if 20 <= phase < 28:  # unseen for a second every 5 s
            frames.append((at(i), []))
            continue
        score = 0.3 if 10 <= phase < 16 else 0.8
        j = [rng.uniform(-2, 2) for _ in range(4)]
        box = Box(base.x1 + j[0], base.y1 + j[1], base.x2 + j[2], base.y2 + j[3])
        frames.append((at(i), [Det("person", score, box, "still")]))
        seen += 1
    log = run(tracker, frames)
    assert ids(log.started) == [1]
    assert ids(log.ended) == [1]  # only at flush
    assert log.ended[0].hits == seen


def test_skipped_frames_move_the_prediction_by_the_time_that_passed() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lost_s=1.5))
    walker = Walker("a", 50, 100, vx=100)  # 100 px/s, 40 px wide
    times = [at(i) for i in range(6)] + [1.25, 1.375, 2.0, 2.125, 2.25, 2.875, 3.0]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # After each long gap the box is more than a width away: no overlap with the last box,
    # nor with a box moved on by one frame's worth.
    assert max(gaps) == 0.625
    assert walker.box(1.25).iou(walker.box(0.625 + DT)) == 0.0
    log = run(tracker, [(t, [walker.det(t)]) for t in times])
    assert ids(log.started) == [1]
    assert ids(log.ended) == [1]
    assert log.ended[0].hits == len(times)


def test_frame_times_going_back_are_counted_not_fatal() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=1))
    walker = Walker("a", 100, 100, vx=8)
    tracker.update([walker.det(1.0)], 1.0)
    update = tracker.update([walker.det(1.0)], 0.5)
    assert ids(update.updated) == [1]
    assert update.updated[0].last_seen == 1.0
    assert tracker.late_frames == 1


def test_lost_tracks_are_not_reported_active_until_they_end() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lost_s=1.0))
    walker = Walker("a", 100, 100, vx=32)
    for i in range(5):
        tracker.update([walker.det(at(i))], at(i))
    reported: list[list[int]] = []
    ended: list[int] = []
    for i in range(5, 20):
        update = tracker.update([], at(i))
        reported.append(ids(update.active))
        ended += ids(update.ended)
        if update.ended:
            break
    # Misses 1 and 2 still active; then lost (unreported) until 1 s after frame 4.
    assert reported == [[1], [1]] + [[]] * 7
    assert ended == [1]


def test_max_age_ends_a_track_seen_long_ago() -> None:
    cfg = TrackerConfig(min_hits=1, max_misses=100, lost_s=1.0, max_age_s=2.0)
    tracker = ObjectTracker(cfg)
    tracker.update([Walker("a", 0, 0, 0).det(0.0)], 0.0)
    assert tracker.update([], 1.0).ended == []
    ended = tracker.update([], 2.5).ended
    assert ids(ended) == [1]
    assert ended[0].misses == 2
    assert ended[0].state is TrackState.ENDED


def test_a_single_frame_blip_never_starts() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=2))
    frames = [[Walker("a", 10, 10, 0).det(0)], [], [], [Walker("b", 300, 10, 0).det(0)], []]
    log = run(tracker, [(at(i), dets) for i, dets in enumerate(frames)], flush=False)
    assert log.started == []
    assert log.ended == []
    assert tracker.tracks == []


def test_small_fast_boxes_match_by_centre_distance() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=2, center_distance=1.0))
    bird = Walker("bird", 0, 50, vx=80, w=12, h=12, label="bird")  # 10 px a frame
    assert bird.box(0).iou(bird.box(DT)) < 0.1
    log = run(tracker, [(at(i), [bird.det(at(i))]) for i in range(10)])
    assert ids(log.started) == [1]
    assert len(log.holders[1]) == 9


# ---- labels, filters, zones ---------------------------------------------------------


def test_labels_are_tracked_separately() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=1, max_misses=0, lost_s=1.0))
    person = Walker("p", 100, 100, vx=40)
    car = Walker("c", 100, 100, vx=40, label="car")  # the very same boxes
    update = tracker.update([person.det(0.0), car.det(0.0)], 0.0)
    assert sorted(t.label for t in update.started) == ["car", "person"]
    update = tracker.update([car.det(DT)], DT)
    assert [t.label for t in update.updated] == ["car"]
    # A car where the lost person is expected does not continue the person's track.
    car_only = tracker.update([Det("car", 0.9, person.box(2 * DT))], 2 * DT)
    assert [t.label for t in car_only.updated] == ["car"]
    person_track = next(t for t in tracker.tracks if t.label == "person")
    assert person_track.misses == 2


def test_filters_drop_detections() -> None:
    config = TrackerConfig(min_hits=1, labels=["person"], min_score=0.5, min_area=1000)
    tracker = ObjectTracker(config)
    update = tracker.update(
        [
            Det("cat", 0.9, Box(0, 0, 50, 50)),
            Det("person", 0.4, Box(100, 0, 140, 80)),
            Det("person", 0.8, Box(200, 0, 210, 10)),
            Det("person", 0.8, Box(300, 0, 340, 80)),
        ],
        ts=0.0,
    )
    assert [t.box.x1 for t in update.started] == [300]


def test_zones_entered_use_the_bottom_centre() -> None:
    door = ZoneConfig(name="door", points=[(200, 0), (400, 0), (400, 200), (200, 200)])
    cars_only = ZoneConfig(
        name="drive", points=[(0, 0), (1000, 0), (1000, 1000), (0, 1000)], labels=["car"]
    )
    tracker = ObjectTracker(TrackerConfig(min_hits=1, zones=[door, cars_only]))
    walker = Walker("a", 100, 60, vx=80)  # 10 px a frame, feet at y = 140
    seen: list[frozenset[str]] = []
    for i in range(20):
        update = tracker.update([walker.det(at(i))], at(i))
        (track,) = update.started + update.updated
        assert track.id == 1
        seen.append(track.zones)
    # Foot x = 120 + 10 i: outside, then inside [200, 400] past i = 8; 'drive' is cars only.
    assert seen[:8] == [frozenset()] * 8
    assert all(z == frozenset({"door"}) for z in seen[9:])
    final = tracker.flush(ts=3.0).ended[0]
    assert final.zones_entered == frozenset({"door"})


def test_best_score_box_and_frame_are_kept() -> None:
    tracker = ObjectTracker(TrackerConfig(min_hits=2))
    walker = Walker("a", 100, 100, vx=40)
    scores = [0.6, 0.7, 0.95, 0.8, 0.9]
    for i, score in enumerate(scores):
        tracker.update([walker.det(at(i), score)], at(i), frame_index=10 + i)
    (ended,) = tracker.flush(1.0).ended
    assert ended.best_score == 0.95
    assert ended.best_box == walker.box(at(2))
    assert ended.best_frame_index == 12
    assert ended.box == walker.box(at(4))
    assert ended.hits == 5
    assert ended.first_seen == 0.0
    assert ended.last_seen == at(4)


# ---- config ---------------------------------------------------------------------------


def test_config_is_strict_and_bounded() -> None:
    with pytest.raises(pydantic.ValidationError):
        TrackerConfig(min_hit=2)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        TrackerConfig(stitch_s=1.0)  # type: ignore[call-arg]  # replaced by lost_s
    with pytest.raises(pydantic.ValidationError):
        ZoneConfig(name="z", points=[(0, 0), (1, 1)])
    for bad in (
        {"lost_s": -0.1},
        {"lost_s": 61.0},
        {"high_score": 1.5},
        {"iou_threshold": 0.0},
        {"low_iou_threshold": 1.1},
        {"velocity_noise": -1.0},
        {"measurement_noise": 0.0},
        {"max_age_s": 5.0, "lost_s": 6.0},
    ):
        with pytest.raises(pydantic.ValidationError):
            TrackerConfig.model_validate(bad)
    schema = TrackerConfig.model_json_schema()
    assert all("description" in p for p in schema["properties"].values())


def test_a_track_that_walks_out_of_the_picture_is_missed_even_where_nobody_looked() -> None:
    """Outside the frame nothing can be seen: the track ends instead of waiting max_age_s."""
    cfg = TrackerConfig(min_hits=2, max_misses=2, lost_s=0.5, max_age_s=60)
    frame = Box(0, 0, 200, 200)
    kept = ObjectTracker(cfg)
    gone = ObjectTracker(cfg)
    walker = Walker("a", 60, 100, vx=80)  # leaves the 200 px wide picture after 1.25 s
    ended_at: dict[str, float] = {}
    for i in range(60):
        ts = at(i)
        box = walker.box(ts)
        dets = [walker.det(ts)] if box.x2 <= frame.x2 else []
        looked = [Box(0, 0, 100, 200)]  # motion only on the left: the right is unobserved
        for name, tracker, edge in (("kept", kept, None), ("gone", gone, frame)):
            update = tracker.update(dets, ts, looked=looked, frame=edge)
            if update.ended and name not in ended_at:
                ended_at[name] = ts
    assert "kept" not in ended_at  # without the frame, a track off the picture waits
    assert len(kept.tracks) == 1
    assert ended_at["gone"] < 2.5
    assert len(gone.tracks) == len(kept.tracks) - 1 == 0


# ---- nested parts (nested_overlap) ----------------------------------------------------


def _pair_with_part(leave_at: int | None) -> list[Frame]:
    """A pair's box walking right with, from frame 5, a part (an upper body) inside it;
    from `leave_at` the part walks off on its own (it was a person, not a part)."""
    pair = Walker("pair", 100, 100, vx=20, w=90, h=100)
    part = Walker("part", 150, 105, vx=20, w=30, h=45)
    frames: list[Frame] = []
    for i in range(60):
        dets = [pair.det(at(i), 0.9)]
        if i >= 5:
            box = part.box(at(i))
            if leave_at is not None and i > leave_at:
                dy = 60 * (at(i) - at(leave_at))
                box = Box(box.x1, box.y1 + dy, box.x2, box.y2 + dy)
            dets.append(Det("person", 0.8, box, "part"))
        frames.append((at(i), dets))
    return frames


def _part_inside_a_pair(config: TrackerConfig, leave_at: int | None) -> Log:
    return run(ObjectTracker(config), _pair_with_part(leave_at))


def test_a_part_inside_a_reported_box_is_tracked_but_never_reported() -> None:
    log = _part_inside_a_pair(TrackerConfig(min_hits=3, nested_overlap=0.9), leave_at=None)
    assert ids(log.started) == [1]
    assert log.walkers_of(1) == {"pair"}
    assert ids(log.ended) == [1]  # the part ends unannounced, too
    assert all(t.id == 1 for t in log.updated)


def test_without_nested_overlap_the_part_is_a_second_track() -> None:
    log = _part_inside_a_pair(TrackerConfig(min_hits=3), leave_at=None)
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(2) == {"part"}


def test_a_part_that_walks_out_of_the_box_is_reported_from_then_on() -> None:
    log = _part_inside_a_pair(TrackerConfig(min_hits=3, nested_overlap=0.9), leave_at=20)
    assert ids(log.started) == [1, 2]
    part = log.started[1]
    assert part.first_seen < at(20) <= part.last_seen  # tracked before, reported once out
    assert log.walkers_of(2) == {"part"}
    assert ids(log.ended) == [1, 2]


# ---- parts of a matched object (part_overlap) --------------------------------------------


def _live_ids_per_frame(tracker: ObjectTracker, frames: list[Frame]) -> list[set[int]]:
    """Feed the frames; return the ids of every live track (tentative ones too) after each."""
    out: list[set[int]] = []
    for index, (ts, dets) in enumerate(frames):
        tracker.update(dets, ts, index)
        out.append({t.id for t in tracker.tracks})
    return out


def test_a_part_inside_a_matched_box_is_never_tracked() -> None:
    """Unlike nested_overlap (tracked, unreported), a part starts no track at all, so there
    is nothing that could take the whole over when the whole is missed."""
    frames = _pair_with_part(leave_at=None)
    parts = _live_ids_per_frame(ObjectTracker(TrackerConfig(min_hits=3, part_overlap=0.9)), frames)
    assert all(live == {1} for live in parts)
    nested = _live_ids_per_frame(
        ObjectTracker(TrackerConfig(min_hits=3, nested_overlap=0.9)), frames
    )
    assert nested[-1] == {1, 2}  # the other rule tracks the part and only hides it


def test_a_part_that_walks_out_of_the_box_starts_its_track_once_out() -> None:
    log = run(ObjectTracker(TrackerConfig(min_hits=3, part_overlap=0.9)), _pair_with_part(20))
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(1) == {"pair"}
    assert log.walkers_of(2) == {"part"}
    assert log.started[1].first_seen > at(20)  # born only once it showed itself


def test_a_part_starts_a_track_when_its_whole_was_not_matched() -> None:
    """Only a box matched on the same frame makes a part: a person inside a box the
    detector did not find this frame is a person."""
    tracker = ObjectTracker(TrackerConfig(min_hits=1, part_overlap=0.9, small_box_area=0))
    whole = Walker("whole", 100, 100, vx=0, w=90, h=100)
    tracker.update([whole.det(0.0, 0.9)], 0.0, 0)
    inner = Det("person", 0.9, Box(150, 105, 180, 150), "inner")
    update = tracker.update([inner], DT, 1)
    assert [t.box for t in update.started] == [inner.box]
    update = tracker.update([whole.det(2 * DT, 0.9), inner], 2 * DT, 2)
    assert {t.id for t in update.updated} == {1, 2}  # a started track keeps being matched


# ---- the same object boxed twice (duplicate_overlap) -------------------------------------


def _front_boxed_twice(config: TrackerConfig) -> Log:
    """Two walkers side by side (a in front, b beside it), both tracked. On frame 10 the
    detector boxes them as one (a high score, nearer a's box) and, at a low score, a's own
    box again; b has no box of its own. Then both are seen apart again."""
    a = Walker("a", 100, 100, vx=-20, w=40, h=80)
    b = Walker("b", 140, 100, vx=-20, w=40, h=80)
    frames: list[Frame] = []
    for i in range(20):
        t = at(i)
        if i == 10:
            ab = a.box(t)
            both = Box(ab.x1, ab.y1, ab.x2 + 35, ab.y2)
            frames.append((t, [Det("person", 0.9, both, "both"), Det("person", 0.4, ab, "a")]))
        else:
            frames.append((t, [a.det(t, 0.9), b.det(t, 0.9)]))
    return run(ObjectTracker(config), frames)


def test_a_low_box_inside_a_matched_one_keeps_no_other_track() -> None:
    """The low box is a's, seen twice: it must not continue b's track (which would move b's
    track onto a). Without the rule b's track takes it by centre distance."""
    cfg = TrackerConfig(min_hits=3, small_box_area=12000, center_distance=0.5)
    log = _front_boxed_twice(cfg.model_copy(update={"duplicate_overlap": 0.8}))
    assert log.walkers_of(1) == {"a", "both"}
    assert log.walkers_of(2) == {"b"}  # missed on frame 10, then continued
    assert ids(log.started) == [1, 2]
    plain = _front_boxed_twice(cfg)
    assert "a" in plain.walkers_of(2)  # b's track pulled onto a's second box


# ---- a person hidden by another (occlusion_overlap) ---------------------------------------


def _hidden_and_turned_frames() -> list[Frame]:
    """a stands still; b walks up to it from the right and goes behind it. For a second the
    detector sees one box around both, while b stops and turns; then b steps out to the
    right of a, walking back the way it came. b's prediction has gone on to the left, past a."""
    a = Walker("a", 100, 100, vx=0)
    b_in = Walker("b", 260, 100, vx=-80)  # 10 px a frame: at 140 on frame 12
    b_out = Walker("b", 145, 100, vx=40)  # from frame 20, 35 px of its 40 inside the box
    both = Box(100, 100, 180, 180)
    frames: list[Frame] = []
    for i in range(32):
        t = at(i)
        if i < 12:
            frames.append((t, [a.det(t, 0.9), b_in.det(t, 0.9)]))
        elif i < 20:
            frames.append((t, [Det("person", 0.9, both, "both")]))
        else:
            frames.append((t, [a.det(t, 0.9), b_out.det(t - at(20), 0.9)]))
    return frames


def _hidden_and_turned(config: TrackerConfig) -> Log:
    return run(ObjectTracker(config), _hidden_and_turned_frames())


def test_a_person_stepping_out_from_behind_another_keeps_their_id() -> None:
    cfg = TrackerConfig(min_hits=3, max_misses=2, lost_s=1.5)
    log = _hidden_and_turned(cfg.model_copy(update={"occlusion_overlap": 0.7}))
    assert ids(log.started) == [1, 2]
    assert log.walkers_of(2) == {"b"}  # found again where it went in, not where it drifted to
    assert log.walkers_of(1) == {"a", "both"}
    plain = _hidden_and_turned(cfg)
    assert ids(plain.started) == [1, 2, 3]  # without the rule b comes back as someone new
    assert plain.walkers_of(3) == {"b"}


def _holder_look_after_hiding(config: TrackerConfig) -> tuple[Descriptor, Descriptor]:
    """a (red) and b (blue) as in `_hidden_and_turned_frames`; return a's look just before
    b goes behind it, and five frames of one box around both later, while b's prediction
    still lies in that box (it drifts on, out of it, from frame 18)."""
    tracker = ObjectTracker(config)
    image = np.zeros((240, 320, 3), np.uint8)
    before = after = np.zeros(0, np.float32)
    for index, (ts, dets) in enumerate(_hidden_and_turned_frames()[:17]):
        image[:] = 0
        for d in sorted(dets, key=lambda d: d.who == "both"):
            b = d.box
            if d.who == "both":  # a's half red, b's half blue: two people in one box
                image[int(b.y1) : int(b.y2), int(b.x1) : int(b.x1 + 40)] = (0, 0, 255)
                image[int(b.y1) : int(b.y2), int(b.x1 + 40) : int(b.x2)] = (255, 0, 0)
            else:
                colour = (0, 0, 255) if d.who == "a" else (255, 0, 0)
                image[int(b.y1) : int(b.y2), int(b.x1) : int(b.x2)] = colour
        tracker.update(dets, ts, index, image=image)
        look = next(v.appearance for v in tracker._live.values() if v.track.id == 1)
        assert look is not None
        if index == 11:
            before = look.copy()
        after = look
    return before, after


def test_a_box_hiding_a_track_teaches_no_look() -> None:
    """The box that hides b shows a and b: a's look must not take b's colours from it."""
    cfg = TrackerConfig(min_hits=3, max_misses=2, lost_s=1.5, appearance_weight=1.0)
    before, after = _holder_look_after_hiding(cfg.model_copy(update={"occlusion_overlap": 0.7}))
    assert np.array_equal(before, after)
    before, after = _holder_look_after_hiding(cfg)
    assert not np.array_equal(before, after)  # without the rule a learns the mix


def test_a_hidden_track_is_not_continued_by_someone_unlike_it() -> None:
    """With the appearance cue on, the detection stepping out must look like the hidden
    track (within reid_max_distance): a stranger coming out of the group starts anew."""
    cfg = TrackerConfig(
        min_hits=3, max_misses=2, lost_s=1.5, occlusion_overlap=0.7, appearance_weight=1.0
    )
    tracker = ObjectTracker(cfg)
    image = np.zeros((240, 320, 3), np.uint8)
    frames = _hidden_and_turned_frames()
    started: list[int] = []
    for index, (ts, dets) in enumerate(frames):
        image[:] = 0
        for d in dets:
            b = d.box
            colour = {"a": (0, 0, 255), "b": (255, 0, 0), "both": (0, 0, 255)}[d.who]
            if d.who == "b" and index >= 20:
                colour = (0, 255, 0)  # someone else steps out: green, not blue
            image[int(b.y1) : int(b.y2), int(max(b.x1, 0)) : int(b.x2)] = colour
        update = tracker.update(dets, ts, index, image=image)
        started += [t.id for t in update.started]
    assert started == [1, 2, 3]


# ---- groups of reported objects (group_overlap) ------------------------------------------


def _pair_then_one_box(config: TrackerConfig) -> list[set[int]]:
    """Two walkers side by side, tracked; from frame 10 the detector boxes them as one for
    ten frames, then finds them apart again."""
    a = Walker("a", 100, 100, vx=20, w=30, h=80)
    b = Walker("b", 136, 100, vx=20, w=30, h=80)
    frames: list[Frame] = []
    for i in range(30):
        t = at(i)
        if 10 <= i < 20:
            both = a.box(t).union(b.box(t))
            frames.append((t, [Det("person", 0.9, both, "both")]))
        else:
            frames.append((t, [a.det(t, 0.9), b.det(t, 0.9)]))
    return _live_ids_per_frame(ObjectTracker(config), frames)


def test_a_box_around_two_reported_tracks_starts_no_track() -> None:
    # IoU 0.45 with either walker's box: too little to continue one (iou_threshold 0.5)
    # (max_misses 12: both stay reported through the ten frames; a group only holds back
    # a birth while the people in it are still reported)
    cfg = TrackerConfig(
        min_hits=3, iou_threshold=0.5, small_box_area=0, max_misses=12, group_overlap=0.5
    )
    grouped = _pair_then_one_box(cfg)
    assert all(live <= {1, 2} for live in grouped)
    assert grouped[-1] == {1, 2}  # both kept their ids through it
    plain = _pair_then_one_box(cfg.model_copy(update={"group_overlap": 0.0}))
    assert any(len(live) > 2 for live in plain)  # without it the group box is a new track


def test_a_person_covering_two_reported_tracks_starts_once_apart() -> None:
    cfg = TrackerConfig(min_hits=3, group_overlap=0.5)
    far_a = Walker("a", 300, 100, vx=0, w=15, h=40)
    far_b = Walker("b", 320, 100, vx=0, w=15, h=40)
    near = Walker("near", 327.5, 80, vx=-60, w=60, h=150)  # covers both at 5, then walks off
    frames = [
        (
            at(i),
            [far_a.det(at(i), 0.9), far_b.det(at(i), 0.9)]
            + ([near.det(at(i), 0.9)] if i >= 5 else []),
        )
        for i in range(30)
    ]
    log = run(ObjectTracker(cfg), frames)
    assert ids(log.started) == [1, 2, 3]
    assert log.walkers_of(3) == {"near"}
    assert log.started[2].first_seen > at(5)  # held back while it covered them
