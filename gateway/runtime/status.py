"""The status page's model: what the gateway is doing now, kept from its own output.

`StatusBoard` learns everything from what the gateway already produces, so it needs no
hook in any pipeline:

- every `Event` (it is an `Events` sink): the live feed, each sensor's latest values
  and rule states (with an hour of history per metric for the chart), each camera's
  detections and active tracks;
- the retained MQTT topics `<prefix>/cameras/+/snapshot` (the annotated JPEG) and
  `<prefix>/cameras/+/detect` (`ON`/`OFF`);
- the stats registry, read when the page asks: uptime, broker, cloud, outbox, camera
  fps, bytes in and out.

Live clients (`/api/stream`, Server-Sent Events) each get a bounded queue: a client
that does not keep up loses its oldest messages (counted), the gateway never waits.
Nothing secret is kept: URLs are shown with their credentials masked.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.config import GatewayConfig
from gateway.config.cloud import CloudSection
from gateway.events import Event, Kind
from gateway.logs import redact_urls
from gateway.mqtt.bus import Message, MqttBus, Subscription
from gateway.mqtt.topics import Topics
from gateway.stats_registry import SnapshotValue, Stats

__all__ = ["LiveMessage", "StatusBoard"]

FEED_SIZE = 200
HISTORY_S = 3600.0
HISTORY_POINTS = 720
"""Points kept per metric: one per 5 s over the hour (older ones are thinned)."""
CLIENT_QUEUE = 500
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024


@dataclass(slots=True, frozen=True)
class LiveMessage:
    """One Server-Sent Event: its `event:` name and its JSON `data:`."""

    name: str
    data: str


@dataclass(slots=True)
class _Metric:
    value: float | None = None
    unit: str | None = None
    ts: float | None = None
    history: deque[tuple[float, float]] = field(
        default_factory=lambda: deque(maxlen=HISTORY_POINTS)
    )

    def add(self, ts: float, value: float | None, unit: str | None) -> None:
        self.value, self.unit, self.ts = value, unit, ts
        if value is None:
            return
        history = self.history
        # One point per slot (HISTORY_S / HISTORY_POINTS): the newest reading of the slot.
        if len(history) >= 2 and ts - history[-2][0] < HISTORY_S / HISTORY_POINTS:
            history[-1] = (ts, value)
        else:
            history.append((ts, value))
        while history and ts - history[0][0] > HISTORY_S:
            history.popleft()


@dataclass(slots=True)
class _Sensor:
    metrics: dict[str, _Metric] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    last_event: float | None = None


@dataclass(slots=True)
class _Camera:
    tracks: dict[int, dict[str, Any]] = field(default_factory=dict)
    detections: int = 0
    last_detection: float | None = None
    snapshot: bytes | None = None
    snapshot_ts: float | None = None
    snapshot_version: int = 0
    detect: str | None = None


def _metric(snapshot: dict[str, SnapshotValue], name: str, key: str | None = None) -> float:
    value = snapshot.get(name)
    if isinstance(value, dict):
        if key is None:
            return float(sum(value.values()))
        return float(value.get(key, 0.0))
    return float(value) if value is not None else 0.0


def _events_to(cloud: CloudSection) -> str:
    """Where events go: the cloud broker (transport mqtt) or the event sink's URL."""
    broker = cloud.events.mqtt
    if cloud.events.transport == "mqtt" and broker is not None:
        scheme = "mqtts" if broker.tls.enabled else "mqtt"
        return f"{scheme}://{broker.host}:{broker.port}"
    return redact_urls(str(cloud.event_sink_url() or "none"))


def _largest(snapshot: dict[str, SnapshotValue], name: str) -> float:
    value = snapshot.get(name)
    if isinstance(value, dict):
        return max(value.values(), default=0.0)
    return float(value) if value is not None else 0.0


def _dumps(doc: object) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)


