"""A circuit breaker: stop hammering a dead endpoint, probe it now and then."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable

__all__ = ["CircuitBreaker", "CircuitState"]


class CircuitState(enum.IntEnum):
    """Breaker states; the value is what the `circuit_state` gauge shows."""

    CLOSED = 0
    """Calls go through."""
    HALF_OPEN = 1
    """The open period is over: the next call is a probe."""
    OPEN = 2
    """Calls wait until the open period ends."""


class CircuitBreaker:
    """Open after `failure_threshold` consecutive failures; stay open `open_s`, then probe.

    A probe that succeeds closes the breaker; one that fails opens it again for twice
    the last open period, up to `max_open_s`. One caller at a time (the delivery loop is
    serial), so the half-open state needs no probe token.
    """

    def __init__(
        self,
        *,
        failure_threshold: int,
        open_s: float,
        max_open_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or open_s <= 0:
            raise ValueError("need failure_threshold >= 1 and open_s > 0")
        self._threshold = failure_threshold
        self._open_s = open_s
        self._max_open_s = max(open_s, max_open_s if max_open_s is not None else open_s * 8)
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._period = open_s
        self.opened = 0
        """How many times the breaker opened (a counter for stats)."""

    @property
    def state(self) -> CircuitState:
        """The state now."""
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self._period:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def wait_s(self) -> float:
        """Seconds until a call may go out (0 when closed or half-open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._period - self._clock())

    def record_success(self) -> None:
        """The endpoint answered: close."""
        self._failures = 0
        self._opened_at = None
        self._period = self._open_s

    def record_failure(self) -> None:
        """The endpoint failed: count, and open at the threshold (or on a failed probe)."""
        if self.state is CircuitState.HALF_OPEN:
            self._period = min(self._max_open_s, self._period * 2)
            self._opened_at = self._clock()
            self.opened += 1
            return
        self._failures += 1
        if self._opened_at is None and self._failures >= self._threshold:
            self._opened_at = self._clock()
            self.opened += 1
