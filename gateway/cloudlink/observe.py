"""Uplink and outbox stats on the gateway's registry (`<prefix>/stats`, `/metrics`)."""

from __future__ import annotations

import asyncio
import time

from cloud_bridge.outbox import Outbox
from cloud_bridge.uplink import CircuitState, Verdict
from gateway.stats_registry import Stats

__all__ = ["OutboxStatsPoller", "StatsObserver"]


class StatsObserver:
    """The `UplinkObserver` that counts into `Stats`."""

    def __init__(self, stats: Stats) -> None:
        self._attempts = stats.counter("cloud_attempts", "Requests to the cloud.", ["channel"])
        self._failures = stats.counter(
            "cloud_failures", "Failed cloud requests, by reason.", ["channel", "reason"]
        )
        self._dropped = stats.counter(
            "cloud_dropped", "Items the cloud refused for good.", ["channel", "reason"]
        )
        self._delivered = stats.counter(
            "cloud_delivered", "Items the cloud acknowledged.", ["channel"]
        )
        self._bytes = stats.counter("cloud_uplink_bytes", "Bytes sent upstream.", ["channel"])
        self._rtt = stats.gauge("cloud_round_trip_ms", "Last successful round trip.", ["channel"])
        self._rtt_s = stats.counter(
            "cloud_round_trip_seconds", "Seconds of successful round trips (sum).", ["channel"]
        )
        self._circuit = stats.gauge(
            "cloud_circuit_state", "0 closed, 1 half-open, 2 open.", ["channel"]
        )
        self._budget = stats.counter(
            "cloud_budget_waits", "Times an item waited for the budget.", ["channel"]
        )
        self._verdicts = stats.counter("cloud_verdicts", "Cloud verdicts, by outcome.", ["outcome"])

    def attempt(self, channel: str) -> None:
        """Count a request."""
        self._attempts.labels(channel).inc()

    def delivered(self, channel: str, *, items: int, wire_bytes: int, round_trip_ms: float) -> None:
        """Count acknowledged items and bytes; keep the round trip."""
        self._delivered.labels(channel).inc(items)
        self._bytes.labels(channel).inc(wire_bytes)
        self._rtt.labels(channel).set(round(round_trip_ms, 1))
        self._rtt_s.labels(channel).inc(round_trip_ms / 1000.0)

    def failed(self, channel: str, reason: str) -> None:
        """Count a failure."""
        self._failures.labels(channel, reason).inc()

    def dropped(self, channel: str, reason: str, items: int) -> None:
        """Count refused items."""
        self._dropped.labels(channel, reason).inc(items)

    def circuit(self, channel: str, state: CircuitState) -> None:
        """Show the breaker state."""
        self._circuit.labels(channel).set(int(state))

    def budget_wait(self, channel: str, seconds: float) -> None:
        """Count a budget wait."""
        del seconds
        self._budget.labels(channel).inc()

    def verdict(self, verdict: Verdict) -> None:
        """Count a verdict."""
        self._verdicts.labels(verdict.outcome.value).inc()


class OutboxStatsPoller:
    """Copy the outbox's depth, bytes and drop counters into gauges every `interval_s`.

    The outbox answers from SQLite (a blocking call), so it is read in a worker thread
    on a timer, never at stats-collection time on the loop.
    """

    name = "cloud-outbox-stats"

    def __init__(self, *, outbox: Outbox, stats: Stats, interval_s: float = 2.0) -> None:
        self._outbox = outbox
        self._interval_s = interval_s
        labels = ["klass"]
        self._depth = stats.gauge("cloud_outbox_depth", "Items waiting, per class.", labels)
        self._size = stats.gauge("cloud_outbox_bytes", "Bytes waiting, per class.", labels)
        self._evicted = stats.gauge("cloud_outbox_evicted", "Items evicted (cap).", labels)
        self._expired = stats.gauge("cloud_outbox_expired", "Items expired (TTL).", labels)
        self._acked = stats.gauge("cloud_outbox_acked", "Items the cloud took.", labels)
        self._oldest = stats.gauge(
            "cloud_outbox_oldest_age_seconds", "Age of the oldest item waiting (0: none).", labels
        )

    async def run(self) -> None:
        """Refresh until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    async def refresh(self) -> None:
        """Read the outbox stats once."""
        stats = await asyncio.to_thread(self._outbox.stats)
        for klass, c in stats.classes.items():
            self._depth.labels(klass).set(c.depth)
            self._size.labels(klass).set(c.bytes)
            self._evicted.labels(klass).set(c.evicted)
            self._expired.labels(klass).set(c.expired)
            self._acked.labels(klass).set(c.acked)
            age = 0.0 if c.oldest is None else max(0.0, time.time() - c.oldest)
            self._oldest.labels(klass).set(round(age, 3))
