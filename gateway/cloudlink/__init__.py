"""The gateway side of the cloud bridge: outbox sink, uplink, verdicts.

Events.emit ──> OutboxWriter (sink; in-memory handoff) ──to_thread──> Outbox (SQLite)
Outbox ──> EventSender ──> POST <url>/v1/events (gzip JSON batches)
       ├─> MqttEventSender ──> QoS 1 PUBLISH to a cloud broker (events.transport: mqtt)
       └─> HardCaseSender ──> OIP infer <model> ──> VerdictPublisher ──> cloud.verdict
"""

from __future__ import annotations

import logging

from gateway.logs import redact_urls
from gateway.runtime.context import RuntimeContext

__all__ = ["start"]

log = logging.getLogger(__name__)


async def start(ctx: RuntimeContext) -> None:
    """Start the outbox and uplink when `ctx.config.cloud.enabled`.

    Runs first at startup, so the sink is registered before any pipeline emits.
    """
    cfg = ctx.config.cloud
    if not cfg.enabled:
        return
    from gateway.cloudlink.link import CloudLink
    from gateway.cloudlink.verdicts import VerdictPublisher

    publish = VerdictPublisher(events=ctx.events, bus=ctx.bus, topics=ctx.topics)
    link = await CloudLink.open(
        cfg, gateway_id=ctx.config.gateway.id, stats=ctx.stats, on_verdict=publish
    )
    ctx.events.add_sink(link.writer)
    ctx.health.add(link.health_problems)
    for component in link.components():
        ctx.supervisor.start(component)
    if insecure := cfg.insecure_urls():
        log.warning(
            "cloud: the token is sent in clear text to %s (plain HTTP, allow_insecure: true)",
            ", ".join(insecure),
        )
    broker = cfg.events.mqtt
    if broker is not None and cfg.events.transport == "mqtt":
        log.info("cloud events to mqtt://%s:%d (%s)", broker.host, broker.port, broker.topic)
        if not broker.tls.enabled:
            log.warning("cloud: events go to %s in clear text (events.mqtt.tls off)", broker.host)
    if cfg.url is None and cfg.oip_url is None:
        log.warning("cloud: no url: hard cases are not judged (they expire in the outbox)")
    else:
        log.info("cloud link to %s started (model %s)", redact_urls(str(cfg.url)), cfg.model)
