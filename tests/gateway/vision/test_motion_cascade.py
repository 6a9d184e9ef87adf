"""Per-person boxes at the edge: wide blobs split, groups escalated.

Lost tracks (formerly "stitching") are the tracker's `lost_s`: see test_motion_tracker.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gateway.config.vision import EscalationConfig
from gateway.inference.geometry import Box
from gateway.vision.blobsplit import ColumnSpan, split_columns, split_mask_box
from gateway.vision.cascade import Band, Decision
from gateway.vision.motion import MotionConfig, MotionDetector
from gateway.vision.tracker import Track, TrackState

FPS = 10.0


@dataclass(slots=True, frozen=True)
class Det:
    """Stands in for the decoders' Detection."""

    label: str
    score: float
    box: Box


def two_people_mask() -> np.ndarray:
    """Two 20x60 'people' side by side, joined by a thin band at waist height."""
    mask = np.zeros((60, 44), bool)
    mask[:, 0:20] = True
    mask[:, 24:44] = True
    mask[28:32, 20:24] = True  # arms touching: one connected blob
    return mask


def test_split_columns_cuts_two_people_side_by_side() -> None:
    spans = split_columns(two_people_mask(), aspect=0.6, valley=0.6)
    assert len(spans) == 2
    assert spans[0].x1 == 0
    assert 18 <= spans[0].x2 <= 26
    assert spans[1].x2 == 44


def test_split_keeps_one_person_and_a_narrow_blob_whole() -> None:
    one = np.zeros((60, 30), bool)
    one[:, 5:25] = True
    assert split_columns(one, 0.6, 0.6) == [ColumnSpan(0, 30)]  # not wider than 0.6 x height
    wide_solid = np.ones((40, 60), bool)  # wide but no valley: a van, one object
    assert len(split_columns(wide_solid, 0.6, 0.6)) == 1


def test_split_mask_box_gives_tight_boxes() -> None:
    mask = two_people_mask()
    mask[:10, 24:44] = False  # the right one is shorter
    parts = split_mask_box(mask, 0.6, 0.6)
    assert len(parts) == 2
    assert (parts[0].y1, parts[0].y2) == (0, 60)
    assert (parts[1].y1, parts[1].y2) == (10, 60)


def motion_boxes(split: bool) -> tuple[Box, ...]:
    """Boxes of two grey 'people' 6 px apart walking in over a flat background."""
    cfg = MotionConfig(split_wide=split, warmup_frames=0, min_area=50, merge_distance=0)
    detector = MotionDetector(cfg)
    background = np.full((288, 384), 40, np.uint8)
    detector.detect(background)
    frame = background.copy()
    frame[100:200, 100:140] = 220
    frame[100:200, 146:186] = 220
    return detector.detect(frame).boxes


def test_motion_splits_a_two_person_blob_only_when_enabled() -> None:
    whole = motion_boxes(split=False)
    assert len(whole) == 1  # the dilation joins them: one blob
    parts = motion_boxes(split=True)
    assert len(parts) == 2
    assert all(p.width < 0.7 * whole[0].width for p in parts)
    assert parts[0].x2 <= parts[1].x1 + 1


def track_with(box: Box, score: float) -> Track:
    return Track(
        id=1,
        label="person",
        state=TrackState.ENDED,
        first_seen=0.0,
        last_seen=1.0,
        box=box,
        score=score,
        best_score=score,
        best_box=box,
        best_frame_index=3,
        hits=10,
        misses=0,
        zones=frozenset(),
        zones_entered=frozenset(),
    )


def test_group_shaped_settled_tracks_escalate() -> None:
    group = track_with(Box(0, 0, 70, 100), 0.999)
    single = track_with(Box(0, 0, 40, 100), 0.999)
    band = Band(0.5, 0.99, group_aspect=0.6)
    assert band.decide_track(group) is Decision.HARD_CASE
    assert band.decide_track(single) is Decision.SETTLED
    assert Band(0.5, 0.99).decide_track(group) is Decision.SETTLED  # off by default
    low = track_with(Box(0, 0, 70, 100), 0.2)
    assert band.decide_track(low) is Decision.DROPPED  # the score still drops
    assert EscalationConfig().group_aspect == 0.0
