"""Home Assistant MQTT discovery, following HA's documented schema.

- The gateway is a device: its `status` (binary_sensor, connectivity) and a few stats
  (diagnostic sensors read from `<prefix>/stats`).
- Each configured sensor is a device (`via_device`: the gateway); each of its configured
  metrics is a `sensor` reading `<prefix>/sensors/<sensor>/state`, each rule a
  `binary_sensor` (device class `problem`) on the same topic.
- Each enabled camera is a device (`via_device`: the gateway) with, per label it tracks
  (`tracked_labels`: `tracker.labels`, `motion` without a model, else the model's listed
  labels), an occupancy `binary_sensor` on `<prefix>/cameras/<cam>/<label>/occupancy`
  (`ON`/`OFF`) and a count `sensor` on `<prefix>/cameras/<cam>/<label>`, plus an `image`
  entity showing the retained JPEG of `<prefix>/cameras/<cam>/snapshot`. A label that is
  not a plain word (`traffic light`) gets an id with `_` for every other character.
- Controls: per camera a `switch` (detection on/off: `<prefix>/cmd/camera/<cam>/detect`,
  state `<prefix>/cameras/<cam>/detect` `ON`/`OFF`, retained) and a `button` (snapshot
  now: `<prefix>/cmd/camera/<cam>/snapshot`); on the gateway a `button` that reloads
  the config file (`<prefix>/cmd/reload`). Answers go to `.../result` as usual.
- Every entity's `availability` is `<prefix>/status` (`online`/`offline`, the Will).
- Configs are retained; sent again when Home Assistant's birth message
  (`<discovery prefix>/status` = `online`) arrives.
- A reload (`update`) publishes only the configs that changed and deletes the ones no
  longer configured: unchanged entities keep their unique ids (no duplicates in HA).
- A retained config under this gateway's node that the current config no longer has
  (a removed sensor, metric, rule, camera or label) is deleted with an empty retained payload, as HA
  documents: retained configs come back on subscribe, so this also cleans up after the
  gateway was reconfigured while it was down.

Topics: `<discovery prefix>/<component>/edgegw_<gateway id>/<object id>/config`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from gateway import __version__
from gateway.config import GatewayConfig, SensorConfig
from gateway.config.vision import CameraConfig, ModelConfig, tracked_labels
from gateway.mqtt.bus import Message, MqttBus, Subscription
from gateway.mqtt.topics import Topics

log = logging.getLogger(__name__)

ORIGIN = {
    "name": "edgegw",
    "sw_version": __version__,
}
STATS_ENTITIES: tuple[tuple[str, str, str | None, str | None, str], ...] = (
    # (object id, name, device class, unit, stats key)
    ("uptime", "Uptime", "duration", "s", "uptime_seconds"),
    ("readings_in", "Readings in", None, None, "sensors_readings_in"),
    ("decode_errors", "Rejected payloads", None, None, "sensors_decode_errors"),
    ("alerts", "Alerts", None, None, "sensors_alerts"),
    ("reduction_ratio", "Reduction ratio", None, None, "sensors_reduction_ratio"),
)


DETECT_ON = '{"detect":true}'
DETECT_OFF = '{"detect":false}'


def _slug(label: str) -> str:
    """`label` as an object/unique id part: HA allows `[a-zA-Z0-9_-]` there."""
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


class _Builder:
    """The discovery payloads of one gateway config."""

    def __init__(self, config: GatewayConfig, topics: Topics) -> None:
        self.config = config
        self.topics = topics
        self.gw = config.gateway.id
        self.node = f"edgegw_{self.gw}"
        self.prefix = config.homeassistant.discovery_prefix
        self.availability = [
            {
                "topic": topics.status,
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ]
        self.gateway_device = {
            "identifiers": [self.node],
            "name": config.gateway.name or f"edgegw {self.gw}",
            "manufacturer": "edgegw",
            "model": "edge gateway",
            "sw_version": __version__,
        }

    def topic(self, component: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{self.node}/{object_id}/config"

    def gateway_entities(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            self.topic("binary_sensor", "status"): {
                "name": "Status",
                "unique_id": f"{self.node}_status",
                "state_topic": self.topics.status,
                "payload_on": "online",
                "payload_off": "offline",
                "device_class": "connectivity",
                "entity_category": "diagnostic",
                "device": self.gateway_device,
                "origin": ORIGIN,
            }
        }
        for object_id, name, device_class, unit, key in STATS_ENTITIES:
            entity: dict[str, Any] = {
                "name": name,
                "unique_id": f"{self.node}_{object_id}",
                "state_topic": self.topics.stats,
                "value_template": f"{{{{ value_json.metrics.{key} }}}}",
                "state_class": "measurement",
                "entity_category": "diagnostic",
                "availability": self.availability,
                "device": self.gateway_device,
                "origin": ORIGIN,
            }
            if device_class is not None:
                entity["device_class"] = device_class
            if unit is not None:
                entity["unit_of_measurement"] = unit
            out[self.topic("sensor", object_id)] = entity
        out[self.topic("button", "reload")] = {
            "name": "Reload config",
            "unique_id": f"{self.node}_reload",
            "command_topic": self.topics.command("reload"),
            "payload_press": "{}",
            "entity_category": "config",
            "icon": "mdi:reload",
            "availability": self.availability,
            "device": self.gateway_device,
            "origin": ORIGIN,
        }
        return out

    def sensor_entities(self, sensor: SensorConfig) -> dict[str, dict[str, Any]]:
        device = {
            "identifiers": [f"{self.node}_{sensor.id}"],
            "name": sensor.name or sensor.id,
            "via_device": self.node,
        }
        state_topic = self.topics.sensor_state(sensor.id)
        out: dict[str, dict[str, Any]] = {}
        for metric, cfg in sensor.metrics.items():
            entity: dict[str, Any] = {
                "name": cfg.name or metric.replace("_", " ").capitalize(),
                "unique_id": f"{self.node}_{sensor.id}_{metric}",
                "state_topic": state_topic,
                "value_template": f"{{{{ value_json.metrics.{metric}.value }}}}",
                "json_attributes_topic": state_topic,
                "json_attributes_template": f"{{{{ value_json.metrics.{metric} | tojson }}}}",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            }
            if cfg.device_class is not None:
                entity["device_class"] = cfg.device_class
            if cfg.unit is not None:
                entity["unit_of_measurement"] = cfg.unit
            if cfg.state_class is not None:
                entity["state_class"] = cfg.state_class
            out[self.topic("sensor", f"{sensor.id}-{metric}")] = entity
        for rule in sensor.rules:
            out[self.topic("binary_sensor", f"{sensor.id}-{rule.id}")] = {
                "name": rule.id.replace("_", " ").capitalize(),
                "unique_id": f"{self.node}_{sensor.id}_rule_{rule.id}",
                "state_topic": state_topic,
                "value_template": f"{{{{ value_json.rules['{rule.id}'] }}}}",
                "payload_on": "alert",
                "payload_off": "ok",
                "device_class": "problem",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            }
        return out

    def camera_entities(
        self, camera: CameraConfig, model: ModelConfig | None
    ) -> dict[str, dict[str, Any]]:
        cam = camera.id
        base = f"{self.node}_camera_{cam}"
        device = {"identifiers": [base], "name": cam, "via_device": self.node}
        out: dict[str, dict[str, Any]] = {
            self.topic("image", f"camera_{cam}-snapshot"): {
                "name": "Snapshot",
                "unique_id": f"{base}_snapshot",
                "image_topic": self.topics.camera_snapshot(cam),
                "content_type": "image/jpeg",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            },
            self.topic("switch", f"camera_{cam}-detect"): {
                "name": "Detection",
                "unique_id": f"{base}_detect",
                "command_topic": self.topics.command(f"camera/{cam}/detect"),
                "payload_on": DETECT_ON,
                "payload_off": DETECT_OFF,
                "state_topic": self.topics.camera_detect(cam),
                "state_on": "ON",
                "state_off": "OFF",
                "icon": "mdi:motion-sensor",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            },
            self.topic("button", f"camera_{cam}-snapshot_now"): {
                "name": "Snapshot now",
                "unique_id": f"{base}_snapshot_now",
                "command_topic": self.topics.command(f"camera/{cam}/snapshot"),
                "payload_press": "{}",
                "icon": "mdi:camera",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            },
        }
        for label in tracked_labels(camera, model):
            slug = _slug(label)
            title = label.replace("_", " ").capitalize()
            out[self.topic("binary_sensor", f"camera_{cam}-{slug}-occupancy")] = {
                "name": f"{title} occupancy",
                "unique_id": f"{base}_{slug}_occupancy",
                "state_topic": self.topics.camera_occupancy(cam, label),
                "payload_on": "ON",
                "payload_off": "OFF",
                "device_class": "occupancy",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            }
            out[self.topic("sensor", f"camera_{cam}-{slug}-count")] = {
                "name": f"{title} count",
                "unique_id": f"{base}_{slug}_count",
                "state_topic": self.topics.camera_count(cam, label),
                "state_class": "measurement",
                "availability": self.availability,
                "device": device,
                "origin": ORIGIN,
            }
        return out


def discovery_configs(config: GatewayConfig, topics: Topics) -> dict[str, bytes]:
    """Every discovery config of `config`: retained topic -> JSON payload."""
    builder = _Builder(config, topics)
    docs = builder.gateway_entities()
    for sensor in config.sensors:
        docs.update(builder.sensor_entities(sensor))
    models = {m.id: m for m in config.models}
    for camera in config.cameras:
        if camera.enabled:
            model = models.get(camera.model) if camera.model is not None else None
            docs.update(builder.camera_entities(camera, model))
    return {topic: _dumps(doc) for topic, doc in docs.items()}


class Discovery:
    """Publishes the configs, re-sends them on HA's birth message, deletes stale ones."""

    def __init__(self, *, config: GatewayConfig, bus: MqttBus, topics: Topics) -> None:
        self._bus = bus
        self._topics = topics
        self.prefix = config.homeassistant.discovery_prefix
        self._node = f"edgegw_{config.gateway.id}"
        self.configs = discovery_configs(config, topics)
        self._subs: list[Subscription] = []

    def start(self) -> None:
        """Subscribe to HA's status and this node's retained configs; publish the configs."""
        self._subs = [
            self._bus.subscribe(f"{self.prefix}/status", self._on_ha_status, name="ha-status"),
            self._bus.subscribe(
                f"{self.prefix}/+/{self._node}/+/config", self._on_config, name="ha-configs"
            ),
        ]
        self.publish()

    def update(self, config: GatewayConfig) -> int:
        """A reload: publish new and changed configs, delete removed ones; how many changed."""
        new = discovery_configs(config, self._topics)
        old, self.configs = self.configs, new
        changed = 0
        for topic in old.keys() - new.keys():
            self._bus.publish(topic, b"", qos=1, retain=True)
            changed += 1
        for topic, payload in new.items():
            if old.get(topic) != payload:
                self._bus.publish(topic, payload, qos=1, retain=True)
                changed += 1
        if changed:
            log.info("home assistant discovery: %d entities changed", changed)
        return changed

    def stop(self, *, remove: bool) -> None:
        """Stop following HA; with `remove`, delete every entity announced."""
        for sub in self._subs:
            self._bus.unsubscribe(sub)
        self._subs = []
        if remove:
            for topic in self.configs:
                self._bus.publish(topic, b"", qos=1, retain=True)

    def publish(self) -> None:
        """Publish every config, retained."""
        for topic, payload in self.configs.items():
            self._bus.publish(topic, payload, qos=1, retain=True)
        log.info("home assistant discovery: %d entities announced", len(self.configs))

    def _on_ha_status(self, message: Message) -> None:
        if message.payload.strip() == b"online":
            self.publish()

    async def _on_config(self, message: Message) -> None:
        if not message.retain or not message.payload or message.topic in self.configs:
            return
        log.info("home assistant discovery: removing stale entity %s", message.topic)
        self._bus.publish(message.topic, b"", qos=1, retain=True)
