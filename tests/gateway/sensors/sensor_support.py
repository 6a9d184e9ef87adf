"""Helpers for the sensor tests: a recording bus, pipelines without a broker, JSON waits."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, cast

import aiomqtt

from gateway.config import SensorConfig
from gateway.events import Events
from gateway.logs import RateLimitedLog
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.sensors.metrics import SensorMetrics, Totals
from gateway.sensors.pipeline import Outlets, SensorPipeline
from gateway.stats_registry import Stats
from tests.support.mqtt import next_message


@dataclass(slots=True, frozen=True)
class Sent:
    """One message the pipeline published."""

    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.payload)
        return doc


@dataclass(slots=True)
class RecordingBus:
    """Stands in for MqttBus where only `publish` is used: records every message."""

    sent: list[Sent] = field(default_factory=list)

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.sent.append(Sent(topic, data, qos, retain))

    def events(self, kind: str) -> list[dict[str, Any]]:
        """Events of `kind` published so far."""
        return [s.json() for s in self.sent if f"/events/{kind}/" in s.topic]

    def states(self) -> list[dict[str, Any]]:
        """Retained sensor states published so far."""
        return [s.json() for s in self.sent if s.topic.endswith("/state") and s.retain]


def offline_pipeline(
    sensor: dict[str, Any], *, now: float = 0.0
) -> tuple[SensorPipeline, RecordingBus, Stats]:
    """A pipeline for `sensor` whose output is recorded, driven by the test's own clock."""
    stats = Stats()
    bus = RecordingBus()
    topics = Topics("edgegw/unit")
    real_bus = cast("MqttBus", bus)
    events = Events(bus=real_bus, topics=topics, stats=stats, gateway_id="unit")
    pipeline = SensorPipeline(
        SensorConfig.model_validate(sensor),
        outlets=Outlets(bus=real_bus, events=events, topics=topics),
        metrics=SensorMetrics(stats, sensor["id"], Totals()),
        ratelog=RateLimitedLog(logging.getLogger("tests.gateway.sensors"), 10.0),
        now=now,
    )
    return pipeline, bus, stats


async def next_json(c: aiomqtt.Client, *, timeout_s: float = 10.0) -> tuple[str, dict[str, Any]]:
    """The next message on `c` as (topic, JSON object)."""
    message = await next_message(c, timeout_s=timeout_s)
    assert isinstance(message.payload, bytes)
    doc: dict[str, Any] = json.loads(message.payload)
    return message.topic.value, doc


def counter(stats: Stats, name: str, labels: str) -> float:
    """The value of a labelled counter in `stats`' snapshot (0 if absent)."""
    value = stats.snapshot().get(name, {})
    assert isinstance(value, dict)
    return value.get(labels, 0.0)
