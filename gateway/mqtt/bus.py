"""The MQTT bus: one broker connection for the whole gateway, on aiomqtt.

- Connects, publishes `online` (retained, QoS 1) on every connect, with `offline` as the
  Will; publishes `offline` on a clean shutdown.
- Reconnects forever with capped exponential backoff and full jitter, re-subscribes, and
  logs each state change once (a broker that stays down does not flood the log).
- `publish()` never blocks and never fails: messages wait in a bounded queue while the
  broker is away and go out, in order, when it returns. Past the bound the oldest are
  dropped and counted. Messages in flight at a disconnect are sent again first
  (at-least-once for QoS 1).
- Routes incoming messages to handlers by MQTT wildcard filter; a handler that raises is
  logged (rate-limited) and counted, and the bus keeps going.
- `unsubscribe()` undoes a `subscribe()` (what you can do, you can undo): the filter
  leaves the broker when no other subscription uses it.
- MQTT 5 request/response: a received message carries its response topic and
  correlation data; `publish(..., correlation_data=...)` sends them back.
- A subscription the broker refuses (SUBACK failure: ACL, quota) or the client library
  refuses (an invalid filter) is logged, counted and kept in `refused()`; the other
  subscriptions go on. `SubscriptionWatch`, a supervised component, retries refused ones
  and fails (so the supervisor backs off and restarts it, and health says so) while any
  stays refused.
- The connection task never dies on an unexpected error: it is logged with its
  traceback, `offline` is published, and it reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.backoff import Backoff
from gateway.config import MqttConfig
from gateway.errors import BusError, BusNotConnectedError
from gateway.logs import RateLimitedLog
from gateway.mqtt.tls import tls_context
from gateway.mqtt.topics import TopicFilter
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)

_MAX_ROUTES = 4096
ONLINE = b"online"
OFFLINE = b"offline"


@dataclass(slots=True, frozen=True)
class Message:
    """An MQTT message received from the broker."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    received_at: float
    response_topic: str | None = None
    """MQTT 5: where the sender wants the answer (None on MQTT 3.1.1)."""
    correlation_data: bytes | None = None
    """MQTT 5: opaque bytes the sender wants back with the answer."""


Handler = Callable[[Message], Awaitable[None] | None]
"""Runs in the event loop for each matching message. Plain functions run inline (the hot
path: keep them short, hand heavy work to a thread); coroutine functions get a task."""


@dataclass(slots=True, frozen=True)
class Subscription:
    """A topic filter routed to a handler."""

    pattern: str
    handler: Handler
    qos: int
    name: str
    filter: TopicFilter


@dataclass(slots=True, frozen=True)
class RefusedSubscription:
    """A subscription the broker or the client library refused, and why."""

    name: str
    pattern: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.pattern!r}): {self.reason}"


def _refusal(granted: object) -> str | None:
    """Why a SUBACK refused the filter (MQTT 3.1.1: 0x80; MQTT 5: a code >= 0x80), or None."""
    codes = granted if isinstance(granted, list | tuple) else [granted]
    for code in codes:
        if getattr(code, "is_failure", False):
            return f"refused by the broker: {code}"
        if isinstance(code, int) and code >= 0x80:
            return f"refused by the broker: SUBACK 0x{code:02x}"
    return None


@dataclass(slots=True, eq=False)
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    seq: int
    done: asyncio.Future[None] | None = None
    correlation_data: bytes | None = None


class BusState(StrEnum):
    """Connection state, as logged and exposed to health checks."""

    STARTING = "starting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    CLOSED = "closed"


@dataclass(slots=True)
class _Counters:
    messages_in: int = 0
    connects: int = 0
    attempts_since_connect: int = 0
    last_error: str | None = field(default=None)