class StatusBoard:
    """Collects the page's state; `status()` is `/api/status`, `listen()` feeds `/api/stream`."""

    def __init__(
        self,
        *,
        config: GatewayConfig,
        stats: Stats,
        health: Callable[[], list[str]],
    ) -> None:
        self.config = config
        self._stats = stats
        self._health = health
        self._started = time.time()
        self._feed: deque[Event] = deque(maxlen=FEED_SIZE)
        self._sensors: dict[str, _Sensor] = {}
        self._cameras: dict[str, _Camera] = {}
        self._clients: set[asyncio.Queue[LiveMessage]] = set()
        self._subs: list[Subscription] = []
        self._bus: MqttBus | None = None
        self._dropped = stats.counter(
            "status_page_dropped", "Live messages dropped for a status page client too slow."
        )
        self._reloads: deque[dict[str, Any]] = deque(maxlen=10)

    # ---- inputs --------------------------------------------------------------------

    def attach(self, bus: MqttBus, topics: Topics) -> None:
        """Follow the cameras' retained snapshot and detect-state topics."""
        self._bus = bus
        self._subs = [
            bus.subscribe(topics.camera_snapshot("+"), self._on_snapshot, name="status-snapshots"),
            bus.subscribe(topics.camera_detect("+"), self._on_detect, name="status-detect"),
        ]

    def update_config(self, config: GatewayConfig) -> None:
        """A reload: forget sensors and cameras that are no longer configured."""
        self.config = config
        sensors = {s.id for s in config.sensors}
        cameras = {c.id for c in config.cameras}
        for gone in set(self._sensors) - sensors:
            del self._sensors[gone]
        for gone in set(self._cameras) - cameras:
            del self._cameras[gone]
        self._push("status", self.status())

    def reloaded(self, answer: dict[str, Any]) -> None:
        """Note a reload's answer (shown on the page)."""
        self._reloads.appendleft({"ts": round(time.time(), 3), **answer})

    def on_event(self, event: Event) -> None:
        """The `Events` sink: update sensors and cameras, append to the feed."""
        self._feed.append(event)
        kind, data = event.kind, event.data
        if kind in (Kind.SENSOR_SUMMARY, Kind.SENSOR_ALERT, Kind.SENSOR_CLEAR):
            self._sensor_event(event.ts, kind, data)
        elif kind == Kind.VISION_DETECTION:
            self._detection(event.ts, data)
        if self._clients:
            self._push("event", _dumps(self._event_json(event)))

    def _sensor_event(self, ts: float, kind: str, data: dict[str, Any]) -> None:
        name = data.get("sensor")
        if not isinstance(name, str):
            return
        sensor = self._sensors.setdefault(name, _Sensor())
        sensor.last_event = ts
        if kind == Kind.SENSOR_SUMMARY:
            metrics = data.get("metrics")
            if isinstance(metrics, dict):
                for metric, summary in metrics.items():
                    if not isinstance(summary, dict) or not summary.get("count"):
                        continue
                    value = summary.get("value")
                    unit = summary.get("unit")
                    sensor.metrics.setdefault(str(metric), _Metric()).add(
                        ts,
                        float(value) if isinstance(value, int | float) else None,
                        unit if isinstance(unit, str) else None,
                    )
            rules = data.get("rules")
            if isinstance(rules, dict):
                sensor.rules.update({str(k): str(v) for k, v in rules.items()})
        else:
            rule = data.get("rule")
            if isinstance(rule, str):
                sensor.rules[rule] = "alert" if kind == Kind.SENSOR_ALERT else "ok"

    def _detection(self, ts: float, data: dict[str, Any]) -> None:
        name = data.get("camera")
        track = data.get("track_id")
        if not isinstance(name, str) or not isinstance(track, int):
            return
        camera = self._cameras.setdefault(name, _Camera())
        phase = data.get("phase")
        if phase == "end":
            camera.tracks.pop(track, None)
            return
        if phase == "start":
            camera.detections += 1
            camera.last_detection = ts
        camera.tracks[track] = {
            "track_id": track,
            "label": data.get("label"),
            "score": data.get("best_score"),
            "zones": data.get("zones"),
            "since": data.get("first_seen"),
        }

    def _on_snapshot(self, message: Message) -> None:
        camera = self._camera_of(message.topic)
        if camera is None or len(message.payload) > MAX_SNAPSHOT_BYTES:
            return
        state = self._cameras.setdefault(camera, _Camera())
        if not message.payload:  # a cleared retained snapshot
            state.snapshot = None
            return
        state.snapshot = message.payload
        state.snapshot_ts = round(message.received_at, 3)
        state.snapshot_version += 1
        self._push(
            "snapshot",
            _dumps({"camera": camera, "version": state.snapshot_version, "ts": state.snapshot_ts}),
        )

    def _on_detect(self, message: Message) -> None:
        camera = self._camera_of(message.topic)
        if camera is None:
            return
        value = message.payload.decode("ascii", "replace").strip().upper()
        state = self._cameras.setdefault(camera, _Camera())
        state.detect = value if value in ("ON", "OFF") else None

    def _camera_of(self, topic: str) -> str | None:
        # <prefix>/cameras/<camera>/<leaf>: the camera is the level before the leaf.
        parts = topic.rsplit("/", 2)
        if len(parts) != 3 or parts[1] not in {c.id for c in self.config.cameras}:
            return None
        return parts[1]

    def snapshot_jpeg(self, camera: str) -> bytes | None:
        """The latest annotated snapshot of `camera`, or None."""
        state = self._cameras.get(camera)
        return state.snapshot if state is not None else None

    # ---- outputs -------------------------------------------------------------------

    def listen(self) -> asyncio.Queue[LiveMessage]:
        """A new live client's queue (remove it with `forget`)."""
        queue: asyncio.Queue[LiveMessage] = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(queue)
        return queue

    def forget(self, queue: asyncio.Queue[LiveMessage]) -> None:
        """A live client left."""
        self._clients.discard(queue)

    @property
    def clients(self) -> int:
        """Live clients connected now."""
        return len(self._clients)

    def _push(self, name: str, data: str | dict[str, Any]) -> None:
        message = LiveMessage(name, data if isinstance(data, str) else _dumps(data))
        for queue in self._clients:
            if queue.full():
                queue.get_nowait()
                self._dropped.inc()
            queue.put_nowait(message)

    @staticmethod
    def _event_json(event: Event) -> dict[str, Any]:
        return {
            "id": event.id,
            "ts": event.ts,
            "kind": event.kind,
            "source": event.source,
            "priority": int(event.priority),
            "data": event.data,
        }

    def status(self) -> dict[str, Any]:
        """Everything the page shows, as one JSON object."""
        cfg = self.config
        snap = self._stats.snapshot()
        problems = self._health()
        return {
            "gateway": {
                "id": cfg.gateway.id,
                "name": cfg.gateway.name or cfg.gateway.id,
                "started": round(self._started, 3),
                "uptime_s": round(self._stats.uptime(), 1),
                "healthy": not problems,
                "problems": problems,
                "now": round(time.time(), 3),
                "reloads": list(self._reloads),
            },
            "broker": {
                "address": f"{cfg.mqtt.host}:{cfg.mqtt.port}",
                "connected": _metric(snap, "mqtt_connected") == 1.0,
                "queue_depth": _metric(snap, "mqtt_queue_depth"),
                "messages_in": _metric(snap, "mqtt_messages_in_total"),
                "messages_out": _metric(snap, "mqtt_messages_out_total"),
                "reconnects": _metric(snap, "mqtt_reconnects_total"),
                "dropped": _metric(snap, "mqtt_dropped_total"),
            },
            "cloud": self._cloud(snap),
            "cameras": [self._camera(c.id, snap) for c in cfg.cameras if c.enabled],
            "sensors": [self._sensor(s.id, s.name) for s in cfg.sensors],
            "savings": self._savings(snap),
            "feed": [self._event_json(e) for e in list(self._feed)[-50:]],
        }

    def _cloud(self, snap: dict[str, SnapshotValue]) -> dict[str, Any]:
        cloud = self.config.cloud
        if not cloud.enabled:
            return {"enabled": False}
        circuit = snap.get("cloud_circuit_state")
        states = {0.0: "closed", 1.0: "half-open", 2.0: "open"}
        return {
            "enabled": True,
            "url": redact_urls(str(cloud.url)),
            "transport": cloud.events.transport,
            "events_to": _events_to(cloud),
            "model": cloud.model,
            "delivered": _metric(snap, "cloud_delivered_total"),
            "failures": _metric(snap, "cloud_failures_total"),
            "uplink_bytes": _metric(snap, "cloud_uplink_bytes_total"),
            "circuit": {k: states.get(v, str(v)) for k, v in circuit.items()}
            if isinstance(circuit, dict)
            else {},
            "outbox": {
                "depth": _metric(snap, "cloud_outbox_depth"),
                "bytes": _metric(snap, "cloud_outbox_bytes"),
                "oldest_s": _largest(snap, "cloud_outbox_oldest_age_seconds"),
                "evicted": _metric(snap, "cloud_outbox_evicted"),
                "expired": _metric(snap, "cloud_outbox_expired"),
            },
        }

    def _camera(self, name: str, snap: dict[str, SnapshotValue]) -> dict[str, Any]:
        state = self._cameras.get(name) or _Camera()
        return {
            "id": name,
            "fps": _metric(snap, "camera_fps_in", name),
            "frames_in": _metric(snap, "camera_frames_in_total", name),
            "ready": _metric(snap, "camera_ready", name) == 1.0,
            "detect": state.detect,
            "detections": state.detections,
            "last_detection": state.last_detection,
            "tracks": list(state.tracks.values()),
            "snapshot_version": state.snapshot_version if state.snapshot is not None else None,
            "snapshot_ts": state.snapshot_ts,
        }

    def _sensor(self, name: str, title: str | None) -> dict[str, Any]:
        state = self._sensors.get(name) or _Sensor()
        now = time.time()
        return {
            "id": name,
            "name": title or name,
            "last_event": state.last_event,
            "rules": state.rules,
            "metrics": {
                metric: {
                    "value": m.value,
                    "unit": m.unit,
                    "ts": m.ts,
                    "history": [[round(ts, 2), v] for ts, v in m.history if now - ts <= HISTORY_S],
                }
                for metric, m in state.metrics.items()
            },
        }

    @staticmethod
    def _savings(snap: dict[str, SnapshotValue]) -> dict[str, float | None]:
        sensors_in = _metric(snap, "sensors_bytes_in")
        cameras_in = _metric(snap, "camera_bytes_in_total")
        bytes_in = sensors_in + cameras_in
        uplink = _metric(snap, "cloud_uplink_bytes_total")
        return {
            "bytes_in": bytes_in,
            "sensor_bytes_in": sensors_in,
            "camera_bytes_in": cameras_in,
            "local_bytes_out": _metric(snap, "sensors_bytes_out"),
            "bytes_up": uplink,
            "all_cloud_bytes": bytes_in,
            "up_ratio": round(uplink / bytes_in, 6) if bytes_in else None,
        }
