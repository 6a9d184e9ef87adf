"""Publish the stats registry on `<prefix>/stats` every `stats.interval_s`, retained
(Home Assistant reads its diagnostic sensors from it right after it restarts)."""

from __future__ import annotations

import asyncio
import json
import time

from gateway.mqtt.bus import MqttBus
from gateway.stats_registry import Stats

STATS_VERSION = 1


class StatsPublisher:
    """Component `stats`: a JSON snapshot of every counter and gauge, periodically."""

    name = "stats"

    def __init__(
        self, *, bus: MqttBus, stats: Stats, topic: str, gateway_id: str, interval_s: float
    ) -> None:
        self._bus = bus
        self._stats = stats
        self._topic = topic
        self._gateway_id = gateway_id
        self._interval_s = interval_s

    def payload(self) -> bytes:
        """The stats message: `{"v": 1, "gateway": ..., "ts": ..., "metrics": {...}}`."""
        return json.dumps(
            {
                "v": STATS_VERSION,
                "gateway": self._gateway_id,
                "ts": round(time.time(), 3),
                "metrics": self._stats.snapshot(),
            },
            separators=(",", ":"),
        ).encode()

    async def run(self) -> None:
        """Publish now, then every interval."""
        while True:
            self._bus.publish(self._topic, self.payload(), qos=0, retain=True)
            await asyncio.sleep(self._interval_s)
