"""What every pipeline gets from the runtime: config, bus, stats, topics, events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gateway.config import GatewayConfig
from gateway.events import Events
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.runtime.http import HealthChecks
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
    health: HealthChecks = field(default_factory=HealthChecks)
    """Add a check here to have its problems on `/healthz` and the `ping` command."""


PipelineStart = Callable[[RuntimeContext], Awaitable[None]]
"""A pipeline's entry point: start its supervised components on the context."""
