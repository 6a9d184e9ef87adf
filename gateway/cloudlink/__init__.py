"""The gateway side of the cloud bridge: outbox sink, uplink, verdicts.

Events.emit ──> OutboxWriter (sink; in-memory handoff) ──to_thread──> Outbox (SQLite)
Outbox ──> EventSender ──> POST <url>/v1/events (gzip JSON batches)
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
    for component in link.components():
        ctx.supervisor.start(component)
    if insecure := cfg.insecure_urls():
        log.warning(
            "cloud: the token is sent in clear text to %s (plain HTTP, allow_insecure: true)",
            ", ".join(insecure),
        )
    log.info(
        "cloud link started: event sink (cloud.events_url) %s, OIP server (cloud.oip_url) %s, "
        "model %s",
        redact_urls(str(cfg.event_sink_url() or "none")),
        redact_urls(str(cfg.oip_base_url())),
        cfg.model,
    )
