"""Run a simulated fleet against a broker, as MQTT devices do."""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiomqtt

from apps.simulator.fleet import SimDevice, messages

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class SimulationReport:
    """What a run published."""

    messages: int
    bytes: int
    duration_s: float


async def simulate(
    devices: Sequence[SimDevice],
    *,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    client_id: str = "edgegw-simulator",
    duration_s: float | None = None,
    qos: int = 0,
    seed: int = 0,
) -> SimulationReport:
    """Publish each device's messages at its interval (with jitter) until `duration_s`."""
    rng = random.Random(seed)
    start = time.monotonic()
    # (due time, device index): each device starts at a random phase of its interval.
    due = [(start + rng.uniform(0, d.interval_s), i) for i, d in enumerate(devices)]
    heapq.heapify(due)
    sent = size = 0
    async with aiomqtt.Client(
        host,
        port,
        identifier=client_id,
        username=username,
        password=password,
        tls_context=tls_context,
    ) as client:
        while due:
            when, index = heapq.heappop(due)
            if duration_s is not None and when - start > duration_s:
                break
            await asyncio.sleep(max(0.0, when - time.monotonic()))
            device = devices[index]
            t = when - start
            if not device.silent_at(t):
                for message in messages(device, t, time.time(), rng):
                    await client.publish(message.topic, message.payload, qos=qos)
                    sent += 1
                    size += len(message.payload)
            jitter = rng.uniform(-0.1, 0.1) * device.interval_s
            heapq.heappush(due, (when + device.interval_s + jitter, index))
    elapsed = time.monotonic() - start
    log.info("simulator: %d messages, %d bytes in %.1fs", sent, size, elapsed)
    return SimulationReport(sent, size, elapsed)
