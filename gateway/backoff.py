"""Exponential backoff with full jitter (AWS architecture blog's "Full Jitter"), capped."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays for attempt n: uniform(0, min(cap, base * 2**n)); `reset()` after a success."""

    base_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        # Full jitter, but never below a tenth of the base: a zero delay would busy-loop.
        return max(self.base_s / 10, self.rng.uniform(0, ceiling))

    def reset(self) -> None:
        """Start again from the base delay."""
        self.attempt = 0
