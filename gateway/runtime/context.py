"""What every pipeline gets from the runtime: config, bus, stats, topics, events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.config import GatewayConfig
from gateway.events import Events
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.runtime.supervisor import Supervisor
from gateway.stats_registry import Stats


@dataclass(slots=True, frozen=True)
class RuntimeContext:
    """Handed to each pipeline's `start(ctx)`; pipelines start their components on it."""

    config: GatewayConfig
    bus: MqttBus
    stats: Stats
    topics: Topics
    events: Events
    supervisor: Supervisor


PipelineStart = Callable[[RuntimeContext], Awaitable[None]]
"""A pipeline's entry point: start its supervised components on the context."""
