"""A sensor signal: base level, slow drift, daily-style swing, noise, rare spikes."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Signal:
    """value(t) = base + drift * t + amplitude * sin(2πt / period) + noise (+ a spike)."""

    base: float
    drift_per_h: float = 0.0
    amplitude: float = 0.0
    period_s: float = 3600.0
    noise: float = 0.0
    spike_prob: float = 0.0
    spike_size: float = 0.0
    low: float = -math.inf
    high: float = math.inf
    decimals: int = 2

    def value(self, t: float, rng: random.Random) -> float:
        """The value `t` seconds into the run."""
        v = self.base + self.drift_per_h * t / 3600.0
        v += self.amplitude * math.sin(2 * math.pi * t / self.period_s)
        if self.noise:
            v += rng.gauss(0.0, self.noise)
        if self.spike_prob and rng.random() < self.spike_prob:
            v += self.spike_size if rng.random() < 0.5 else -self.spike_size
        return round(min(max(v, self.low), self.high), self.decimals)


def temperature(rng: random.Random) -> Signal:
    """Room temperature in °C."""
    return Signal(
        base=rng.uniform(18.0, 24.0),
        drift_per_h=rng.uniform(-0.5, 0.5),
        amplitude=rng.uniform(0.2, 1.0),
        period_s=rng.uniform(600.0, 3600.0),
        noise=0.05,
        spike_prob=0.005,
        spike_size=8.0,
    )


def humidity(rng: random.Random) -> Signal:
    """Relative humidity in %."""
    return Signal(
        base=rng.uniform(35.0, 60.0),
        amplitude=rng.uniform(1.0, 4.0),
        period_s=rng.uniform(900.0, 3600.0),
        noise=0.3,
        spike_prob=0.005,
        spike_size=15.0,
        low=0.0,
        high=100.0,
        decimals=1,
    )
