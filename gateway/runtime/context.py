"""What every pipeline gets from the runtime: config, bus, stats, topics, events, commands.

A pipeline's `start(ctx)` may return a `PipelineHandle`: on a config reload the runtime
calls `handle.reload(new_ctx)`, and the pipeline restarts only what the new config
changed (a sensor, a camera, the cloud link), keeping the rest running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config import GatewayConfig
from gateway.events import Events
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.runtime.commands import Commands
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
    commands: Commands
    health: HealthChecks = field(default_factory=HealthChecks)
    """Add a check here to have its problems on `/healthz` and the `ping` command."""


@dataclass(slots=True)
class ReloadReport:
    """What a reload did: names of what was started, restarted, stopped or changed live."""

    started: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    """Changed in place, nothing restarted (a log level, Home Assistant entities)."""

    def merge(self, other: ReloadReport) -> None:
        """Add `other`'s lists to this one's."""
        self.started.extend(other.started)
        self.restarted.extend(other.restarted)
        self.stopped.extend(other.stopped)
        self.updated.extend(other.updated)

    def as_json(self) -> dict[str, list[str]]:
        """The lists, as the `reload` command answers them."""
        return {
            "started": self.started,
            "restarted": self.restarted,
            "stopped": self.stopped,
            "updated": self.updated,
        }


class PipelineHandle(Protocol):
    """A running pipeline that can take a new config."""

    def check(self, config: GatewayConfig) -> list[str]:
        """Problems that would stop `config` from starting (nothing is changed yet)."""
        ...

    async def reload(self, ctx: RuntimeContext) -> ReloadReport:
        """Apply `ctx.config`: restart only what changed; say what was done."""
        ...


PipelineStart = Callable[[RuntimeContext], Awaitable[PipelineHandle | None]]
"""A pipeline's entry point: start its supervised components on the context; return a
handle for reloads (None: the pipeline has nothing a config change could touch)."""
