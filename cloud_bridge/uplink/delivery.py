"""The retry loops: lease from the outbox, send, ack only what the cloud acknowledged.

Why here and not in `gateway`: the loop is about the outbox and the cloud's answers,
both of which live in `cloud_bridge`; the gateway only wires it (config, stats,
verdict publishing) through plain values and callbacks. Outbox calls block (SQLite,
fsync), so each runs in a worker thread (`asyncio.to_thread`); the loop itself never
blocks the event loop.

Each sender is serial (one request in flight), so the outbox's at-least-once lease
needs no locking: an item is acked after the cloud's answer, or leased again next
round. A crash between answer and ack sends it again; the cloud dedups by id.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloud_bridge.errors import UplinkError
from cloud_bridge.oip import ImageEncoding, OipClient, build_hard_case_request
from cloud_bridge.outbox import Outbox, OutboxItem
from cloud_bridge.uplink.breaker import CircuitBreaker, CircuitState
from cloud_bridge.uplink.budget import Budget
from cloud_bridge.uplink.event_client import EventClient
from cloud_bridge.uplink.hard_cases import HardCase, Verdict, verdict_from_response
from cloud_bridge.uplink.observer import UplinkObserver
from cloud_bridge.uplink.policy import Failure, RetryPolicy, classify

__all__ = ["Channel", "EventSender", "HardCaseSender"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Channel:
    """What a sender drains and how it retries: one per outbox class.

    `policy` and `breaker` carry state; give each sender its own.
    """

    outbox: Outbox
    klass: str
    policy: RetryPolicy
    breaker: CircuitBreaker
    observer: UplinkObserver
    idle_poll_s: float = 5.0


class _Sender(abc.ABC):
    """Shared loop: breaker gate, one round, backoff on failure, wait when idle."""

    name = ""

    def __init__(self, channel: Channel) -> None:
        self.outbox = channel.outbox
        self.klass = channel.klass
        self.policy = channel.policy
        self.breaker = channel.breaker
        self.observer = channel.observer
        self._idle_poll_s = channel.idle_poll_s
        self._wake = asyncio.Event()
        self._last_state = CircuitState.CLOSED
        self.last_error: str | None = None

    def notify(self) -> None:
        """New items are in the outbox: look now (call on the loop)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled."""
        while True:
            wait = self.breaker.wait_s()
            if wait > 0:
                await asyncio.sleep(wait)
            self._report_circuit()
            self._wake.clear()
            if not await self._round():
                try:
                    async with asyncio.timeout(self._idle_poll_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    @abc.abstractmethod
    async def _round(self) -> bool:
        """Try to send something; return False when there was nothing to send."""

    async def _succeeded(self) -> None:
        self.policy.reset()
        self.breaker.record_success()
        self.last_error = None
        self._report_circuit()

    async def _failed(self, exc: UplinkError, failure: Failure) -> None:
        self.observer.failed(self.name, failure.reason)
        self.last_error = str(exc)
        if failure.counts_against_breaker:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        self._report_circuit()
        delay = self.policy.delay(failure.retry_after)
        log.warning(
            "uplink %s: %s (%s); retry in %.2fs, circuit %s",
            self.name, exc, failure.reason, delay, self.breaker.state.name.lower(),
        )  # fmt: skip
        await asyncio.sleep(delay)

    def _report_circuit(self) -> None:
        state = self.breaker.state
        if state is not self._last_state:
            log.info("uplink %s: circuit %s", self.name, state.name.lower())
            self._last_state = state
        self.observer.circuit(self.name, state)


class EventSender(_Sender):
    """Deliver the `events` class as gzip JSON batches to the cloud event sink."""

    name = "events"

    def __init__(
        self,
        channel: Channel,
        client: EventClient,
        *,
        max_items: int = 100,
        max_bytes: int = 256_000,
    ) -> None:
        super().__init__(channel)
        self.client = client
        self._max_items = max_items
        self._limit = max_items
        self._max_bytes = max_bytes

    async def _round(self) -> bool:
        batch = await asyncio.to_thread(
            self.outbox.lease, self.klass, self._limit, max_bytes=self._max_bytes
        )
        if not batch:
            return False
        self.observer.attempt(self.name)
        started = time.monotonic()
        try:
            ack = await self.client.post([item.payload for item in batch])
        except UplinkError as exc:
            failure = classify(exc)
            if not failure.permanent:
                await self._failed(exc, failure)
            elif len(batch) > 1:
                # One bad event must not sink its neighbours: halve until it is alone.
                self._limit = max(1, len(batch) // 2)
                self.observer.failed(self.name, failure.reason)
            else:
                await self._drop(batch, failure.reason, exc)
            return True
        rtt_ms = (time.monotonic() - started) * 1000
        ids = [item.id for item in batch if item.id in ack.acked]
        await asyncio.to_thread(self.outbox.ack, ids)
        self._limit = self._max_items
        self.observer.delivered(
            self.name, items=len(ids), wire_bytes=ack.wire_bytes, round_trip_ms=rtt_ms
        )
        await self._succeeded()
        return True

    async def _drop(self, batch: list[OutboxItem], reason: str, exc: UplinkError) -> None:
        log.error("uplink %s: cloud refused event %s for good: %s", self.name, batch[0].id, exc)
        await asyncio.to_thread(self.outbox.ack, [item.id for item in batch])
        self.observer.dropped(self.name, reason, len(batch))
        await self._succeeded()  # the endpoint is healthy; this item was not


class HardCaseSender(_Sender):
    """Send each hard case to the cloud model (OIP infer) and hand on the verdict."""

    name = "hard_cases"

    def __init__(
        self,
        channel: Channel,
        client: OipClient,
        *,
        model: str,
        model_version: str | None,
        encoding: ImageEncoding,
        budget: Budget,
        on_verdict: Callable[[Verdict], object],
        min_score: float = 0.5,
    ) -> None:
        super().__init__(channel)
        self.client = client
        self._model = model
        self._version = model_version
        self._encoding: ImageEncoding = encoding
        self.budget = budget
        self._on_verdict = on_verdict
        self._min_score = min_score

    async def _round(self) -> bool:
        # Wait for the calls budget before leasing, so that when it frees up the most
        # uncertain item of that moment goes (the lease order is the outbox priority).
        if await self._budget_wait(0):
            return True
        batch = await asyncio.to_thread(self.outbox.lease, self.klass, 1)
        if not batch:
            return False
        item = batch[0]
        if await self._budget_wait(item.size):
            return True
        try:
            case = HardCase.from_payload(item.payload)
            if item.media is None:
                raise ValueError("hard case has no image")
            request = await asyncio.to_thread(
                build_hard_case_request,
                item.media,
                hard_case_id=case.id,
                label=case.label,
                score=case.score,
                encoding=self._encoding,
            )
        except ValueError as exc:
            log.error("uplink hard_cases: dropping unusable item %s: %s", item.id, exc)
            await asyncio.to_thread(self.outbox.ack, [item.id])
            self.observer.dropped(self.name, "unusable", 1)
            return True
        wire_bytes = len(request.model_dump_json(exclude_none=True))
        self.budget.spend(wire_bytes)
        self.observer.attempt(self.name)
        started = time.monotonic()
        try:
            response = await self.client.infer(self._model, request, self._version)
            rtt_ms = (time.monotonic() - started) * 1000
            verdict = verdict_from_response(
                case, response, min_score=self._min_score, round_trip_ms=rtt_ms
            )
        except UplinkError as exc:
            failure = classify(exc)
            if failure.permanent:
                log.error("uplink hard_cases: cloud refused %s for good: %s", item.id, exc)
                await asyncio.to_thread(self.outbox.ack, [item.id])
                self.observer.dropped(self.name, failure.reason, 1)
                await self._succeeded()
            else:
                await self._failed(exc, failure)
            return True
        self._on_verdict(verdict)
        self.observer.verdict(verdict)
        self.observer.delivered(self.name, items=1, wire_bytes=wire_bytes, round_trip_ms=rtt_ms)
        await asyncio.to_thread(self.outbox.ack, [item.id])
        await self._succeeded()
        return True

    async def _budget_wait(self, nbytes: int) -> bool:
        wait = self.budget.delay_s(nbytes)
        if wait <= 0:
            return False
        self.observer.budget_wait(self.name, wait)
        await asyncio.sleep(min(wait, 1.0))  # then look again: a more uncertain one may wait
        return True
