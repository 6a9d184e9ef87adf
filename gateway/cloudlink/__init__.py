"""The gateway side of the cloud bridge: outbox sink, uplink, verdicts.

Events.emit ──> OutboxWriter (sink; in-memory handoff) ──to_thread──> Outbox (SQLite)
Outbox ──> EventSender ──> POST <url>/v1/events (gzip JSON batches)
       ├─> MqttEventSender ──> QoS 1 PUBLISH to a cloud broker (events.transport: mqtt)
       └─> HardCaseSender ──> OIP infer <model> ──> VerdictPublisher ──> cloud.verdict

`Cloud`, the handle `start` returns, answers `outbox/stats` and `outbox/flush` and
restarts the whole link on a reload that changes the `cloud:` section (senders first,
the MQTT one's cloud-broker session included, then the writer commits what it holds,
then the outbox closes; the new link reopens the same SQLite file, so nothing waiting
is lost). Its health check (a sender whose last attempt failed) follows the link
across reloads.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from gateway.config import GatewayConfig
from gateway.config.cloud import CloudSection
from gateway.errors import CommandError
from gateway.logs import redact_urls
from gateway.runtime import CommandRequest, ReloadReport, RuntimeContext

if TYPE_CHECKING:
    from gateway.cloudlink.link import CloudLink

__all__ = ["Cloud", "start"]

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 10.0


class Cloud:
    """The running cloud link (or none, when `cloud.enabled` is false)."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self._ctx = ctx
        self._link: CloudLink | None = None
        self._names: list[str] = []
        self._config: CloudSection | None = None

    async def start(self) -> None:
        """Open the outbox and start the uplink when enabled; register the commands."""
        self._ctx.commands.register("outbox/stats", self._cmd_stats)
        self._ctx.commands.register("outbox/flush", self._cmd_flush)
        self._ctx.health.add(self.health_problems)
        await self._open(self._ctx)

    def health_problems(self) -> list[str]:
        """The running link's problems (a failing sender); none when the link is off."""
        return [] if self._link is None else self._link.health_problems()

    async def _open(self, ctx: RuntimeContext) -> None:
        cfg = ctx.config.cloud
        self._config = cfg
        if not cfg.enabled:
            return
        from gateway.cloudlink.link import CloudLink
        from gateway.cloudlink.verdicts import VerdictPublisher

        publish = VerdictPublisher(events=ctx.events, bus=ctx.bus, topics=ctx.topics)
        link = await CloudLink.open(
            cfg, gateway_id=ctx.config.gateway.id, stats=ctx.stats, on_verdict=publish
        )
        ctx.events.add_sink(link.writer)
        self._names = []
        for component in link.components():
            ctx.supervisor.start(component)
            self._names.append(component.name)
        self._link = link
        if insecure := cfg.insecure_urls():
            log.warning(
                "cloud: the token is sent in clear text to %s (plain HTTP, allow_insecure: true)",
                ", ".join(insecure),
            )
        broker = cfg.events.mqtt
        if broker is not None and cfg.events.transport == "mqtt":
            events = f"cloud broker (cloud.events.mqtt) mqtt://{broker.host}:{broker.port}"
            events += f" ({broker.topic})"
            if not broker.tls.enabled:
                log.warning(
                    "cloud: events go to %s in clear text (events.mqtt.tls off)", broker.host
                )
        else:
            events = "event sink (cloud.events_url) " + redact_urls(
                str(cfg.event_sink_url() or "none")
            )
        oip = cfg.oip_base_url()
        if oip is None:
            log.warning(
                "cloud: no OIP server: hard cases are not judged (they expire in the outbox)"
            )
        log.info(
            "cloud link started: %s, OIP server (cloud.oip_url) %s, model %s",
            events,
            redact_urls(str(oip or "none")),
            cfg.model,
        )

    async def _close(self) -> None:
        link = self._link
        if link is None:
            return
        self._ctx.events.remove_sink(link.writer)
        for name in reversed(self._names):  # senders, stats, writer (commits), outbox
            await self._ctx.supervisor.remove(name)
        self._link = None
        self._names = []

    def check(self, config: GatewayConfig) -> list[str]:
        """Nothing beyond what the config's own validation checks."""
        del config
        return []

    async def reload(self, ctx: RuntimeContext) -> ReloadReport:
        """Restart the link when the `cloud:` section changed."""
        self._ctx = ctx  # the same bus, events and supervisor: only the config is new
        report = ReloadReport()
        if ctx.config.cloud == self._config:
            return report
        was = self._link is not None
        await self._close()
        await self._open(ctx)
        now = self._link is not None
        if was and now:
            report.restarted.append("cloud")
        elif now:
            report.started.append("cloud")
        elif was:
            report.stopped.append("cloud")
        return report

    def _require(self) -> CloudLink:
        if self._link is None:
            msg = "the cloud link is off (cloud.enabled: false): there is no outbox"
            raise CommandError(msg)
        return self._link

    async def _stats(self) -> dict[str, Any]:
        link = self._require()
        stats = await asyncio.to_thread(link.outbox.stats)
        now = time.time()
        return {
            "depth": stats.depth,
            "bytes": stats.bytes,
            "classes": {
                klass: {
                    "depth": c.depth,
                    "bytes": c.bytes,
                    "oldest_age_s": None if c.oldest is None else round(now - c.oldest, 3),
                    "put": c.put,
                    "acked": c.acked,
                    "evicted": c.evicted,
                    "expired": c.expired,
                    "duplicates": c.duplicates,
                }
                for klass, c in stats.classes.items()
            },
        }

    async def _cmd_stats(self, req: CommandRequest) -> dict[str, Any]:
        if req.args:
            msg = "outbox/stats takes no arguments"
            raise CommandError(msg)
        return await self._stats()

    async def _cmd_flush(self, req: CommandRequest) -> dict[str, Any]:
        if req.args:
            msg = "outbox/flush takes no arguments"
            raise CommandError(msg)
        link = self._require()
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await link.writer.flush()
        except TimeoutError:
            msg = f"the outbox did not take the pending events within {FLUSH_TIMEOUT_S:g}s"
            raise CommandError(msg) from None
        woken = []
        for sender in (link.event_sender, link.hard_case_sender):
            if sender is not None:
                sender.notify()
                woken.append(sender.klass)
        return {"committed": True, "woken": woken, **await self._stats()}


async def start(ctx: RuntimeContext) -> Cloud:
    """Start the outbox and uplink when `ctx.config.cloud.enabled`.

    Runs first at startup, so the sink is registered before any pipeline emits.
    """
    cloud = Cloud(ctx)
    await cloud.start()
    return cloud
