"""The gateway process: start components named in the config, stop them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, SecretStr

from gateway.config import GatewayConfig
from gateway.events import Events
from gateway.logs import url_secrets
from gateway.mqtt.broker import EmbeddedBroker
from gateway.mqtt.bus import MqttBus, SubscriptionWatch
from gateway.mqtt.topics import Topics
from gateway.runtime.commands import Commands
from gateway.runtime.context import PipelineStart, RuntimeContext
from gateway.runtime.http import HealthChecks, HttpEndpoint
from gateway.runtime.stats_publisher import StatsPublisher
from gateway.runtime.supervisor import Supervisor
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)


def config_secrets(model: BaseModel) -> Iterator[str]:
    """Every secret value in the config, so logs can redact them."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, str) and "://" in value:
            yield from url_secrets(value)  # rtsp://user:password@...
        elif isinstance(value, BaseModel):
            yield from config_secrets(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    yield from config_secrets(item)


class Gateway:
    """One gateway: embedded broker (optional), bus, and supervised components.

    `pipelines` are started in order once the bus and supervisor run (see `gateway.plugins`).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        pipelines: Sequence[PipelineStart],
        stats: Stats | None = None,
    ) -> None:
        self.config = config
        self.pipelines = tuple(pipelines)
        self.stats = stats or Stats()
        self.topics = Topics(config.topic_prefix)
        self.bus: MqttBus | None = None
        self.supervisor: Supervisor | None = None
        self.events: Events | None = None
        self.started = asyncio.Event()
        self.health = HealthChecks()

    def health_problems(self) -> list[str]:
        """Why the gateway is not healthy right now; empty when it is."""
        problems: list[str] = []
        if self.bus is None or not self.bus.connected.is_set():
            why = self.bus.last_error if self.bus is not None else "not started"
            problems.append(f"mqtt not connected: {why}")
        if self.bus is not None:
            problems.extend(f"mqtt subscription {r}" for r in self.bus.refused())
        if self.supervisor is not None:
            problems.extend(f"component {n} is restarting" for n in self.supervisor.failing)
        problems.extend(self.health.problems())
        return problems

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then stop components, publish `offline`, flush."""
        cfg = self.config
        async with contextlib.AsyncExitStack() as stack:
            if cfg.mqtt.broker == "embedded":
                await stack.enter_async_context(
                    EmbeddedBroker(host=cfg.mqtt.host, port=cfg.mqtt.port)
                )
            self.bus = bus = await stack.enter_async_context(
                MqttBus(
                    cfg.mqtt,
                    client_id=cfg.client_id,
                    status_topic=self.topics.status,
                    stats=self.stats,
                    log_interval_s=cfg.logging.rate_limit_s,
                )
            )
            self.supervisor = supervisor = await stack.enter_async_context(
                Supervisor(stats=self.stats)
            )
            self.events = Events(
                bus=bus, topics=self.topics, stats=self.stats, gateway_id=cfg.gateway.id
            )
            supervisor.start(SubscriptionWatch(bus))
            commands = Commands(bus=bus, topics=self.topics)
            commands.register("ping", self._cmd_ping)
            commands.register("stats", self._cmd_stats)
            supervisor.start(
                StatsPublisher(
                    bus=bus,
                    stats=self.stats,
                    topic=self.topics.stats,
                    gateway_id=cfg.gateway.id,
                    interval_s=cfg.stats.interval_s,
                )
            )
            if cfg.stats.http_port is not None:
                supervisor.start(
                    HttpEndpoint(
                        stats=self.stats,
                        health=self.health_problems,
                        host=cfg.stats.http_host,
                        port=cfg.stats.http_port,
                    )
                )
            ctx = RuntimeContext(
                config=cfg,
                bus=bus,
                stats=self.stats,
                topics=self.topics,
                events=self.events,
                supervisor=supervisor,
                health=self.health,
            )
            for start in self.pipelines:
                await start(ctx)
            log.info("gateway %s started (topics under %s/)", cfg.gateway.id, self.topics.prefix)
            self.started.set()
            await stop.wait()
            log.info("gateway %s stopping", cfg.gateway.id)
        log.info("gateway %s stopped", cfg.gateway.id)

    async def _cmd_ping(self, _args: dict[str, Any]) -> dict[str, Any]:
        problems = self.health_problems()
        return {
            "pong": True,
            "uptime_s": round(self.stats.uptime(), 3),
            "healthy": not problems,
            "problems": problems,
        }

    async def _cmd_stats(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"metrics": self.stats.snapshot()}
