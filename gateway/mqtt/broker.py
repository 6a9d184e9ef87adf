"""An in-process MQTT broker (amqtt) on loopback, for trying edgegw with nothing installed.

It is for demos and first steps only: it keeps nothing on disk (retained messages and
sessions are lost at exit), has no authentication or TLS here, and is slower than
Mosquitto. Production configs set `mqtt.broker: external` and point at Mosquitto.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

from gateway.errors import ComponentError

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """Async context manager running an amqtt broker on `host:port` (loopback by default)."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def __aenter__(self) -> Self:
        from amqtt.broker import Broker

        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        broker = Broker(config)
        amqtt_log = logging.getLogger("amqtt")
        level = amqtt_log.level
        # amqtt logs a full traceback for a busy port before raising; we report it once.
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            await broker.start()
        except Exception as exc:  # amqtt raises its own BrokerError or OSError on bind
            msg = f"embedded broker cannot listen on {self.host}:{self.port}: {exc}"
            raise ComponentError(msg) from exc
        finally:
            amqtt_log.setLevel(level)
        self._broker = broker
        log.info(
            "embedded MQTT broker (amqtt, for demos only) listening on %s:%d", self.host, self.port
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
