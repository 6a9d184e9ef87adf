"""The cloud is down at start and for a long stretch, then back: everything arrives.

A Gateway (real Mosquitto) emits while `edgegw cloud serve` is not running; the breaker
opens; then the cloud process starts on the configured port. Everything under the caps
arrives, higher priority first, each event once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.events import Priority
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.conftest import ConfigFactory
from tests.gateway.cloudlink.conftest import CloudProcess, cloud_section
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import running
from tests.support.payloads import hard_case_data
from tests.support.waits import eventually


def metric(gateway: Gateway, name: str, label: str) -> float:
    """One labelled value of the gateway's stats snapshot (0 when absent)."""
    values = gateway.stats.snapshot().get(name, {})
    assert isinstance(values, dict)
    return values.get(label, 0.0)


async def test_down_at_start_then_back_delivers_all_by_priority(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    cloud_process: CloudProcess,
    tmp_path: Path,
    crops: dict[str, bytes],
) -> None:
    section = cloud_section(cloud_process.url, tmp_path, batch_max_events=4)
    gateway = build_gateway(make_config(mosquitto, cloud=section))
    priorities = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL] * 10
    async with running(gateway):
        events = gateway.events
        assert events is not None
        sent = []
        for n, priority in enumerate(priorities):
            event = events.make(source="s1", kind="sensor.alert", priority=priority, data={"n": n})
            events.emit(event)
            sent.append(event)
        hard = events.make(
            source="door", kind="vision.hard_case", priority=Priority.HIGH,
            data=hard_case_data("person", 0.7), media=crops["astronaut.png"],
        )  # fmt: skip
        events.emit(hard)
        # A long stretch: the breaker opens, probes fail, it opens again (longer).
        await eventually(lambda: metric(gateway, "cloud_circuit_state", "events") == 2)
        await eventually(lambda: metric(gateway, "cloud_failures_total", "events,connection") >= 6)
        await eventually(lambda: metric(gateway, "cloud_outbox_depth", "events") == len(sent))
        assert metric(gateway, "cloud_outbox_depth", "hard_cases") == 1

        await asyncio.to_thread(cloud_process.start)
        await eventually(
            lambda: metric(gateway, "cloud_delivered_total", "events") == len(sent), timeout_s=20
        )
        await eventually(lambda: metric(gateway, "cloud_verdicts_total", "confirmed") == 1)
        await eventually(lambda: metric(gateway, "cloud_outbox_depth", "events") == 0)
        assert metric(gateway, "cloud_circuit_state", "events") == 0

    stored = await asyncio.to_thread(cloud_process.events, "sensor.alert")
    assert sorted(e["id"] for e in stored) == sorted(e.id for e in sent)  # all, once each
    arrived = [e["priority"] for e in stored]
    assert arrived == sorted(arrived, reverse=True), arrived  # higher priority first
    by_priority = [e["data"]["n"] for e in stored if e["priority"] == Priority.LOW]
    assert by_priority == sorted(by_priority)  # then oldest first
