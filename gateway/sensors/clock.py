"""Component `sensors`: close windows and expire silent devices on time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from gateway.sensors.pipeline import SensorPipeline

MIN_SLEEP_S = 0.005
MAX_SLEEP_S = 1.0


class SensorClock:
    """Wakes at the earliest deadline of any sensor (window end, liveness expiry)."""

    name = "sensors"

    def __init__(self, pipelines: Sequence[SensorPipeline]) -> None:
        self._pipelines = tuple(pipelines)
        # A device heard from for the first time brings no earlier deadline than the
        # ones known, except when none was known: wake often enough to notice it in time.
        intervals = [
            p.config.expected_interval_s / 4
            for p in pipelines
            if p.config.expected_interval_s is not None
        ]
        self._max_sleep_s = max(MIN_SLEEP_S, min([MAX_SLEEP_S, *intervals]))

    async def run(self) -> None:
        """Tick every pipeline at its deadlines until cancelled."""
        while True:
            now = time.monotonic()
            for pipeline in self._pipelines:
                pipeline.tick(now)
            deadline = min(p.next_deadline() for p in self._pipelines)
            delay = min(max(deadline - time.monotonic(), MIN_SLEEP_S), self._max_sleep_s)
            await asyncio.sleep(delay)
