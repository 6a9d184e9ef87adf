"""The one envelope: everything that leaves a pipeline is an `Event`.

JSON on MQTT carries `"v": 1`; `media` (JPEG bytes) is never inlined into JSON: it is
published on its own topic or sent as a tensor to the cloud model.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.kinds import Kind
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.stats_registry import Stats

__all__ = ["EVENT_VERSION", "Event", "EventSink", "Events", "Kind", "Priority", "new_event_id"]

log = logging.getLogger(__name__)

EVENT_VERSION = 1


class Priority(IntEnum):
    """Higher goes first upstream and is evicted last from the outbox."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


class _IdGenerator:
    """Time-ordered unique ids, 32 hex chars: 48-bit ms time, 16-bit counter, 64 random bits.

    Same layout idea as UUIDv7/ULID: ids sort by creation time, so they double as the
    outbox order and the cloud's idempotency key. Monotonic within a process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._counter = 0

    def new(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                self._counter += 1
                if self._counter > 0xFFFF:  # 65,536 ids in one ms: borrow the next ms
                    ms = self._last_ms = ms + 1
                    self._counter = 0
            else:
                self._counter = 0
            self._last_ms = ms
            rand = int.from_bytes(os.urandom(8), "big")
            return f"{ms:012x}{self._counter & 0xFFFF:04x}{rand:016x}"


new_event_id = _IdGenerator().new


class Event(BaseModel):
    """An event leaving a pipeline (summary, alert, detection, hard case, verdict, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = Field(EVENT_VERSION, description="Envelope version.")
    id: str = Field(default_factory=new_event_id, description="Unique, time-ordered id.")
    ts: float = Field(default_factory=time.time, description="Unix time of the event.")
    gateway: str = Field(description="Id of the gateway that made it.")
    source: str = Field(description="Sensor, camera or device id the event is about.")
    kind: str = Field(description="`sensor.summary`, `vision.hard_case`, `cloud.verdict`, ...")
    priority: Priority = Field(Priority.NORMAL, description="Upstream priority.")
    data: dict[str, Any] = Field(default_factory=dict, description="Kind-specific JSON body.")
    media: bytes | None = Field(
        None, exclude=True, repr=False, description="JPEG bytes; never inlined into JSON."
    )
    media_type: str | None = Field(None, description="MIME type of `media` when present.")

    def to_json(self) -> bytes:
        """The JSON form published on MQTT and sent upstream (without `media`)."""
        return self.model_dump_json().encode()


EventSink = Callable[[Event], None]
"""Something that takes events (the cloud outbox); must not block the loop for long."""


class Events:
    """Publish events locally on `<prefix>/events/<kind>/<source>` and hand them to sinks."""

    def __init__(self, *, bus: MqttBus, topics: Topics, stats: Stats, gateway_id: str) -> None:
        self._bus = bus
        self._topics = topics
        self.gateway_id = gateway_id
        self._sinks: list[EventSink] = []
        self._count = stats.counter("events", "Events emitted, by kind.", ["kind"])

    def add_sink(self, sink: EventSink) -> None:
        """Also give every event to `sink` (e.g. the cloud outbox)."""
        self._sinks.append(sink)

    def remove_sink(self, sink: EventSink) -> None:
        """Stop giving events to `sink` (the cloud link restarted by a reload)."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def make(self, *, source: str, kind: str, **fields: Any) -> Event:
        """An Event from this gateway."""
        return Event(gateway=self.gateway_id, source=source, kind=kind, **fields)

    def emit(self, event: Event, *, qos: int = 1) -> None:
        """Publish `event` on MQTT (never blocks) and pass it to every sink."""
        self._count.labels(event.kind).inc()
        self._bus.publish(self._topics.event(event.kind, event.source), event.to_json(), qos=qos)
        for sink in self._sinks:
            sink(event)
