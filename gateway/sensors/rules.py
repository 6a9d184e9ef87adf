"""Alert rules: threshold with hysteresis, rate of change, EWMA anomaly.

Each rule keeps a small state machine per device (`ok` -> `alert` -> `ok`) and answers
every reading with a `Transition` when the state changes, else None. Work per reading is
O(1) (amortised O(1) for rate of change: monotonic deques over the look-back period).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from gateway.config.sensors import AnomalyRule, RateOfChangeRule, RuleConfig, ThresholdRule


@dataclass(slots=True, frozen=True)
class Transition:
    """A rule's state change on one reading."""

    active: bool
    """True: the condition began (alert); False: it ended (clear)."""
    reason: str
    score: float | None = None
    """The rule's measure: the change (rate of change), the z-score (anomaly)."""


class Evaluator(Protocol):
    """The state of one rule for one device."""

    active: bool

    def feed(self, value: float, ts: float) -> Transition | None:
        """Judge one reading at unix time `ts`; return the state change, if any."""
        ...


class ThresholdEvaluator:
    """Alert above `above` / below `below`; clear `hysteresis` back inside the limits."""

    __slots__ = ("_above", "_below", "_clear_above", "_clear_below", "active")

    def __init__(self, rule: ThresholdRule) -> None:
        self._above = rule.above
        self._below = rule.below
        self._clear_above = math.inf if rule.above is None else rule.above - rule.hysteresis
        self._clear_below = -math.inf if rule.below is None else rule.below + rule.hysteresis
        self.active = False

    def feed(self, value: float, ts: float) -> Transition | None:
        """Judge one reading."""
        if not self.active:
            if self._above is not None and value > self._above:
                self.active = True
                return Transition(True, f"{value:g} > {self._above:g}")
            if self._below is not None and value < self._below:
                self.active = True
                return Transition(True, f"{value:g} < {self._below:g}")
            return None
        if self._clear_below <= value <= self._clear_above:
            self.active = False
            return Transition(False, f"{value:g} back within limits")
        return None


class RateOfChangeEvaluator:
    """Alert when the value moved more than `max_delta` from the extreme of `period_s`."""

    __slots__ = ("_fall", "_max_delta", "_maxs", "_mins", "_period_s", "_rise", "active")

    def __init__(self, rule: RateOfChangeRule) -> None:
        self._max_delta = rule.max_delta
        self._period_s = rule.period_s
        self._rise = rule.direction in ("rise", "both")
        self._fall = rule.direction in ("fall", "both")
        # Monotonic deques of (ts, value): front is the min (max) of the period.
        self._mins: deque[tuple[float, float]] = deque()
        self._maxs: deque[tuple[float, float]] = deque()
        self.active = False

    def feed(self, value: float, ts: float) -> Transition | None:
        """Judge one reading."""
        oldest = ts - self._period_s
        mins, maxs = self._mins, self._maxs
        while mins and mins[-1][1] >= value:
            mins.pop()
        mins.append((ts, value))
        while maxs and maxs[-1][1] <= value:
            maxs.pop()
        maxs.append((ts, value))
        while mins[0][0] < oldest:
            mins.popleft()
        while maxs[0][0] < oldest:
            maxs.popleft()
        rise = value - mins[0][1] if self._rise else 0.0
        fall = maxs[0][1] - value if self._fall else 0.0
        change = rise if rise >= fall else -fall
        over = abs(change) > self._max_delta
        if over and not self.active:
            self.active = True
            what = "rose" if change > 0 else "fell"
            return Transition(
                True, f"{what} {abs(change):g} within {self._period_s:g}s", round(change, 6)
            )
        if not over and self.active:
            self.active = False
            return Transition(False, f"change {abs(change):g} within limits", round(change, 6))
        return None


class AnomalyEvaluator:
    """Alert on |value - mean| / std > z, mean and variance learned by EWMA.

    The first `warmup` readings are learned with exact running moments (Welford) and not
    judged; after that the moments follow an EWMA of weight `alpha`, so a lasting level
    change is learned (and its alert cleared) within a few 1/alpha readings.
    """

    __slots__ = ("_alpha", "_clear_z", "_min_std", "_n", "_warmup", "_z", "active", "mean", "var")

    def __init__(self, rule: AnomalyRule) -> None:
        self._alpha = rule.alpha
        self._z = rule.z
        self._clear_z = rule.clear_z if rule.clear_z is not None else rule.z / 2
        self._warmup = rule.warmup
        self._min_std = rule.min_std
        self._n = 0
        self.mean = 0.0
        self.var = 0.0
        self.active = False

    def feed(self, value: float, ts: float) -> Transition | None:
        """Judge one reading, then learn it."""
        self._n += 1
        diff = value - self.mean
        if self._n <= self._warmup:
            self.mean += diff / self._n
            # Welford: var holds the population variance of the first n readings.
            self.var += (diff * (value - self.mean) - self.var) / self._n
            return None
        std = max(math.sqrt(self.var), self._min_std)
        z = abs(diff) / std
        incr = self._alpha * diff
        self.mean += incr
        self.var = (1 - self._alpha) * (self.var + diff * incr)
        if not self.active and z > self._z:
            self.active = True
            return Transition(True, f"z-score {z:.2f} > {self._z:g}", round(z, 3))
        if self.active and z < self._clear_z:
            self.active = False
            return Transition(False, f"z-score {z:.2f} < {self._clear_z:g}", round(z, 3))
        return None


def make_evaluator(rule: RuleConfig) -> Evaluator:
    """A fresh evaluator for `rule`."""
    match rule:
        case ThresholdRule():
            return ThresholdEvaluator(rule)
        case RateOfChangeRule():
            return RateOfChangeEvaluator(rule)
        case AnomalyRule():
            return AnomalyEvaluator(rule)


class RuleRunner:
    """One configured rule: an evaluator per device, created on the device's first reading."""

    __slots__ = ("_by_device", "config", "enabled")

    def __init__(self, config: RuleConfig) -> None:
        self.config = config
        self.enabled = True
        """False: readings are not judged (the `sensor/<id>/rule/<id>` command)."""
        self._by_device: dict[str, Evaluator] = {}

    def feed(self, device: str, value: float, ts: float) -> Transition | None:
        """Judge one reading of `device` (None while disabled)."""
        if not self.enabled or (self.config.device is not None and device != self.config.device):
            return None
        evaluator = self._by_device.get(device)
        if evaluator is None:
            evaluator = self._by_device[device] = make_evaluator(self.config)
        return evaluator.feed(value, ts)

    @property
    def active(self) -> bool:
        """Whether any device is in alert."""
        return any(e.active for e in self._by_device.values())

    def active_devices(self) -> list[str]:
        """The devices in alert now."""
        return sorted(d for d, e in self._by_device.items() if e.active)

    def reset(self) -> None:
        """Forget every device's state (the rule starts afresh: `ok`)."""
        self._by_device.clear()
