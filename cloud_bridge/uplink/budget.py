"""Budgets on what goes to the cloud: calls per minute and bytes per hour (sliding windows),
and a publish rate (a token bucket) for brokers that cap messages per second."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Budget", "RateLimit"]

_MINUTE = 60.0
_HOUR = 3600.0


@dataclass(slots=True)
class Budget:
    """At most `calls_per_min` calls in any 60 s and `bytes_per_hour` bytes in any hour.

    `delay_s(nbytes)` says how long a call of `nbytes` must wait; `spend(nbytes)` records
    one that went out. A single item larger than the whole hourly budget may go once the
    window is empty, so it cannot block its queue forever. None means unlimited.
    """

    calls_per_min: int | None
    bytes_per_hour: int | None
    clock: Callable[[], float] = time.monotonic
    _calls: deque[float] = field(default_factory=deque)
    _bytes: deque[tuple[float, int]] = field(default_factory=deque)
    _bytes_in_window: int = 0

    def delay_s(self, nbytes: int = 0) -> float:
        """Seconds until a call carrying `nbytes` fits both budgets (0: now)."""
        now = self.clock()
        self._forget(now)
        wait = 0.0
        if self.calls_per_min is not None and len(self._calls) >= self.calls_per_min:
            oldest = self._calls[len(self._calls) - self.calls_per_min]
            wait = max(wait, oldest + _MINUTE - now)
        if self.bytes_per_hour is not None and self._bytes:
            excess = self._bytes_in_window + nbytes - self.bytes_per_hour
            for at, size in self._bytes:
                if excess <= 0:
                    break
                excess -= size
                wait = max(wait, at + _HOUR - now)
        return max(0.0, wait)

    def spend(self, nbytes: int) -> None:
        """Record one call of `nbytes`."""
        now = self.clock()
        self._calls.append(now)
        self._bytes.append((now, nbytes))
        self._bytes_in_window += nbytes

    def _forget(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - _MINUTE:
            self._calls.popleft()
        while self._bytes and self._bytes[0][0] <= now - _HOUR:
            self._bytes_in_window -= self._bytes.popleft()[1]


@dataclass(slots=True)
class RateLimit:
    """At most `per_s` calls per second on average, bursts of up to `burst` (token bucket).

    `delay_s()` says how long the next call must wait; `take()` records one that went out.
    AWS IoT Core, for one, allows 100 publishes per second per connection.
    """

    per_s: float
    burst: int = 1
    clock: Callable[[], float] = time.monotonic
    _tokens: float | None = None
    _at: float = 0.0

    def __post_init__(self) -> None:
        if self.per_s <= 0 or self.burst < 1:
            raise ValueError(f"need per_s > 0 and burst >= 1, got {self.per_s}, {self.burst}")

    def delay_s(self) -> float:
        """Seconds until one call fits (0: now)."""
        tokens = self._refill()
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_s

    def take(self) -> None:
        """Record one call."""
        self._tokens = self._refill() - 1

    def _refill(self) -> float:
        now = self.clock()
        if self._tokens is None:
            self._tokens = float(self.burst)  # full at the start
        else:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_s)
        self._at = now
        return self._tokens