def _first_mqtt_error(exc: BaseException) -> aiomqtt.MqttError | None:
    """The MqttError inside `exc` (possibly an exception group), or None."""
    if isinstance(exc, aiomqtt.MqttError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_mqtt_error(inner)
            if found is not None:
                return found
    return None


def _dispatch_queue_type(
    on_message: Callable[[aiomqtt.Message], None],
) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt's `queue_type` that routes each message as it arrives.

    aiomqtt queues incoming messages and hands them out one `asyncio.wait` at a time
    (about 6k/s here); routing them straight from paho's read callback, which runs in the
    event loop, keeps up with the broker and needs no unbounded buffer.
    """

    class DispatchQueue(asyncio.Queue[aiomqtt.Message]):
        def put_nowait(self, item: aiomqtt.Message) -> None:
            on_message(item)

    return DispatchQueue


class MqttBus:
    """Async context manager owning the connection task `mqtt-connection`."""

    def __init__(
        self,
        config: MqttConfig,
        *,
        client_id: str,
        status_topic: str,
        stats: Stats,
        log_interval_s: float = 10.0,
        flush_timeout_s: float = 5.0,
    ) -> None:
        self.config = config
        self.client_id = client_id
        self.status_topic = status_topic
        self.state = BusState.STARTING
        self.connected = asyncio.Event()
        self._flush_timeout_s = flush_timeout_s
        self._subs: list[Subscription] = []
        # topic -> matching subscriptions; devices repeat their topics, so routing is
        # mostly one dict lookup. Cleared on subscribe and when it grows past the bound.
        self._routes: dict[str, tuple[Subscription, ...]] = {}
        self._queue: deque[_Outgoing] = deque()
        self._queue_ready = asyncio.Event()
        self._seq = itertools.count()
        self._client: aiomqtt.Client | None = None
        self._task_group: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight = asyncio.Semaphore(config.max_inflight)
        self._counters = _Counters()
        self._ratelog = RateLimitedLog(log, log_interval_s)
        self._tls = tls_context(config.tls)
        self._handler_tasks: set[asyncio.Future[None]] = set()
        self._in_session = False
        self._not_connecting = asyncio.Event()
        self._not_connecting.set()
        self._refused: dict[str, RefusedSubscription] = {}
        self.refusal = asyncio.Event()
        """Set when a subscription is refused (`SubscriptionWatch` waits on it)."""
        self._dispatch_queue = _dispatch_queue_type(self._on_mqtt_message)
        self._m_in = stats.counter("mqtt_messages_in", "MQTT messages received.")
        self._m_out = stats.counter("mqtt_messages_out", "MQTT messages published and acked.")
        self._m_dropped = stats.counter(
            "mqtt_dropped", "Outgoing messages dropped because the queue was full."
        )
        self._m_errors = stats.counter(
            "mqtt_handler_errors", "Handler exceptions, by handler.", ["handler"]
        )
        self._m_reconnects = stats.counter("mqtt_reconnects", "Reconnects after a connection.")
        self._m_failures = stats.counter("mqtt_connect_failures", "Failed connection attempts.")
        self._m_refused = stats.counter(
            "mqtt_subscribe_refused", "Subscribe attempts refused, by subscription.", ["handler"]
        )
        stats.gauge_fn(
            "mqtt_subscriptions_refused",
            "Subscriptions currently refused (their messages are not processed).",
            lambda: float(len(self._refused)),
        )
        stats.gauge_fn("mqtt_queue_depth", "Messages waiting to be published.", self.queue_depth)
        stats.gauge_fn("mqtt_connected", "1 while connected to the broker.", self._is_connected)

    # ---- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="mqtt-connection")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Publish `offline`, flush what is queued (bounded wait), disconnect cleanly."""
        if self._task is None:
            return
        # aiomqtt leaves the socket open when cancelled mid-connect: let an attempt in
        # progress finish (bounded by connect_timeout_s) so the client closes cleanly.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.connect_timeout_s):
                await self._not_connecting.wait()
        if self._in_session and not self.connected.is_set():
            # Connected, still publishing `online` and subscribing: let that finish, or a
            # clean DISCONNECT would leave `online` retained with no Will to correct it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_timeout_s):
                    await self.connected.wait()
        if self.connected.is_set():
            done = self._enqueue(self.status_topic, OFFLINE, qos=1, retain=True, wait=True)
            assert done is not None
            try:
                async with asyncio.timeout(self._flush_timeout_s):
                    await done
            except (TimeoutError, BusNotConnectedError):
                log.warning(
                    "could not flush %d queued message(s) before shutdown", len(self._queue)
                )
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self.state = BusState.CLOSED
        self.connected.clear()

    # ---- public API ------------------------------------------------------------------

    def subscribe(
        self, pattern: str, handler: Handler, *, qos: int = 1, name: str | None = None
    ) -> Subscription:
        """Route messages matching `pattern` to `handler`; survives reconnects."""
        label = name or str(getattr(handler, "__qualname__", "handler"))
        sub = Subscription(pattern, handler, qos, label, TopicFilter.parse(pattern))
        self._subs.append(sub)
        self._routes.clear()
        if self._client is not None and self._task_group is not None:
            self._allow_pending(self._client)
            self._task_group.create_task(
                self._subscribe(self._client, sub), name=f"mqtt-subscribe:{pattern}"
            )
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop routing to `sub`; unsubscribe at the broker when no other route uses it."""
        if sub not in self._subs:
            return
        self._subs.remove(sub)
        self._routes.clear()
        pattern = sub.pattern
        if any(s.pattern == pattern for s in self._subs):
            return
        self._refused.pop(pattern, None)
        client = self._client
        if client is not None and self._task_group is not None:
            self._task_group.create_task(
                self._unsubscribe(client, pattern), name=f"mqtt-unsubscribe:{pattern}"
            )

    async def _unsubscribe(self, client: aiomqtt.Client, pattern: str) -> None:
        if any(s.pattern == pattern for s in self._subs):
            return  # subscribed again meanwhile
        with contextlib.suppress(ValueError):  # a filter paho refused was never subscribed
            await client.unsubscribe(pattern)

    def refused(self) -> list[RefusedSubscription]:
        """Subscriptions refused at their last attempt (their messages are not processed)."""
        return list(self._refused.values())

    async def retry_refused(self) -> list[RefusedSubscription]:
        """Subscribe again to each refused filter (when connected); those still refused."""
        client = self._client
        if client is None:
            return self.refused()
        for pattern in list(self._refused):
            sub = next((s for s in self._subs if s.pattern == pattern), None)
            if sub is None:  # pragma: no cover - subscriptions are never removed
                del self._refused[pattern]
                continue
            try:
                await self._subscribe(client, sub)
            except aiomqtt.MqttError:  # the connection dropped: the reconnect subscribes all
                break
        return self.refused()

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 0,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Queue a message; it goes out now or when the broker is back. Never blocks.

        `correlation_data` (MQTT 5 only; ignored on 3.1.1) answers a request.
        """
        self._enqueue(
            topic, payload, qos=qos, retain=retain, wait=False, correlation_data=correlation_data
        )

    def queue_depth(self) -> float:
        """Messages waiting to be published."""
        return float(len(self._queue))

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the connection dropped."""
        return self._counters.last_error

    # ---- internals -------------------------------------------------------------------

    def _is_connected(self) -> float:
        return 1.0 if self.connected.is_set() else 0.0

    def _enqueue(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int,
        retain: bool,
        wait: bool,
        correlation_data: bytes | None = None,
    ) -> asyncio.Future[None] | None:
        data = payload.encode() if isinstance(payload, str) else payload
        done = asyncio.get_running_loop().create_future() if wait else None
        if len(self._queue) >= self.config.max_queued_messages:
            dropped = self._queue.popleft()
            self._m_dropped.inc()
            if dropped.done is not None and not dropped.done.done():
                dropped.done.set_exception(BusNotConnectedError("dropped: queue full"))
            self._ratelog.warning(
                "queue-full",
                "outgoing queue full (%d): dropping oldest (%s)",
                self.config.max_queued_messages,
                dropped.topic,
            )
        self._queue.append(
            _Outgoing(topic, data, qos, retain, next(self._seq), done, correlation_data)
        )
        self._queue_ready.set()
        return done

    def _make_client(self) -> aiomqtt.Client:
        client = self._new_client()
        self._allow_pending(client)
        return client

    def _allow_pending(self, client: aiomqtt.Client) -> None:
        """aiomqtt warns on every call past this many pending acks (publishes, subscribes
        and unsubscribes together); our inflight window (max_inflight) bounds the
        publishes, and each subscription has at most one (un)subscribe pending."""
        client.pending_calls_threshold = self.config.max_inflight + len(self._subs) + 10

    def _new_client(self) -> aiomqtt.Client:
        cfg = self.config
        password = cfg.password.get_secret_value() if cfg.password is not None else None
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            identifier=self.client_id,
            username=cfg.username,
            password=password,
            protocol=(
                aiomqtt.ProtocolVersion.V5 if cfg.protocol == "5" else aiomqtt.ProtocolVersion.V311
            ),
            will=aiomqtt.Will(self.status_topic, OFFLINE, qos=1, retain=True),
            clean_session=True if cfg.protocol != "5" else None,
            keepalive=cfg.keepalive_s,
            timeout=cfg.connect_timeout_s,
            tls_context=self._tls,
            tls_insecure=(not cfg.tls.verify) if cfg.tls.enabled else None,
            queue_type=self._dispatch_queue,
            # Small QoS 1 packets and their acks must not wait for Nagle's algorithm
            # (with the peer's delayed ACK that adds ~40 ms to every alert).
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    async def _run(self) -> None:
        backoff = Backoff(self.config.reconnect.min_delay_s, self.config.reconnect.max_delay_s)
        while True:
            try:
                client = self._make_client()
                self._not_connecting.clear()
                try:
                    await client.__aenter__()
                finally:
                    self._not_connecting.set()
                async with contextlib.AsyncExitStack() as stack:
                    stack.push_async_exit(client)
                    self._in_session = True
                    stack.callback(setattr, self, "_in_session", False)
                    backoff.reset()
                    try:
                        await self._session(client)
                    except Exception as exc:
                        if _first_mqtt_error(exc) is None:
                            await self._say_offline(client)
                        raise
            except (aiomqtt.MqttError, ExceptionGroup) as exc:
                err = _first_mqtt_error(exc)
                if err is None:
                    self._unexpected(exc)
                else:
                    self._connection_lost(str(err) or type(err).__name__)
            except Exception as exc:  # a bug must not silently end the connection task
                self._unexpected(exc)
            delay = backoff.next_delay()
            log.debug("next connection attempt in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """Publish `offline` before a clean disconnect (no Will then), best effort."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(min(1.0, self._flush_timeout_s)):
                await client.publish(self.status_topic, OFFLINE, qos=1, retain=True)

    def _unexpected(self, exc: BaseException) -> None:
        log.error("MQTT connection task failed unexpectedly: %r; reconnecting", exc, exc_info=exc)
        self._connection_lost(f"internal error: {exc!r}")

    async def _subscribe(self, client: aiomqtt.Client, sub: Subscription) -> bool:
        """Subscribe `sub`; a refusal is recorded, counted and logged, never raised."""
        try:
            granted = await client.subscribe(sub.pattern, sub.qos)
        except ValueError as exc:  # paho checks the filter before sending it
            reason: str | None = f"invalid topic filter: {exc}"
        else:
            reason = _refusal(granted)
        pattern = sub.pattern
        if reason is None:
            if self._refused.pop(pattern, None) is not None:
                log.info("subscription %s (%r) accepted by the broker now", sub.name, pattern)
            return True
        names = ", ".join(s.name for s in self._subs if s.pattern == pattern)
        refused = RefusedSubscription(names, pattern, reason)
        if self._refused.get(pattern) != refused:
            log.error("subscription %s; its messages are not processed", refused)
        self._refused[pattern] = refused
        self._m_refused.labels(sub.name).inc()
        self.refusal.set()
        return False

    def _connection_lost(self, reason: str) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        self._client = None
        self._task_group = None
        self.state = BusState.DISCONNECTED
        self._m_failures.inc()
        c = self._counters
        c.attempts_since_connect += 1
        where = f"{self.config.host}:{self.config.port}"
        if was_connected:
            log.warning("lost connection to MQTT broker %s: %s; reconnecting", where, reason)
        elif reason != c.last_error:
            log.warning(
                "cannot connect to MQTT broker %s: %s; retrying with backoff up to %.0fs",
                where,
                reason,
                self.config.reconnect.max_delay_s,
            )
        else:
            log.debug("still cannot connect to %s: %s", where, reason)
        c.last_error = reason

    async def _session(self, client: aiomqtt.Client) -> None:
        c = self._counters
        if c.connects:
            self._m_reconnects.inc()
        c.connects += 1
        await client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        # subscribe() calls made while we await here are not sent by subscribe() itself
        # (no client yet): loop until every pattern is on the broker, then publish the
        # client with no await in between, so none can slip through the gap.
        done: set[str] = set()
        while pending := [s for s in self._subs if s.pattern not in done]:
            for sub in pending:
                if sub.pattern not in done:
                    await self._subscribe(client, sub)  # a refusal is kept, not raised
                    done.add(sub.pattern)
        log.info(
            "connected to MQTT broker %s:%d as %s%s",
            self.config.host,
            self.config.port,
            self.client_id,
            f" after {c.attempts_since_connect} failed attempt(s)"
            if c.attempts_since_connect
            else "",
        )
        c.attempts_since_connect = 0
        c.last_error = None
        self.state = BusState.CONNECTED
        self._client = client
        self.connected.set()
        async with asyncio.TaskGroup() as tg:
            self._task_group = tg
            tg.create_task(self._reader(client), name="mqtt-reader")
            tg.create_task(self._writer(client, tg), name="mqtt-writer")

    async def _reader(self, client: aiomqtt.Client) -> None:
        # Messages never reach this iterator: the dispatch queue routes them as they are
        # read. It still raises MqttError when the connection drops, which ends the session.
        async for _ in client.messages:
            pass

    def _on_mqtt_message(self, message: aiomqtt.Message) -> None:
        payload: object = message.payload  # paho hands over bytes; aiomqtt types it wider
        props = message.properties
        response: object = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation: object = getattr(props, "CorrelationData", None) if props is not None else None
        self._dispatch(
            Message(
                topic=message.topic.value,
                payload=bytes(payload) if isinstance(payload, bytes | bytearray) else b"",
                qos=int(message.qos),
                retain=bool(message.retain),
                received_at=time.time(),
                response_topic=response if isinstance(response, str) else None,
                correlation_data=bytes(correlation)
                if isinstance(correlation, bytes | bytearray)
                else None,
            )
        )

    def _dispatch(self, message: Message) -> None:
        self._m_in.inc()
        subs = self._routes.get(message.topic)
        if subs is None:
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            subs = tuple(s for s in self._subs if s.filter.matches(message.topic))
            self._routes[message.topic] = subs
        for sub in subs:
            try:
                result = sub.handler(message)
            except Exception as exc:  # a faulty handler must not take the bus down
                self._handler_failed(sub, message.topic, exc)
                continue
            if result is not None:
                task = asyncio.ensure_future(result)
                self._handler_tasks.add(task)
                task.add_done_callback(self._handler_done(sub, message.topic))

    def _handler_done(
        self, sub: Subscription, topic: str
    ) -> Callable[[asyncio.Future[None]], None]:
        def done(task: asyncio.Future[None]) -> None:
            self._handler_tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                assert exc is not None
                self._handler_failed(sub, topic, exc)

        return done

    def _handler_failed(self, sub: Subscription, topic: str, exc: BaseException) -> None:
        self._m_errors.labels(sub.name).inc()
        self._ratelog.warning(
            f"handler:{sub.name}", "handler %s failed on %s: %r", sub.name, topic, exc
        )

    async def _writer(self, client: aiomqtt.Client, tg: asyncio.TaskGroup) -> None:
        while True:
            while not self._queue:
                self._queue_ready.clear()
                await self._queue_ready.wait()
            await self._inflight.acquire()
            if not self._queue:
                self._inflight.release()
                continue
            item = self._queue.popleft()
            tg.create_task(self._send(client, item), name="mqtt-publish")

    async def _send(self, client: aiomqtt.Client, item: _Outgoing) -> None:
        properties = None
        if item.correlation_data is not None and self.config.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.CorrelationData = item.correlation_data
        try:
            await client.publish(
                item.topic,
                item.payload,
                qos=item.qos,
                retain=item.retain,
                properties=properties,
                timeout=math.inf,
            )
        except BaseException:
            # Not acknowledged: send it again first after the reconnect (at-least-once).
            self._requeue(item)
            raise
        finally:
            self._inflight.release()
        self._m_out.inc()
        if item.done is not None and not item.done.done():
            item.done.set_result(None)

    def _requeue(self, item: _Outgoing) -> None:
        # Keep the original order among messages that were in flight together.
        self._queue.appendleft(item)
        if len(self._queue) > 1 and self._queue[1].seq < item.seq:
            ordered = sorted(
                itertools.islice(self._queue, 0, self.config.max_inflight + 1), key=lambda o: o.seq
            )
            for _ in range(len(ordered)):
                self._queue.popleft()
            self._queue.extendleft(reversed(ordered))
        self._queue_ready.set()


class SubscriptionWatch:
    """Component `mqtt-subscriptions`: fails while the broker refuses a subscription.

    Each run retries the refused subscriptions; while any stays refused it raises
    `BusError`, so the supervisor logs it, reports the component as restarting (health)
    and runs it again after its backoff. Otherwise it waits for the next refusal.
    """

    name = "mqtt-subscriptions"

    def __init__(self, bus: MqttBus) -> None:
        self.bus = bus

    async def run(self) -> None:
        """Retry refused subscriptions; raise while any is refused; else wait."""
        while True:
            if self.bus.refused():
                refused = await self.bus.retry_refused()
                if refused:
                    listed = "; ".join(str(r) for r in refused)
                    msg = f"subscription(s) refused: {listed}"
                    raise BusError(msg)
            self.bus.refusal.clear()
            await self.bus.refusal.wait()
