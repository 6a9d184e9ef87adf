"""The retry loops: lease from the outbox, send, ack only what the cloud acknowledged.

Why here and not in `gateway`: the loop is about the outbox and the cloud's answers,
both of which live in `cloud_bridge`; the gateway only wires it (config, stats,
verdict publishing) through plain values and callbacks. Outbox calls block (SQLite,
fsync), so each runs in a worker thread (`asyncio.to_thread`); the loop itself never
blocks the event loop.

Each sender is serial (one request in flight), so the outbox's at-least-once lease
needs no locking: an item is acked after the cloud's answer, or leased again next
round. A crash between answer and ack sends it again; the cloud dedups by id.

Before its first hard case, `HardCaseSender` reads the server's metadata (`GET /v2`)
and the model's (`GET /v2/models/{name}[/versions/{v}]`): it reports once what does not
fit (`ModelCheck`), and decides whether to use the binary tensor data extension.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cloud_bridge.errors import UplinkError, UplinkHTTPError, UplinkProtocolError
from cloud_bridge.oip import (
    ImageEncoding,
    OipClient,
    ServerMetadata,
    build_hard_case_request,
    check_model,
    check_server,
)
from cloud_bridge.oip.protocol import BINARY_EXTENSION
from cloud_bridge.outbox import Outbox, OutboxItem
from cloud_bridge.uplink.breaker import CircuitBreaker, CircuitState
from cloud_bridge.uplink.budget import Budget
from cloud_bridge.uplink.event_client import EventClient
from cloud_bridge.uplink.hard_cases import HardCase, Verdict, verdict_from_response
from cloud_bridge.uplink.observer import UplinkObserver
from cloud_bridge.uplink.policy import Failure, RetryPolicy, classify

__all__ = ["BinaryData", "Channel", "EventSender", "HardCaseSender", "ModelCheck"]

log = logging.getLogger(__name__)

BinaryData = Literal["auto", "always", "never"]
"""The binary tensor data extension: `auto` when the server lists it, always, or never."""

# Answers to a binary request that say "not this way": in `auto`, resend it as JSON.
_BINARY_REFUSED = frozenset({400, 415, 422, 501})


@dataclass(slots=True, frozen=True)
class ModelCheck:
    """What the start-up metadata check found: the server, problems, the encoding chosen."""

    server: ServerMetadata | None
    """The server's `GET /v2` answer; None when it has no such route."""
    problems: tuple[str, ...]
    """What does not fit the hard-case requests (empty: all fits, or nothing declared)."""
    binary: bool
    """Whether hard cases go out as binary tensor data."""


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
        binary_data: BinaryData = "auto",
        where: str = "the OIP server",
    ) -> None:
        super().__init__(channel)
        self.client = client
        self._model = model
        self._version = model_version
        self._encoding: ImageEncoding = encoding
        self.budget = budget
        self._on_verdict = on_verdict
        self._min_score = min_score
        self._binary_data: BinaryData = binary_data
        self._binary = binary_data == "always"
        self._where = where
        self.model_check: ModelCheck | None = None
        """The start-up check's findings, once the server answered."""

    async def _round(self) -> bool:
        if self.model_check is None:
            self.model_check = await self._check_model()
            if self.model_check is None:
                return True  # the server cannot be reached: backed off, look again
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
                binary=self._binary,
            )
        except ValueError as exc:
            log.error("uplink hard_cases: dropping unusable item %s: %s", item.id, exc)
            await asyncio.to_thread(self.outbox.ack, [item.id])
            self.observer.dropped(self.name, "unusable", 1)
            return True
        wire_bytes = len(request.to_wire().body)
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
            if self._binary_refused(exc):
                return True  # the same item goes again, as JSON
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

    def _binary_refused(self, exc: UplinkError) -> bool:
        """In `auto`, a binary request refused as such: switch to JSON for good."""
        if not (self._binary and self._binary_data == "auto"):
            return False
        if not (isinstance(exc, UplinkHTTPError) and exc.status in _BINARY_REFUSED):
            return False
        self._binary = False
        self.observer.failed(self.name, "binary_refused")
        log.warning(
            "uplink hard_cases: %s lists %s but refused a binary request (%s); "
            "sending JSON from now on",
            self._where, BINARY_EXTENSION, exc,
        )  # fmt: skip
        return True

    async def _check_model(self) -> ModelCheck | None:
        """Read the server's and the model's metadata; report once what does not fit.

        None when the server cannot be reached (the failure is counted and backed off).
        """
        try:
            server: ServerMetadata | None = await self.client.server_metadata()
        except (UplinkHTTPError, UplinkProtocolError):
            server = None  # no `GET /v2` there: no extensions known
        except UplinkError as exc:
            await self._failed(exc, classify(exc))
            return None
        problems: list[str] = []
        try:
            metadata = await self.client.model_metadata(self._model, self._version)
            problems = check_model(metadata, encoding=self._encoding)
        except UplinkHTTPError as exc:
            problems = [self._refusal(exc)]
        except UplinkProtocolError as exc:
            problems = [f"its metadata cannot be read: {exc}"]
        except UplinkError as exc:
            await self._failed(exc, classify(exc))
            return None
        if self._binary_data == "auto":
            self._binary = server is not None and BINARY_EXTENSION in server.extensions
        if server is not None:
            problems += check_server(server, encoding=self._encoding, binary=self._binary)
        check = ModelCheck(server=server, problems=tuple(problems), binary=self._binary)
        named = f"model {self._model!r}" + (
            f" version {self._version!r}" if self._version is not None else ""
        )
        software = f"{server.name} {server.version}".strip() if server is not None else "unknown"
        if problems:
            log.error(
                "uplink hard_cases: %s on %s (%s) does not fit the hard cases: %s",
                named, self._where, software, "; ".join(problems),
            )  # fmt: skip
        else:
            log.info(
                "uplink hard_cases: %s on %s (%s) ready; binary tensor data %s",
                named, self._where, software, "on" if self._binary else "off",
            )  # fmt: skip
        return check

    def _refusal(self, exc: UplinkHTTPError) -> str:
        """What a refused metadata request says about the configuration."""
        if exc.status == 404:
            return f"the server has no model {self._model!r} ({exc})"
        if exc.status == 501 and self._version is not None:
            return (
                f"the server does not implement versioned routes ({exc}): unset cloud.model_version"
            )
        return f"its metadata was refused: {exc}"

    async def _budget_wait(self, nbytes: int) -> bool:
        wait = self.budget.delay_s(nbytes)
        if wait <= 0:
            return False
        self.observer.budget_wait(self.name, wait)
        await asyncio.sleep(min(wait, 1.0))  # then look again: a more uncertain one may wait
        return True
