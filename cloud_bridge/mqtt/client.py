"""An MQTT client for a cloud broker: publish with QoS 1 and learn what the broker said.

Why not aiomqtt (the gateway's local bus uses it): aiomqtt 2.5 resolves a publish on
any PUBACK and drops its reason code, so a publish an MQTT 5 broker refused (0x87 Not
authorized under an ACL, 0x97 Quota exceeded) would look delivered and the outbox would
delete it. Here every PUBACK's reason code decides, and a failure is an `UplinkRefused`.

paho-mqtt runs its network loop in its own thread (`loop_start`); every callback is
handed to the event loop with `call_soon_threadsafe`, so all state here is touched on
the loop only. One paho client per connection: a new session per connect, so nothing
unacknowledged is re-sent behind our back; the outbox re-sends, with the same ids.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud_bridge.errors import UplinkConnectionError, UplinkRefused, UplinkTimeout

__all__ = ["CloudMqttClient", "ConnectInfo", "IncomingMessage"]

log = logging.getLogger(__name__)

# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3) as their MQTT 5 reason codes.
_V311_CONNACK = {
    1: (0x84, "Unsupported protocol version"),
    2: (0x85, "Client identifier not valid"),
    3: (0x88, "Server unavailable"),
    4: (0x86, "Bad user name or password"),
    5: (0x87, "Not authorized"),
}


@dataclass(slots=True, frozen=True)
class ConnectInfo:
    """What the broker told us in its CONNACK (MQTT 5 properties; None when absent)."""

    max_packet_size: int | None
    receive_maximum: int | None


@dataclass(slots=True, frozen=True)
class IncomingMessage:
    """A message from a subscription."""

    topic: str
    payload: bytes


class CloudMqttClient:
    """``async with CloudMqttClient(host, port, client_id=..., ssl_context=ctx) as c:``.

    `connect()` opens a session (raising `UplinkConnectionError`, `UplinkTimeout` or
    `UplinkRefused`) and subscribes `subscriptions` (QoS 1), whose messages go to
    `on_message` on the event loop. `publish()` returns a future that resolves on the
    broker's PUBACK, or fails with `UplinkRefused` (a failure reason code) or
    `UplinkConnectionError` (the session ended first). `on_lost` is called when an open
    session ends. `close()` ends the session; `connect()` may then be called again.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        ssl_context: ssl.SSLContext | None = None,
        protocol: Literal["5", "3.1.1"] = "5",
        keepalive_s: int = 60,
        connect_timeout_s: float = 10.0,
        max_inflight: int = 20,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[IncomingMessage], object] | None = None,
        on_lost: Callable[[str], object] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self._ssl = ssl_context
        self._protocol = (
            MQTTProtocolVersion.MQTTv5 if protocol == "5" else MQTTProtocolVersion.MQTTv311
        )
        self._keepalive_s = keepalive_s
        self._connect_timeout_s = connect_timeout_s
        self._max_inflight = max_inflight
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._on_lost = on_lost
        self._paho: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connack: asyncio.Future[ConnectInfo] | None = None
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._pubacks: dict[int, asyncio.Future[None]] = {}
        self._last_socket_error = ""
        self.info: ConnectInfo | None = None
        """The open session's CONNACK properties; None when not connected."""

    @property
    def connected(self) -> bool:
        """Whether a session is open (CONNACK received, not lost since)."""
        return self.info is not None

    async def __aenter__(self) -> Self:
        """Nothing to open yet: `connect()` opens the session."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the session, if any."""
        await self.close()

    async def connect(self) -> ConnectInfo:
        """Open a session and subscribe; raise an `UplinkError` saying why not."""
        await self.close()
        loop = self._loop = asyncio.get_running_loop()
        client = self._new_client()
        self._connack = loop.create_future()
        self._last_socket_error = ""
        try:
            await asyncio.to_thread(
                client.connect, self.host, self.port, self._keepalive_s, clean_start=True
            )
        except ssl.SSLCertVerificationError as exc:
            raise UplinkConnectionError(
                f"{self._where}: certificate verification failed: {exc.verify_message} "
                "(is the CA file the one that signed the broker's certificate?)",
                tls=True,
            ) from exc
        except ssl.SSLError as exc:
            raise UplinkConnectionError(f"{self._where}: TLS failed: {exc}", tls=True) from exc
        except TimeoutError as exc:
            raise UplinkTimeout(
                f"{self._where}: no connection within {self._connect_timeout_s}s",
                timeout=self._connect_timeout_s,
            ) from exc
        except (OSError, ValueError) as exc:
            raise UplinkConnectionError(f"{self._where}: {exc}") from exc
        self._paho = client
        client.loop_start()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                info = await self._connack
                await self._subscribe(client)
        except TimeoutError as exc:
            await self.close()
            raise UplinkTimeout(
                f"{self._where}: no CONNACK/SUBACK within {self._connect_timeout_s}s",
                timeout=self._connect_timeout_s,
            ) from exc
        except BaseException:
            await self.close()
            raise
        self.info = info
        log.info("cloud broker %s: connected as %s", self._where, self.client_id)
        return info

    def publish(self, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Publish with QoS 1; the future resolves on a successful PUBACK."""
        client, loop = self._paho, self._loop
        if client is None or loop is None or self.info is None:
            raise UplinkConnectionError(f"{self._where}: not connected")
        info = client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise UplinkConnectionError(
                f"{self._where}: publish failed: {paho.error_string(info.rc)}"
            )
        # The PUBACK is handed to the loop with call_soon_threadsafe, so it cannot be
        # handled before this future is registered: no await in between.
        future: asyncio.Future[None] = loop.create_future()
        self._pubacks[info.mid] = future
        return future

    async def close(self) -> None:
        """End the session (DISCONNECT) and stop the network thread."""
        client, self._paho = self._paho, None
        self._fail_pending("the session was closed")
        if client is None:
            return
        client.disconnect()
        await asyncio.to_thread(client.loop_stop)

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _new_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=self._protocol
        )
        if self._ssl is not None:
            client.tls_set_context(self._ssl)
        client.connect_timeout = self._connect_timeout_s
        client.max_inflight_messages_set(self._max_inflight)
        client.max_queued_messages_set(0)  # unbounded here: the sender bounds what it leases
        client.on_connect = self._cb_connect
        client.on_disconnect = self._cb_disconnect
        client.on_publish = self._cb_publish
        client.on_subscribe = self._cb_subscribe
        client.on_message = self._cb_message
        client.on_log = self._cb_log
        return client

    async def _subscribe(self, client: paho.Client) -> None:
        assert self._loop is not None
        for topic in self._subscriptions:
            result, mid = client.subscribe(topic, qos=1)
            if result != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
                raise UplinkConnectionError(f"{self._where}: subscribe {topic} failed")
            future = self._subacks[mid] = self._loop.create_future()
            codes = await future
            if not codes or codes[0].is_failure:
                code = codes[0] if codes else None
                raise UplinkRefused(
                    code.value if code is not None else 0x80,
                    code.getName() if code is not None else "Unspecified error",
                    stage="subscribe",
                    topic=topic,
                )

    # paho callbacks: they run in paho's thread; hand everything to the loop.

    def _post(self, func: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(func, *args)

    def _cb_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        del userdata, flags
        self._post(self._connected, client, reason, properties)

    def _cb_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: object,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        del userdata, flags, properties
        self._post(self._disconnected, client, reason)

    def _cb_publish(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        del userdata, properties
        self._post(self._puback, client, mid, reason)

    def _cb_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        del userdata, properties
        self._post(self._suback, client, mid, reasons)

    def _cb_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        del userdata
        self._post(self._message, client, IncomingMessage(msg.topic, bytes(msg.payload)))

    def _cb_log(self, client: paho.Client, userdata: object, level: int, text: str) -> None:
        del client, userdata
        if level == paho.MQTT_LOG_ERR and text.startswith(("failed to", "timeout on socket")):
            # The reason a TLS session died (the broker's alert about our certificate)
            # reaches us only here: paho turns the socket error into "connection lost".
            self._last_socket_error = text

    # On the loop.

    def _connected(
        self, client: paho.Client, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if client is not self._paho or self._connack is None or self._connack.done():
            return
        if reason.is_failure:
            code, name = reason.value, reason.getName()
            if self._protocol == MQTTProtocolVersion.MQTTv311:
                code, name = _V311_CONNACK.get(code, (0x80, name))
            self._connack.set_exception(UplinkRefused(code, name, stage="connect"))
            return
        self._connack.set_result(
            ConnectInfo(
                max_packet_size=_int_property(properties, "MaximumPacketSize"),
                receive_maximum=_int_property(properties, "ReceiveMaximum"),
            )
        )

    def _disconnected(self, client: paho.Client, reason: ReasonCode) -> None:
        if client is not self._paho:
            return
        why = self._loss_reason(reason)
        was_open = self.info is not None
        self.info = None
        error = UplinkConnectionError(why, tls=self._is_tls_loss())
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(error)
        self._fail_pending(why, error)
        if was_open:
            log.warning("cloud broker %s", why)
            if self._on_lost is not None:
                self._on_lost(why)

    def _puback(self, client: paho.Client, mid: int, reason: ReasonCode) -> None:
        future = self._pubacks.pop(mid, None)
        if client is not self._paho or future is None or future.done():
            return
        if reason.is_failure:
            future.set_exception(UplinkRefused(reason.value, reason.getName(), stage="publish"))
        else:
            future.set_result(None)

    def _suback(self, client: paho.Client, mid: int, reasons: list[ReasonCode]) -> None:
        future = self._subacks.pop(mid, None)
        if client is self._paho and future is not None and not future.done():
            future.set_result(reasons)

    def _message(self, client: paho.Client, message: IncomingMessage) -> None:
        if client is self._paho and self._on_message is not None:
            self._on_message(message)

    def _loss_reason(self, reason: ReasonCode) -> str:
        said = "" if reason.value in (0, 0x80) else f" ({reason.getName()})"
        socket_error = f": {self._last_socket_error}" if self._last_socket_error else ""
        hint = ""
        if self._is_tls_loss():
            hint = " (did the broker refuse the client certificate?)"
        stage = "closed the session" if self.info is not None else "closed before CONNACK"
        return f"{self._where} {stage}{said}{socket_error}{hint}"

    def _is_tls_loss(self) -> bool:
        return self._ssl is not None and "SSL" in self._last_socket_error

    def _fail_pending(self, why: str, error: Exception | None = None) -> None:
        self.info = None
        pending: list[asyncio.Future[Any]] = [*self._pubacks.values(), *self._subacks.values()]
        if self._connack is not None:
            pending.append(self._connack)
        self._pubacks.clear()
        self._subacks.clear()
        for future in pending:
            if not future.done():
                future.set_exception(error or UplinkConnectionError(f"{self._where}: {why}"))
        # A failed future nobody awaits must not log "exception never retrieved".
        for future in pending:
            if future.done() and not future.cancelled():
                future.exception()


def _int_property(properties: Properties | None, name: str) -> int | None:
    value = getattr(properties, name, None) if properties is not None else None
    return value if isinstance(value, int) else None
