"""Commands on `<prefix>/cmd/<name>`, answered on `<prefix>/cmd/<name>/result`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from gateway.mqtt.bus import Message, MqttBus
from gateway.mqtt.topics import Topics

CommandHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Commands:
    """Routes `cmd/<name>` messages (JSON object or empty payload) to named handlers."""

    def __init__(self, *, bus: MqttBus, topics: Topics) -> None:
        self._bus = bus
        self._topics = topics
        self._handlers: dict[str, CommandHandler] = {}
        bus.subscribe(topics.command("+"), self._on_message, qos=1, name="commands")

    def register(self, name: str, handler: CommandHandler) -> None:
        """Answer `cmd/<name>` with `handler`'s result."""
        self._handlers[name] = handler

    async def _on_message(self, message: Message) -> None:
        name = message.topic.rsplit("/", 1)[-1]
        result: dict[str, Any]
        handler = self._handlers.get(name)
        if handler is None:
            result = {
                "ok": False,
                "error": f"unknown command {name!r}",
                "commands": sorted(self._handlers),
            }
        else:
            try:
                args = json.loads(message.payload) if message.payload.strip() else {}
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                args = None
                result = {"ok": False, "error": f"payload is not JSON: {exc}"}
            if args is not None and not isinstance(args, dict):
                result = {"ok": False, "error": "payload must be a JSON object"}
            elif args is not None:
                result = {"ok": True, **await handler(args)}
        self._bus.publish(self._topics.command_result(name), json.dumps(result), qos=1)
