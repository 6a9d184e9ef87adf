"""Motion gating on real footage (vtest.avi: pedestrians on a walkway, fixed camera)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pydantic
import pytest

from gateway.inference.geometry import Box, Point, Polygon
from gateway.vision.motion import MotionConfig, MotionDetector, MotionResult
from tests.gateway.vision.conftest import Frame, read_frames

WIDTH, HEIGHT = 768, 576
WARMUP = 5  # frames skipped before asserting: the first ones only build the background


def _still(detector: MotionDetector, frame: Frame, count: int) -> list[MotionResult]:
    return [detector.detect(frame) for _ in range(count)]


@pytest.mark.parametrize("method", ["average", "mog2"])
def test_walking_people_give_square_regions(
    vtest_path: Path, method: Literal["average", "mog2"]
) -> None:
    config = MotionConfig(method=method)
    detector = MotionDetector(config)
    results = [detector.detect(f) for f in read_frames(vtest_path, 201)]
    assert len(results) == 201
    moving = results[WARMUP:]
    with_regions = sum(1 for r in moving if r.regions)
    # People walk through the whole clip start: nearly every frame has motion.
    assert with_regions >= 0.9 * len(moving)
    assert detector.stats.frames_with_motion == sum(1 for r in results if r.regions)
    assert detector.stats.recalibrations == 0
    for result in moving:
        assert 0.0 <= result.motion_fraction < config.global_change_fraction
        for region in result.regions:
            assert region.width == pytest.approx(region.height)
            assert region.width >= config.region_min_size
            assert Box(0, 0, WIDTH, HEIGHT).intersection(region) == region.area
        # Every motion blob lies inside some region.
        for blob in result.boxes:
            assert any(r.intersection(blob) == pytest.approx(blob.area) for r in result.regions)


@pytest.mark.parametrize("method", ["average", "mog2"])
def test_still_scene_reports_nothing_after_warmup(
    first_frame: Frame, method: Literal["average", "mog2"]
) -> None:
    detector = MotionDetector(MotionConfig(method=method))
    results = _still(detector, first_frame, 30)
    assert all(not r.regions and not r.recalibrated for r in results)
    assert all(r.motion_fraction == 0.0 for r in results[WARMUP:])
    assert detector.stats.frames_with_motion == 0


def test_sensor_noise_is_not_motion(first_frame: Frame) -> None:
    detector = MotionDetector()
    _still(detector, first_frame, 10)
    rng = np.random.default_rng(7)
    for _ in range(20):
        noise = rng.normal(0.0, 3.0, first_frame.shape)
        noisy = np.clip(first_frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        result = detector.detect(noisy)
        assert result.regions == ()
        assert not result.recalibrated
    assert detector.stats.frames_with_motion == 0


def test_light_change_recalibrates_instead_of_motion(first_frame: Frame) -> None:
    detector = MotionDetector()
    _still(detector, first_frame, 10)
    brighter = np.clip(first_frame.astype(np.int16) + 60, 0, 255).astype(np.uint8)
    result = detector.detect(brighter)
    assert result.recalibrated
    assert result.regions == ()
    assert result.motion_fraction > detector.config.global_change_fraction
    assert detector.stats.recalibrations == 1
    # The new light level is the new background: still again, no motion, no new reset.
    after = _still(detector, brighter, 10)
    assert all(not r.regions and not r.recalibrated for r in after)
    assert detector.stats.recalibrations == 1


def test_mask_over_walkway_removes_regions_there(vtest_path: Path) -> None:
    walkway_top = 180.0
    walkway = [(0.0, walkway_top), (WIDTH, walkway_top), (WIDTH, HEIGHT), (0.0, HEIGHT)]
    plain = MotionDetector()
    masked = MotionDetector(MotionConfig(masks=[walkway]))
    plain_blobs: list[Box] = []
    masked_blobs: list[Box] = []
    for frame in read_frames(vtest_path, 120):
        plain_blobs.extend(plain.detect(frame).boxes)
        masked_blobs.extend(masked.detect(frame).boxes)
    polygon = Polygon.from_pairs(walkway)

    def below(blobs: list[Box]) -> int:
        return sum(1 for b in blobs if polygon.contains(b.center))

    assert below(plain_blobs) > 50  # people do walk there
    assert below(masked_blobs) == 0
    # Dilation may reach a few pixels past the mask edge, no further.
    assert all(b.y2 <= walkway_top + 8 for b in masked_blobs)
    assert masked_blobs  # motion above the walkway is still seen


def test_frame_size_change_resets_instead_of_crashing(vtest_path: Path) -> None:
    import cv2

    detector = MotionDetector()
    frames = list(read_frames(vtest_path, 20))
    for frame in frames[:10]:
        detector.detect(frame)
    small = cv2.resize(frames[10], (WIDTH // 2, HEIGHT // 2))
    result = detector.detect(small)
    assert result.regions == ()
    assert detector.stats.resets == 1
    for frame in frames[11:]:
        result = detector.detect(cv2.resize(frame, (WIDTH // 2, HEIGHT // 2)))
        for region in result.regions:
            assert region == region.clip(WIDTH // 2, HEIGHT // 2)
    detector.detect(frames[0][:, :, 0])  # grey input of the first size: another reset
    assert detector.stats.resets == 2


def test_disabled_gives_the_whole_frame(first_frame: Frame) -> None:
    result = MotionDetector(MotionConfig(enabled=False)).detect(first_frame)
    assert result.regions == (Box(0.0, 0.0, WIDTH, HEIGHT),)


def test_config_is_strict() -> None:
    with pytest.raises(pydantic.ValidationError):
        MotionConfig(treshold=10)  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        MotionConfig(masks=[[(0.0, 0.0), (1.0, 1.0)]])
    with pytest.raises(pydantic.ValidationError):
        MotionConfig(global_change_fraction=0.0)
    schema = MotionConfig.model_json_schema()
    assert all("description" in p for p in schema["properties"].values())
    assert Polygon.from_pairs([(0, 0), (4, 0), (0, 4)]).contains(Point(1, 1))
