"""The retry loops: lease from the outbox, send, ack only what the cloud acknowledged.

Why here and not in `gateway`: the loop is about the outbox and the cloud's answers,
both of which live in `cloud_bridge`; the gateway only wires it (config, stats,
verdict publishing) through plain values and callbacks. Outbox calls block (SQLite,
fsync), so each runs in a worker thread (`asyncio.to_thread`); the loop itself never
blocks the event loop.

Each sender is serial (one round at a time), so the outbox's at-least-once lease
needs no locking: an item is acked after the cloud's answer, or leased again next
round. A crash between answer and ack sends it again; the cloud dedups by id.

Events go over one of two transports: `EventSender` (HTTP POST to the event sink) or
`MqttEventSender` (QoS 1 publishes to a cloud broker, acked on PUBACK). Both share the
loop below: lease by priority, breaker, backoff, counted drops.

Before its first hard case, `HardCaseSender` reads the server's metadata (`GET /v2`)
and the model's (`GET /v2/models/{name}[/versions/{v}]`): it reports once what does not
fit (`ModelCheck`), and decides whether to use the binary tensor data extension.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cloud_bridge.errors import UplinkError, UplinkHTTPError, UplinkProtocolError, UplinkTimeout
from cloud_bridge.mqtt import CloudMqttClient
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
from cloud_bridge.uplink.budget import Budget, RateLimit
from cloud_bridge.uplink.event_client import EventClient
from cloud_bridge.uplink.hard_cases import HardCase, Verdict, verdict_from_response
from cloud_bridge.uplink.observer import UplinkObserver
from cloud_bridge.uplink.policy import Failure, RetryPolicy, classify

__all__ = [
    "BinaryData",
    "Channel",
    "EventSender",
    "HardCaseSender",
    "ModelCheck",
    "MqttEventSender",
    "MqttLimits",
]

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
        reject_score: float = 0.0,
        binary_data: BinaryData = "auto",
        where: str = "the OIP server",
        label_models: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(channel)
        self._label_models = dict(label_models or {})
        """Edge label -> the model judging it instead of `model` (`unknown` -> a namer)."""
        self.client = client
        self._model = model
        self._version = model_version
        self._encoding: ImageEncoding = encoding
        self.budget = budget
        self._on_verdict = on_verdict
        self._min_score = min_score
        self._reject_score = reject_score
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
            model = self._label_models.get(case.label, self._model)
            version = self._version if model == self._model else None
            response = await self.client.infer(model, request, version)
            rtt_ms = (time.monotonic() - started) * 1000
            verdict = verdict_from_response(
                case,
                response,
                min_score=self._min_score,
                reject_score=self._reject_score,
                round_trip_ms=rtt_ms,
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


@dataclass(slots=True, frozen=True)
class MqttLimits:
    """What the cloud broker takes (defaults: AWS IoT Core's published quotas).

    `events_per_publish` 1 sends each event as its own JSON object; more packs up to
    that many events of one kind into a JSON array per publish. A broker's CONNACK
    `Maximum Packet Size` lowers `max_payload_bytes` further when smaller.
    """

    max_payload_bytes: int = 128_000
    max_topic_levels: int = 8
    events_per_publish: int = 1
    max_inflight: int = 20
    ack_timeout_s: float = 10.0


@dataclass(slots=True, frozen=True)
class _Publish:
    """One PUBLISH: its topic, its body, and the outbox ids it carries."""

    topic: str
    payload: bytes
    ids: tuple[str, ...]


@dataclass(slots=True)
class _Packed:
    """A leased batch sorted into publishes and items dropped (by reason)."""

    publishes: list[_Publish]
    dropped: dict[str, list[str]]


class MqttEventSender(_Sender):
    """Deliver the `events` class to a cloud MQTT broker with QoS 1; ack on PUBACK only.

    `topic` may hold `{kind}` (the event's kind). A round opens the session when it is
    not open (a refused certificate or CONNACK is a failure like any other: backoff,
    breaker, counted reason), leases up to `max_inflight` publishes' worth of events,
    publishes them all, then acks in the outbox exactly the events whose PUBACK came
    back with a success code. The rest are leased again: a re-send carries the same id.
    """

    name = "events"

    def __init__(
        self,
        channel: Channel,
        client: CloudMqttClient,
        *,
        topic: str,
        limits: MqttLimits,
        rate: RateLimit | None = None,
    ) -> None:
        super().__init__(channel)
        self.client = client
        self._topic = topic
        self._limits = limits
        self._rate = rate
        self._per_publish = limits.events_per_publish

    async def _round(self) -> bool:
        if not self.client.connected:
            try:
                await self.client.connect()
            except UplinkError as exc:
                await self._failed(exc, classify(exc))
                return True
        count = self._limits.max_inflight * self._per_publish
        batch = await asyncio.to_thread(
            self.outbox.lease, self.klass, count, max_bytes=count * self._payload_limit()
        )
        if not batch:
            return False
        packed = self._pack(batch)
        for reason, ids in packed.dropped.items():
            log.error("uplink events: dropping %d event(s) (%s), e.g. %s", len(ids), reason, ids[0])
            await asyncio.to_thread(self.outbox.ack, ids)
            self.observer.dropped(self.name, reason, len(ids))
        if packed.publishes:
            await self._publish(packed.publishes)
        return True

    async def _publish(self, publishes: list[_Publish]) -> None:
        self.observer.attempt(self.name)
        started = time.monotonic()
        sent: list[tuple[_Publish, asyncio.Future[None]]] = []
        error: UplinkError | None = None
        try:
            for publish in publishes:
                await self._rate_wait()
                sent.append((publish, self.client.publish(publish.topic, publish.payload)))
        except UplinkError as exc:
            error = exc  # the session ended mid-way; what went out may still be acked
        if sent:
            _, pending = await asyncio.wait(
                [f for _, f in sent], timeout=self._limits.ack_timeout_s
            )
            for future in pending:
                future.cancel()
            if pending and error is None:
                error = UplinkTimeout(
                    f"{len(pending)} PUBACK(s) missing after {self._limits.ack_timeout_s}s",
                    timeout=self._limits.ack_timeout_s,
                )
                await self.client.close()  # a session that stopped answering: start afresh
        acked: list[str] = []
        wire_bytes = 0
        refused: list[tuple[_Publish, UplinkError]] = []
        for publish, future in sent:
            if future.cancelled():
                continue
            problem = future.exception()
            if problem is None:
                acked.extend(publish.ids)
                wire_bytes += len(publish.payload) + len(publish.topic)
            elif isinstance(problem, UplinkError):
                refused.append((publish, problem))
            else:
                raise problem
        if acked:
            await asyncio.to_thread(self.outbox.ack, acked)
            rtt_ms = (time.monotonic() - started) * 1000
            self.observer.delivered(
                self.name, items=len(acked), wire_bytes=wire_bytes, round_trip_ms=rtt_ms
            )
        for publish, refusal in refused:
            failure = classify(refusal)
            if not failure.permanent:
                error = error or refusal
            elif len(publish.ids) > 1:
                # One event the broker will never take must not sink its neighbours.
                self._per_publish = 1
                self.observer.failed(self.name, failure.reason)
            else:
                log.error("uplink events: broker refused %s for good: %s", publish.ids[0], refusal)
                await asyncio.to_thread(self.outbox.ack, list(publish.ids))
                self.observer.dropped(self.name, failure.reason, 1)
        if error is not None:
            await self._failed(error, classify(error))
            return
        if acked:
            self._per_publish = self._limits.events_per_publish
        await self._succeeded()

    async def _rate_wait(self) -> None:
        if self._rate is None:
            return
        wait = self._rate.delay_s()
        if wait > 0:
            self.observer.budget_wait(self.name, wait)
            await asyncio.sleep(wait)
        self._rate.take()

    def _payload_limit(self) -> int:
        """The largest PUBLISH payload: ours, or under the broker's Maximum Packet Size."""
        limit = self._limits.max_payload_bytes
        info = self.client.info
        if info is not None and info.max_packet_size is not None:
            # Fixed header (5) + topic length (2) + packet id (2) + properties (<= 5).
            topic_bytes = len(self._topic.encode()) + 64  # `{kind}` replaced: room for it
            limit = min(limit, info.max_packet_size - topic_bytes - 14)
        return max(1, limit)

    def _pack(self, batch: list[OutboxItem]) -> _Packed:
        """Sort leased events into publishes, in lease order, within the limits."""
        limit = self._payload_limit()
        per = self._per_publish
        packed = _Packed([], {})
        open_groups: dict[str, list[OutboxItem]] = {}

        def close(topic: str) -> None:
            group = open_groups.pop(topic)
            body = (
                group[0].payload if per == 1 else b"[" + b",".join(i.payload for i in group) + b"]"
            )
            packed.publishes.append(_Publish(topic, body, tuple(i.id for i in group)))

        for item in batch:
            topic, reason = self._topic_for(item)
            if reason is None and len(item.payload) + (0 if per == 1 else 2) > limit:
                reason = "oversize"
            if reason is not None:
                packed.dropped.setdefault(reason, []).append(item.id)
                continue
            group = open_groups.get(topic)
            if group is not None and (
                len(group) >= per
                or sum(len(i.payload) + 1 for i in group) + len(item.payload) + 1 > limit
            ):
                close(topic)
                group = None
            open_groups.setdefault(topic, []).append(item)
        for topic in list(open_groups):
            close(topic)
        return packed

    def _topic_for(self, item: OutboxItem) -> tuple[str, str | None]:
        """The item's topic, or a drop reason (`unusable`, `bad_topic`)."""
        if "{kind}" not in self._topic:
            return self._topic, None
        try:
            kind = json.loads(item.payload)["kind"]
        except (ValueError, KeyError, TypeError):
            return "", "unusable"
        if not isinstance(kind, str) or not kind or any(c in kind for c in "+#\0"):
            return "", "bad_topic"
        topic = self._topic.replace("{kind}", kind)
        if topic.count("/") + 1 > self._limits.max_topic_levels:
            return "", "bad_topic"
        return topic, None
