"""Assemble the cloud link: outbox, writer, senders, stats; as supervised components."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloud_bridge.mqtt import CloudMqttClient, IncomingMessage
from cloud_bridge.oip import OipClient
from cloud_bridge.outbox import Outbox, OutboxItem
from cloud_bridge.uplink import (
    Budget,
    Channel,
    CircuitBreaker,
    EventClient,
    EventSender,
    HardCaseSender,
    MqttEventSender,
    MqttLimits,
    RateLimit,
    RetryPolicy,
    Verdict,
    verdict_from_message,
)
from gateway.cloudlink.observe import OutboxStatsPoller, StatsObserver
from gateway.cloudlink.sink import EVENTS, HARD_CASES, EventRouter, OutboxWriter, class_policies
from gateway.config.cloud import CloudMqttSection, CloudSection
from gateway.datadir import default_data_dir
from gateway.logs import RateLimitedLog, redact_urls
from gateway.mqtt.tls import tls_context
from gateway.payloads import UNKNOWN_LABEL
from gateway.runtime.supervisor import Component
from gateway.stats_registry import Stats

__all__ = ["CloudLink", "outbox_path"]

log = logging.getLogger(__name__)
_limited = RateLimitedLog(log)

EVENT_SINK = "event sink (cloud.events_url)"
OIP_SERVER = "OIP server (cloud.oip_url)"
"""How errors name the two endpoints: each failure says which one and where it is set."""


def outbox_path(cfg: CloudSection, gateway_id: str) -> Path:
    """The outbox file: `cloud.outbox.path`, or `<data dir>/outbox/<gateway id>.db`."""
    if cfg.outbox.path is not None:
        return cfg.outbox.path
    return default_data_dir() / "outbox" / f"{gateway_id}.db"


@dataclass(slots=True, frozen=True)
class _Task:
    """A component made of a name and a coroutine function."""

    name: str
    body: Callable[[], Awaitable[None]]

    async def run(self) -> None:
        """Run the body."""
        await self.body()


class CloudLink:
    """The gateway's side of the cloud: the `Events` sink plus the delivery components.

    Build with `await CloudLink.open(...)`, register `link.writer` as an `Events` sink
    and start `link.components()` on the supervisor, in order: they stop in reverse, so
    the senders stop first, then the writer commits what is left, then the outbox closes.
    """

    def __init__(
        self,
        *,
        cfg: CloudSection,
        outbox: Outbox,
        stats: Stats,
        on_verdict: Callable[[Verdict], object],
        gateway_id: str,
    ) -> None:
        self.cfg = cfg
        self.gateway_id = gateway_id
        self.outbox = outbox
        self._stats = stats
        self._on_verdict = on_verdict
        self.observer = StatsObserver(stats)
        self.writer = OutboxWriter(
            outbox=outbox,
            router=EventRouter.from_config(cfg),
            stats=stats,
            max_items=cfg.outbox.handoff_max_items,
            on_stored=self._stored,
        )
        self.event_sender: EventSender | MqttEventSender | None = None
        self.hard_case_sender: HardCaseSender | None = None
        self._channels = {klass: self._channel(klass) for klass in (EVENTS, HARD_CASES)}
        self.budget = Budget(cfg.budget.calls_per_min, cfg.budget.bytes_per_hour)

    @classmethod
    async def open(
        cls,
        cfg: CloudSection,
        *,
        gateway_id: str,
        stats: Stats,
        on_verdict: Callable[[Verdict], object],
    ) -> CloudLink:
        """Open (or create) the outbox in a worker thread and build the link."""
        path = outbox_path(cfg, gateway_id)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        outbox = await asyncio.to_thread(Outbox, path, policies=class_policies(cfg))
        log.info("cloud outbox at %s", path)
        return cls(
            cfg=cfg, outbox=outbox, stats=stats, on_verdict=on_verdict, gateway_id=gateway_id
        )

    def components(self) -> list[Component]:
        """The supervised components, in start order."""
        components: list[Component] = [
            _Task("cloud-outbox", self._hold_outbox),
            self.writer,
            OutboxStatsPoller(outbox=self.outbox, stats=self._stats),
            _Task("cloud-events", self._run_events),
        ]
        if self.cfg.oip_base_url() is not None:
            components.append(_Task("cloud-hard-cases", self._run_hard_cases))
        return components

    def health_problems(self) -> list[str]:
        """Why the uplink is not healthy now: a sender whose last attempt failed."""
        transport = self.cfg.events.transport
        senders = (
            (f"events ({transport})", self.event_sender),
            ("hard cases", self.hard_case_sender),
        )
        return [
            redact_urls(
                f"cloud {name}: {sender.last_error} (circuit {sender.breaker.state.name.lower()})"
            )
            for name, sender in senders
            if sender is not None and sender.last_error is not None
        ]

    def _channel(self, klass: str) -> Channel:
        retry, breaker = self.cfg.retry, self.cfg.breaker
        return Channel(
            outbox=self.outbox,
            klass=klass,
            policy=RetryPolicy(retry.base_s, retry.cap_s, retry.max_retry_after_s),
            breaker=CircuitBreaker(
                failure_threshold=breaker.failure_threshold,
                open_s=breaker.open_s,
                max_open_s=breaker.max_open_s,
            ),
            observer=self.observer,
            idle_poll_s=self.cfg.idle_poll_s,
        )

    def _stored(self, items: Sequence[OutboxItem]) -> None:
        klasses = {item.klass for item in items}
        if EVENTS in klasses and self.event_sender is not None:
            self.event_sender.notify()
        if HARD_CASES in klasses and self.hard_case_sender is not None:
            self.hard_case_sender.notify()

    @property
    def _token(self) -> str | None:
        return self.cfg.token.get_secret_value() if self.cfg.token is not None else None

    async def _hold_outbox(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(self.outbox.close)

    async def _run_events(self) -> None:
        cfg = self.cfg
        if cfg.events.mqtt is not None and cfg.events.transport == "mqtt":
            await self._run_events_mqtt(cfg.events.mqtt)
            return
        url = cfg.event_sink_url()
        if url is None:  # an OIP-only cloud: the section forwards only hard cases then
            log.info("cloud: no event sink (cloud.events_url); only hard cases go upstream")
            await asyncio.Event().wait()
            return
        async with EventClient(
            url,
            token=self._token,
            timeout=cfg.request_timeout_s,
            ca_file=cfg.ca_file,
            endpoint=EVENT_SINK,
        ) as client:
            self.event_sender = EventSender(
                self._channels[EVENTS],
                client,
                max_items=cfg.batch_max_events,
                max_bytes=cfg.batch_max_bytes,
            )
            await self.event_sender.run()

    async def _run_hard_cases(self) -> None:
        cfg = self.cfg
        base = cfg.oip_base_url()
        assert base is not None  # the section's validator requires it when enabled
        async with OipClient(
            base,
            token=self._token,
            timeout=cfg.infer_timeout_s,
            ca_file=cfg.ca_file,
            tls_hint="set cloud.ca_file to trust its CA",
            endpoint=OIP_SERVER,
        ) as client:
            self.hard_case_sender = HardCaseSender(
                self._channels[HARD_CASES],
                client,
                model=cfg.model,
                model_version=cfg.model_version,
                encoding=cfg.image_encoding,
                budget=self.budget,
                on_verdict=self._on_verdict,
                min_score=cfg.verdict_min_score,
                reject_score=cfg.verdict_reject_score,
                binary_data=cfg.binary_data,
                where=f"{OIP_SERVER} {base}",
                label_models={UNKNOWN_LABEL: cfg.unknown_model},
            )
            await self.hard_case_sender.run()

    async def _run_events_mqtt(self, broker: CloudMqttSection) -> None:
        gid = self.gateway_id
        subscriptions = (
            [broker.verdicts_topic.replace("{gateway_id}", gid)] if broker.verdicts_topic else []
        )
        rate = broker.max_publishes_per_s
        async with CloudMqttClient(
            broker.host,
            broker.port,
            client_id=broker.client_id or f"edgegw-{gid}",
            ssl_context=tls_context(broker.tls),
            protocol=broker.protocol,
            keepalive_s=broker.keepalive_s,
            connect_timeout_s=broker.connect_timeout_s,
            max_inflight=broker.max_inflight,
            subscriptions=subscriptions,
            on_message=self._cloud_message,
            on_lost=self._cloud_lost,
        ) as client:
            self.event_sender = MqttEventSender(
                self._channels[EVENTS],
                client,
                topic=broker.topic.replace("{gateway_id}", gid),
                limits=MqttLimits(
                    max_payload_bytes=broker.max_payload_bytes,
                    max_topic_levels=broker.max_topic_levels,
                    events_per_publish=broker.events_per_publish,
                    max_inflight=broker.max_inflight,
                    ack_timeout_s=broker.ack_timeout_s,
                ),
                rate=None if rate is None else RateLimit(rate, burst=max(1, round(rate / 10))),
            )
            await self.event_sender.run()

    def _cloud_lost(self, why: str) -> None:
        del why  # the client logged it; the sender reconnects (with verdicts subscribed)
        if self.event_sender is not None:
            self.event_sender.notify()

    def _cloud_message(self, message: IncomingMessage) -> None:
        try:
            verdict = verdict_from_message(
                message.payload, reject_score=self.cfg.verdict_reject_score
            )
        except ValueError as exc:
            self.observer.failed("verdicts", "bad_message")
            _limited.warning("cloud-verdict", "cloud verdict on %s ignored: %s", message.topic, exc)
            return
        self.observer.verdict(verdict)
        self._on_verdict(verdict)
