"""The tracker's motion model: a constant-velocity Kalman filter on a box, time in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.inference.geometry import Box
from gateway.vision.kalman import BoxKalman, KalmanNoise
from gateway.vision.tracker import _assign

NOISE = KalmanNoise(velocity=0.5, measurement=0.05)


def moving(t: float, vx: float = 60.0, vy: float = -20.0) -> Box:
    return Box.from_xywh(100 + vx * t, 200 + vy * t, 40, 80)


def test_one_long_step_predicts_the_same_as_many_short_ones() -> None:
    one = BoxKalman(moving(0), 0.0, NOISE)
    many = BoxKalman(moving(0), 0.0, NOISE)
    for k in (one, many):
        k.predict(0.1)
        k.update(moving(0.1))
    one.predict(0.6)
    for i in range(2, 7):
        many.predict(i / 10)
    assert np.allclose(one.mean, many.mean)
    # The size the noise scales by barely changes; the covariances agree to a fraction.
    assert np.allclose(one.covariance, many.covariance, rtol=1e-2)


def test_velocity_is_learnt_in_pixels_per_second_and_extrapolated() -> None:
    k = BoxKalman(moving(0), 0.0, NOISE)
    times = [0.125, 0.25, 0.5, 0.625, 1.0, 1.125, 1.25, 1.75, 2.0]  # uneven on purpose
    for t in times:
        k.predict(t)
        k.update(moving(t))
    vx, vy = k.velocity
    assert vx == pytest.approx(60.0, rel=0.02)
    assert vy == pytest.approx(-20.0, rel=0.05)
    ahead = k.box_at(3.0)  # a second unseen
    assert ahead.center.distance(moving(3.0).center) < 2.0
    assert k.ts == 2.0  # box_at leaves the state alone


def test_held_size_stops_a_growing_box_from_growing() -> None:
    k = BoxKalman(Box.from_xywh(0, 0, 40, 80), 0.0, NOISE)
    for i in range(1, 8):
        t = i / 8
        k.predict(t)
        k.update(Box.from_xywh(0, 0, 40 + 8 * i, 80 + 16 * i))
    assert k.box_at(2.0).height > k.box.height + 20
    k.hold_size()
    assert k.box_at(2.0).height == pytest.approx(k.box.height)


def test_a_degenerate_box_and_time_going_back_are_harmless() -> None:
    k = BoxKalman(Box(10, 10, 10, 10), 1.0, NOISE)
    k.predict(0.5)  # earlier than the state: nothing happens
    assert k.ts == 1.0
    k.predict(1.1)
    k.update(Box(11, 10, 11, 10))
    assert np.isfinite(k.mean).all()
    assert np.isfinite(k.covariance).all()
    assert k.box.width >= 0


def test_assignment_keeps_one_good_pair_rather_than_two_poor_ones() -> None:
    # Row 0 fits column 0 well (cost 0.1) and column 1 poorly; row 1 fits column 0 poorly.
    # The most pairs would be (0, 1) + (1, 0); the least cost with a limit keeps (0, 0).
    cost = np.array([[0.1, 0.65], [0.65, 1e6]])
    assert _assign(cost, limit=0.7) == [(0, 0)]
    assert _assign(cost, limit=0.6) == [(0, 0)]
    assert _assign(np.array([[0.8]]), limit=0.7) == []
    assert _assign(np.zeros((0, 3)), limit=0.7) == []
