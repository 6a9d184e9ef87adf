"""Component `sensors`: close windows and expire silent devices on time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from gateway.sensors.pipeline import SensorPipeline

MIN_SLEEP_S = 0.005
MAX_SLEEP_S = 1.0


class SensorClock:
    """Wakes at the earliest deadline of any sensor (window end, liveness expiry).

    `replace` hands it a new set of pipelines (a reload) and wakes it at once.
    """

    name = "sensors"

    def __init__(self, pipelines: Sequence[SensorPipeline]) -> None:
        self._wake = asyncio.Event()
        self._pipelines: tuple[SensorPipeline, ...] = ()
        self._max_sleep_s = MAX_SLEEP_S
        self.replace(pipelines)

    def replace(self, pipelines: Sequence[SensorPipeline]) -> None:
        """Tick `pipelines` from now on."""
        self._pipelines = tuple(pipelines)
        # A device heard from for the first time brings no earlier deadline than the
        # ones known, except when none was known: wake often enough to notice it in time.
        intervals = [
            p.config.expected_interval_s / 4
            for p in self._pipelines
            if p.config.expected_interval_s is not None
        ]
        self._max_sleep_s = max(MIN_SLEEP_S, min([MAX_SLEEP_S, *intervals]))
        self._wake.set()

    async def run(self) -> None:
        """Tick every pipeline at its deadlines until cancelled."""
        while True:
            self._wake.clear()
            pipelines = self._pipelines
            if not pipelines:
                await self._wake.wait()
                continue
            now = time.monotonic()
            for pipeline in pipelines:
                pipeline.tick(now)
            deadline = min(p.next_deadline() for p in pipelines)
            delay = min(max(deadline - time.monotonic(), MIN_SLEEP_S), self._max_sleep_s)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
