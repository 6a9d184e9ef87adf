"""The whole-frame look for still people and the per-label filters, on the bundled detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.config.objects import ObjectFilter
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.vision.analyzer import FrameAnalyzer
from gateway.vision.component import build_detector
from tests.gateway.vision.conftest import read_frames

Frame = npt.NDArray[np.uint8]

PERSON = ModelConfig(id="person", name="person_ssdlite", score_threshold=0.3)


def camera(**objects: object) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "still",
            "source": "mqtt:still",
            "model": "person",
            "tracker": {"labels": ["person"], "min_score": 0.3, "min_hits": 2},
            "objects": objects,
        }
    )


@pytest.fixture(scope="module")
def crowded_frame(vtest_path: Path) -> Frame:
    """Frame 300 of vtest.avi: several people on the walkway."""
    return np.asarray(list(read_frames(vtest_path, 301))[-1], dtype=np.uint8)


def run_still(cam: CameraConfig, frame: Frame, seconds: float, fps: float = 10.0) -> FrameAnalyzer:
    """Feed the same frame for `seconds` (a scene where nobody moves)."""
    analyzer = FrameAnalyzer(cam, PERSON, build_detector(PERSON))
    for i in range(int(seconds * fps)):
        analyzer.process(frame, i / fps)
    return analyzer


def test_still_people_are_found_by_the_periodic_whole_frame_look(crowded_frame: Frame) -> None:
    looking = run_still(camera(full_frame_interval_s=0.5), crowded_frame, 3.0)
    assert looking.full_frame_passes == 6  # t = 0, 0.5, ..., 2.5
    assert len(looking.tracker.tracks) >= 2  # people who never moved are tracked
    blind = run_still(camera(full_frame_interval_s=0), crowded_frame, 3.0)
    assert blind.full_frame_passes == 0
    assert len(blind.tracker.tracks) < len(looking.tracker.tracks)


def test_a_filter_drops_detections_outside_its_bounds(crowded_frame: Frame) -> None:
    kept = run_still(camera(full_frame_interval_s=0.5), crowded_frame, 1.0)
    assert kept.tracker.tracks
    smallest = min(t.box.width * t.box.height for t in kept.tracker.tracks)
    huge_only = camera(full_frame_interval_s=0.5, filters={"person": {"min_area": smallest * 100}})
    assert run_still(huge_only, crowded_frame, 1.0).tracker.tracks == []


@pytest.mark.parametrize(
    ("rule", "score", "w", "h", "kept"),
    [
        (ObjectFilter(), 0.1, 10, 20, True),
        (ObjectFilter(min_score=0.5), 0.4, 10, 20, False),
        (ObjectFilter(min_area=300), 0.9, 10, 20, False),
        (ObjectFilter(max_area=100), 0.9, 10, 20, False),
        (ObjectFilter(max_ratio=1.0), 0.9, 30, 20, False),
        (ObjectFilter(min_ratio=0.3, max_ratio=1.0), 0.9, 10, 20, True),
        (ObjectFilter(), 0.9, 10, 0, False),
    ],
)
def test_object_filter_bounds(
    rule: ObjectFilter, score: float, w: float, h: float, kept: bool
) -> None:
    assert rule.keeps(score, w, h) is kept


def test_object_filter_rejects_crossed_bounds() -> None:
    with pytest.raises(ValueError, match="min_area <= max_area"):
        ObjectFilter(min_area=10, max_area=5)


@pytest.mark.parametrize(
    ("width", "height"), [(1, 1), (2, 300), (640, 3), (301, 299), (1920, 1080)]
)
def test_frames_of_any_size_go_through_detector_and_tracker(width: int, height: int) -> None:
    """Odd sizes (a 1-pixel frame, a strip, a frame smaller than the model's input)."""
    analyzer = FrameAnalyzer(camera(full_frame_interval_s=0.1), PERSON, build_detector(PERSON))
    rng = np.random.default_rng(width * height)
    for i in range(5):
        frame = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        outcome = analyzer.process(frame, i / 10)
        assert (outcome.width, outcome.height) == (width, height)
        assert all(0 <= t.box.x1 <= t.box.x2 <= width for t in outcome.active)
    assert analyzer.full_frame_passes == 5
