"""Constant-velocity Kalman filter on one box, with time in seconds (the tracker's motion model).

State: the box's centre x, centre y, width and height, and their rates in pixels per second.
As in SORT and ByteTrack the box moves at constant velocity between detections; unlike them
the step is the real time between frames, not one frame, so a skipped or late frame moves
the prediction as far as the object moved. The process noise is continuous white-noise
acceleration: each rate wanders by `velocity` box sizes per second per square root of a
second, which makes one prediction over 0.5 s the same as five over 0.1 s. Every noise
scales with the box's size (the square root of its area), so a near person may jitter more
pixels than a far one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gateway.inference.geometry import Box

__all__ = ["BoxKalman", "KalmanNoise"]

Vector = npt.NDArray[np.float64]

_N = 4  # measured: centre x, centre y, width, height
_INITIAL_POSITION = 2.0
"""Initial spread of the centre and size, in measurement standard deviations (ByteTrack's 2)."""
_INITIAL_SPEED = 2.0
"""Initial spread of the rates, in box sizes per second: a new object's speed is unknown."""
_MIN_SIZE = 1.0
"""Smallest size the noise is scaled by, so a degenerate box never makes a matrix singular."""


@dataclass(slots=True, frozen=True)
class KalmanNoise:
    """How much a box is trusted to keep its velocity, and how much a detection jitters."""

    velocity: float
    """Change of the rates, box sizes per second per sqrt(second)."""
    measurement: float
    """Standard deviation of a detected centre and size, as a fraction of the box size."""


def _size(width: float, height: float) -> float:
    return max(math.sqrt(max(width, 0.0) * max(height, 0.0)), _MIN_SIZE)


def _box(state: Vector) -> Box:
    cx, cy, w, h = (float(v) for v in state)
    w, h = max(w, 0.0), max(h, 0.0)
    return Box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _measure(box: Box) -> Vector:
    c = box.center
    return np.array([c.x, c.y, box.width, box.height], np.float64)


class BoxKalman:
    """One object's box and velocity; `predict` to a time, then `update` with a detection.

    The four coordinates move independently (the same motion model, a diagonal measurement
    noise and a diagonal start), so the 8x8 covariance is four 2x2 blocks, kept as three
    vectors: `var_pos`, `cov_pv` (position-rate) and `var_rate`, one entry per coordinate.
    The filter is then a handful of vector operations, with no matrix inverse.
    """

    __slots__ = ("cov_pv", "mean", "noise", "ts", "var_pos", "var_rate")

    def __init__(self, box: Box, ts: float, noise: KalmanNoise) -> None:
        self.noise = noise
        self.ts = ts
        """Time the state is for (seconds)."""
        self.mean: Vector = np.concatenate([_measure(box), np.zeros(_N)])
        """Centre x, centre y, width, height, then their rates (pixels per second)."""
        size = _size(box.width, box.height)
        self.var_pos: Vector = np.full(_N, (_INITIAL_POSITION * noise.measurement * size) ** 2)
        self.cov_pv: Vector = np.zeros(_N)
        self.var_rate: Vector = np.full(_N, (_INITIAL_SPEED * size) ** 2)

    @property
    def covariance(self) -> Vector:
        """The full 8x8 state covariance (for inspection; the filter keeps the blocks)."""
        return np.block(
            [
                [np.diag(self.var_pos), np.diag(self.cov_pv)],
                [np.diag(self.cov_pv), np.diag(self.var_rate)],
            ]
        )

    @property
    def box(self) -> Box:
        """The box the state describes (width and height at least 0)."""
        return _box(self.mean[:_N])

    def box_at(self, ts: float) -> Box:
        """Return the box expected at `ts`, leaving the state as it is."""
        dt = max(ts - self.ts, 0.0)
        return _box(self.mean[:_N] + dt * self.mean[_N:])

    @property
    def velocity(self) -> tuple[float, float]:
        """Estimated centre velocity (pixels per second), x then y."""
        return float(self.mean[4]), float(self.mean[5])

    def predict(self, ts: float) -> None:
        """Move the state forward to `ts`; a time not after the state's leaves it unchanged."""
        dt = ts - self.ts
        if dt <= 0.0:
            return
        self.ts = ts
        q = (self.noise.velocity * _size(float(self.mean[2]), float(self.mean[3]))) ** 2
        # P <- F P F^T + Q, F = [[1, dt], [0, 1]], Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]].
        self.var_pos = self.var_pos + 2 * dt * self.cov_pv + dt * dt * self.var_rate + q * dt**3 / 3
        self.cov_pv = self.cov_pv + dt * self.var_rate + q * dt * dt / 2
        self.var_rate = self.var_rate + q * dt
        self.mean[:_N] += dt * self.mean[_N:]

    def update(self, box: Box) -> None:
        """Correct the state with a detected box at the state's time."""
        measured = (self.noise.measurement * _size(box.width, box.height)) ** 2
        innovation = _measure(box) - self.mean[:_N]
        spread = self.var_pos + measured
        gain_pos = self.var_pos / spread
        gain_rate = self.cov_pv / spread
        self.mean[:_N] += gain_pos * innovation
        self.mean[_N:] += gain_rate * innovation
        # P <- P - K H P, per coordinate.
        self.var_rate = self.var_rate - gain_rate * self.cov_pv
        self.var_pos = self.var_pos - gain_pos * self.var_pos
        self.cov_pv = self.cov_pv - gain_pos * self.cov_pv

    def hold_size(self) -> None:
        """Stop the size changing while unseen (ByteTrack does so for lost tracks)."""
        self.mean[6:] = 0.0
