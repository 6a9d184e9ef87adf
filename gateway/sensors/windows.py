"""Tumbling windows: count, min, max, mean and last of one metric, O(1) per reading."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.config.sensors import Statistic


@dataclass(slots=True, frozen=True)
class MetricSummary:
    """One metric over one window. `value` is the configured statistic (see MetricConfig).

    An empty window has `count` 0, null `min`/`max`/`mean`, and `last`/`value` carried
    over from the last reading ever seen (null if there never was one).
    """

    count: int
    min: float | None
    max: float | None
    mean: float | None
    last: float | None
    value: float | None
    unit: str | None

    def as_json(self) -> dict[str, object]:
        """The JSON object of this summary (floats rounded to 6 significant digits)."""
        return {
            "count": self.count,
            "min": _round(self.min),
            "max": _round(self.max),
            "mean": _round(self.mean),
            "last": _round(self.last),
            "value": _round(self.value),
            "unit": self.unit,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


class Window:
    """Accumulates one metric's readings until `close()`; keeps `last` across windows."""

    __slots__ = ("count", "last", "max", "min", "statistic", "total", "unit")

    def __init__(self, statistic: Statistic = "mean", unit: str | None = None) -> None:
        self.statistic: Statistic = statistic
        self.unit = unit
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.last: float | None = None

    def add(self, value: float) -> None:
        """Count one reading (a finite float: decoders never hand over NaN or Infinity)."""
        self.count += 1
        self.total += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)
        self.last = value

    def peek(self) -> MetricSummary:
        """The summary of the window so far, without closing it."""
        if not self.count:
            return MetricSummary(0, None, None, None, self.last, self.last, self.unit)
        mean = self.total / self.count
        value = {"mean": mean, "last": self.last, "min": self.min, "max": self.max}[self.statistic]
        return MetricSummary(self.count, self.min, self.max, mean, self.last, value, self.unit)

    def close(self) -> MetricSummary:
        """Return the window's summary and start the next window."""
        summary = self.peek()
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        return summary
