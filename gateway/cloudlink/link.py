"""Assemble the cloud link: outbox, writer, senders, stats; as supervised components."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloud_bridge.oip import OipClient
from cloud_bridge.outbox import Outbox, OutboxItem
from cloud_bridge.uplink import (
    Budget,
    Channel,
    CircuitBreaker,
    EventClient,
    EventSender,
    HardCaseSender,
    RetryPolicy,
    Verdict,
)
from gateway.cloudlink.observe import OutboxStatsPoller, StatsObserver
from gateway.cloudlink.sink import EVENTS, HARD_CASES, EventRouter, OutboxWriter, class_policies
from gateway.config.cloud import CloudSection
from gateway.datadir import default_data_dir
from gateway.runtime.supervisor import Component
from gateway.stats_registry import Stats

__all__ = ["CloudLink", "outbox_path"]

log = logging.getLogger(__name__)

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
    ) -> None:
        self.cfg = cfg
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
        self.event_sender: EventSender | None = None
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
        return cls(cfg=cfg, outbox=outbox, stats=stats, on_verdict=on_verdict)

    def components(self) -> list[Component]:
        """The supervised components, in start order."""
        return [
            _Task("cloud-outbox", self._hold_outbox),
            self.writer,
            OutboxStatsPoller(outbox=self.outbox, stats=self._stats),
            _Task("cloud-events", self._run_events),
            _Task("cloud-hard-cases", self._run_hard_cases),
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
                binary_data=cfg.binary_data,
                where=f"{OIP_SERVER} {base}",
            )
            await self.hard_case_sender.run()
