"""Commands on `<prefix>/cmd/<name>`, answered on `<prefix>/cmd/<name>/result`.

A command name has one or more levels; a handler is registered for a pattern where `+`
stands for one level (`camera/+/detect`), and gets the levels it matched as `params`.

- Payload: empty, or a JSON object (at most `MAX_PAYLOAD` bytes). Its `"id"` (a string
  or an integer) is the request id, echoed in the answer; the rest are the arguments.
- Answer: `{"ok": true, "command": ..., "id": ..., ...}` or
  `{"ok": false, "command": ..., "id": ..., "error": "..."}`. A handler raising
  `CommandError` answers its message; any other exception answers `internal error` and
  is logged (rate-limited); the gateway goes on.
- MQTT 5: a request with a response topic is answered there, with its correlation data;
  otherwise on `<prefix>/cmd/<name>/result`.
- Our own answers come back on the `cmd/#` subscription: a name ending in `/result`
  whose stem is a registered command is an answer and is ignored (never answered, or
  answers would answer answers).
- A flood is answered, not obeyed: past `rate_per_s` (burst `burst`) a request gets
  `rate limited` without running (a command that must not overlap itself, like
  `reload`, answers `busy` on its own). Every request is counted by pattern and result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import CommandError
from gateway.logs import RateLimitedLog
from gateway.mqtt.bus import Message, MqttBus
from gateway.mqtt.topics import TopicFilter, Topics
from gateway.stats_registry import Stats

__all__ = ["CommandError", "CommandHandler", "CommandRequest", "Commands"]

log = logging.getLogger(__name__)

MAX_PAYLOAD = 1_100_000
"""Largest request accepted: a pushed config (at most 1 MB) plus its JSON envelope."""
MAX_ID_CHARS = 128
RESULT = "result"


@dataclass(slots=True, frozen=True)
class CommandRequest:
    """One request: the full name, the levels its pattern's `+` matched, the arguments."""

    name: str
    params: tuple[str, ...]
    args: dict[str, Any]
    request_id: str | int | None = None


CommandHandler = Callable[[CommandRequest], Awaitable[dict[str, Any]]]
"""Does the command; returns the answer's fields; raises `CommandError` to refuse."""


@dataclass(slots=True)
class _Route:
    pattern: str
    filter: TopicFilter
    handler: CommandHandler


@dataclass(slots=True)
class _Bucket:
    """Token bucket: `rate` per second, at most `burst` at once."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def bool_arg(req: CommandRequest, key: str) -> bool:
    """Argument `key` as a boolean: true/false, or "ON"/"OFF" (Home Assistant's payloads)."""
    value = req.args.get(key)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper() in ("ON", "OFF"):
        return value.upper() == "ON"
    msg = f'argument {key!r} must be true or false (or "ON"/"OFF"), got {value!r}'
    raise CommandError(msg)


class Commands:
    """Routes `cmd/...` messages to handlers and publishes their answers."""

    def __init__(
        self,
        *,
        bus: MqttBus,
        topics: Topics,
        stats: Stats,
        rate_per_s: float = 50.0,
        burst: float = 100.0,
    ) -> None:
        self._bus = bus
        self._topics = topics
        self._routes: list[_Route] = []
        self._bucket = _Bucket(rate_per_s, burst)
        self._ratelog = RateLimitedLog(log)
        self._count = stats.counter(
            "commands", "Commands received, by command and result.", ["command", "result"]
        )
        self._ignored = stats.counter(
            "commands_ignored", "Messages on cmd/ that were our own answers."
        )
        self._prefix = topics.command("")
        bus.subscribe(topics.command("#"), self._on_message, qos=1, name="commands")

    def register(self, pattern: str, handler: CommandHandler) -> None:
        """Answer `cmd/<pattern>` with `handler` (replacing one registered before)."""
        self.unregister(pattern)
        self._routes.append(_Route(pattern, TopicFilter.parse(pattern), handler))

    def unregister(self, pattern: str) -> None:
        """Stop answering `pattern` (a request then gets `unknown command`)."""
        self._routes = [r for r in self._routes if r.pattern != pattern]

    @property
    def patterns(self) -> list[str]:
        """The registered command patterns, sorted."""
        return sorted(r.pattern for r in self._routes)

    def _route(self, name: str) -> _Route | None:
        return next((r for r in self._routes if r.filter.matches(name)), None)

    async def _on_message(self, message: Message) -> None:
        name = message.topic.removeprefix(self._prefix)
        route = self._route(name)
        if name.endswith("/" + RESULT) and (
            route is None or self._route(name.removesuffix("/" + RESULT)) is not None
        ):
            self._ignored.inc()
            return
        request_id: str | int | None = None
        label = route.pattern if route is not None else "unknown"
        try:
            args, request_id = _parse(message.payload)
            if not self._bucket.take():
                result = "rate_limited"
                answer: dict[str, Any] = {"ok": False, "error": "rate limited: try again later"}
            elif route is None:
                result = "unknown"
                answer = {
                    "ok": False,
                    "error": f"unknown command {name!r}",
                    "commands": self.patterns,
                }
            else:
                params = tuple(
                    level
                    for level, want in zip(name.split("/"), route.filter.levels, strict=True)
                    if want == "+"
                )
                done = await route.handler(CommandRequest(name, params, args, request_id))
                answer = {"ok": True, **done}
                result = "ok" if answer.get("ok", True) else "error"
        except CommandError as exc:
            result, answer = "error", {"ok": False, "error": str(exc)}
        except Exception as exc:  # a handler bug must not take the commands down
            self._ratelog.log(logging.ERROR, f"command:{label}", "command %s failed: %r", name, exc)
            result, answer = "error", {"ok": False, "error": f"internal error: {exc!r}"}
        self._count.labels(label, result).inc()
        self._answer(message, name, {"command": name, "id": request_id, **answer})

    def _answer(self, message: Message, name: str, answer: dict[str, Any]) -> None:
        payload = json.dumps(answer, separators=(",", ":"), default=str)
        topic = message.response_topic
        if topic is None or not _publishable(topic):
            topic = self._topics.command_result(name)
        self._bus.publish(topic, payload, qos=1, correlation_data=message.correlation_data)


def _publishable(topic: str) -> bool:
    """Whether `topic` may be published to (MQTT 3.1.1 §4.7: no wildcards, not empty)."""
    return bool(topic) and "+" not in topic and "#" not in topic and "\x00" not in topic


def _parse(payload: bytes) -> tuple[dict[str, Any], str | int | None]:
    """The arguments and the request id of a payload; `CommandError` when malformed."""
    if len(payload) > MAX_PAYLOAD:
        msg = f"payload of {len(payload)} bytes is over the limit of {MAX_PAYLOAD}"
        raise CommandError(msg)
    if not payload.strip():
        return {}, None
    try:
        args = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"payload is not JSON: {exc}"
        raise CommandError(msg) from None
    except RecursionError:
        msg = "payload is not JSON: nested too deeply"
        raise CommandError(msg) from None
    if not isinstance(args, dict):
        msg = "payload must be a JSON object"
        raise CommandError(msg)
    request_id = args.pop("id", None)
    if request_id is not None and (
        isinstance(request_id, bool)
        or not isinstance(request_id, str | int)
        or len(str(request_id)) > MAX_ID_CHARS
    ):
        msg = f"id must be a string or an integer of at most {MAX_ID_CHARS} characters"
        raise CommandError(msg)
    return args, request_id
