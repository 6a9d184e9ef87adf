"""Home Assistant MQTT discovery, following HA's documented schema.

- The gateway is a device: its `status` (binary_sensor, connectivity) and a few stats
  (diagnostic sensors read from the retained `<prefix>/stats`; counters are
  `total_increasing`).
- A sensor entry whose topic names one device (no wildcard, or a `device:` filter) is
  one device (`via_device`: the gateway); a sensor with a wildcard topic
  (`zigbee2mqtt/+`) gives one device per physical device, announced when it first
  reports (or is read back from its retained state), each reading its own state topic
  (`<prefix>/sensors/<sensor>/devices/<slug>/state`). Each metric is a `sensor`, or a
  `binary_sensor` when it is binary (`occupancy`, `contact`, ...: `ha_classes`). A sensor
  without `metrics:` announces what its decoder reports, with the device class its unit
  implies. A metric with a device class and no unit waits for the decoder's unit.
  Rules are `binary_sensor`s (device class `problem`) on the sensor entry's device.
- Templates never fail: every key is looked up with a guard and a metric name in quotes
  (`value_json.metrics['items']`), and a state without the metric renders nothing,
  which Home Assistant ignores (the entity keeps its value).
- Availability: the gateway's `<prefix>/status` and, with `expected_interval_s`, the
  device's liveness topic (`offline` when it went silent): both must be `online`.
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
- A device's `manufacturer`, `model`, `sw_version` and `hw_version` are in its `device`
  block once the pipeline hands them on (`describe`: what the payload says, see
  `devices.readings.DeviceInfo`); the device's configs are sent again when they first
  arrive or change.
- Configs are retained; sent again when Home Assistant's birth message
  (`<discovery prefix>/status` = `online`) arrives.
- A reload (`update`) publishes only the configs that changed and deletes the ones no
  longer configured: unchanged entities keep their unique ids (no duplicates in HA).
- A retained config under this gateway's node that the current config no longer has
  (a removed sensor, metric, rule, camera or label) is deleted with an empty retained
  payload, as HA documents; a retained per-device entity of a sensor still configured
  is kept (its device reports again later).

Topics: `<discovery prefix>/<component>/edgegw_<gateway id>/<object id>/config`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devices.readings import DeviceInfo
from gateway import __version__
from gateway.config import GatewayConfig, SensorConfig
from gateway.config.ha_classes import (
    BINARY_SENSOR_DEVICE_CLASSES,
    SENSOR_DEVICE_CLASSES,
    binary_metric,
    metric_defaults,
    unit_accepted,
)
from gateway.config.sensors import MetricConfig
from gateway.config.vision import CameraConfig, ModelConfig, tracked_labels
from gateway.mqtt.bus import Message, MqttBus, Subscription
from gateway.mqtt.topics import Topics, slug

log = logging.getLogger(__name__)

ORIGIN = {
    "name": "edgegw",
    "sw_version": __version__,
}


_TOTAL = "total_increasing"


@dataclass(slots=True, frozen=True)
class StatsEntity:
    """A diagnostic sensor of the gateway read from `<prefix>/stats`."""

    object_id: str
    name: str
    key: str
    device_class: str | None = None
    unit: str | None = None
    state_class: str = "measurement"
    precision: int | None = None


STATS_ENTITIES: tuple[StatsEntity, ...] = (
    StatsEntity("uptime", "Uptime", "uptime_seconds", "duration", "s", precision=0),
    StatsEntity(
        "readings_in", "Readings in", "sensors_readings_in", state_class="total_increasing"
    ),
    StatsEntity(
        "decode_errors",
        "Rejected payloads",
        "sensors_decode_errors",
        state_class="total_increasing",
    ),
    StatsEntity("alerts", "Alerts", "sensors_alerts", state_class="total_increasing"),
    StatsEntity("reduction_ratio", "Reduction ratio", "sensors_reduction_ratio", precision=2),
)


DETECT_ON = '{"detect":true}'
DETECT_OFF = '{"detect":false}'
_METRIC_IN_TEMPLATE = re.compile(r"metrics\['([a-z0-9_]+)'\]")


def _slug(label: str) -> str:
    """`label` as an object/unique id part: HA allows `[a-zA-Z0-9_-]` there."""
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


InfoKey = tuple[str, str | None]
"""(sensor id, physical device or None for the sensor entry's device)."""


def with_info(device: dict[str, Any], info: DeviceInfo | None) -> dict[str, Any]:
    """An HA `device` block with what the device said about itself."""
    if info is not None:
        for key in ("manufacturer", "model", "sw_version", "hw_version"):
            if (value := getattr(info, key)) is not None:
                device[key] = value
    return device


def _dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _lookup(section: str, key: str) -> str:
    """Jinja: `value_json.<section>[key]` when there, else none (never an error)."""
    return (
        f"value_json.{section}['{key}'] if value_json is mapping and value_json.{section} "
        f"is mapping and '{key}' in value_json.{section} else none"
    )


def metric_template(metric: str, *, binary: bool, inverted: bool = False) -> str:
    """The state of a metric entity: its value (or ON/OFF), nothing when not there."""
    head = f"{{% set m = {_lookup('metrics', metric)} %}}"
    if binary:
        on, off = ("OFF", "ON") if inverted else ("ON", "OFF")
        return head + (
            f"{{% if m is mapping and m.last is number %}}{{{{ '{on}' if m.last >= 0.5 "
            f"else '{off}' }}}}{{% endif %}}"
        )
    return head + "{% if m is mapping and m.value is number %}{{ m.value }}{% endif %}"


def attributes_template(metric: str) -> str:
    """The metric's summary (count, min, max, mean, ts...) as attributes."""
    return f"{{{{ (({_lookup('metrics', metric)}) or {{}}) | tojson }}}}"


def key_template(section: str, key: str) -> str:
    """`value_json.<section>[key]` rendered, nothing when not there."""
    return (
        f"{{% set v = {_lookup(section, key)} %}}{{% if v is not none %}}{{{{ v }}}}{{% endif %}}"
    )


@dataclass(slots=True, frozen=True)
class MetricEntity:
    """How one metric is shown: the entity type and its Home Assistant metadata."""

    component: str
    device_class: str | None
    unit: str | None
    state_class: str | None
    inverted: bool
    config: MetricConfig | None


def is_binary(metric: str, cfg: MetricConfig) -> bool:
    """Whether a configured metric is a binary_sensor (see MetricConfig.component)."""
    if cfg.component is not None:
        return cfg.component == "binary_sensor"
    dc = cfg.device_class
    if dc in BINARY_SENSOR_DEVICE_CLASSES - SENSOR_DEVICE_CLASSES:
        return True
    return (
        (dc is None or dc in BINARY_SENSOR_DEVICE_CLASSES)
        and cfg.unit is None
        and (binary_metric(metric) is not None)
    )


def metric_entity(sensor: SensorConfig, metric: str, unit: str | None) -> MetricEntity | None:
    """The entity of `metric` with the decoder's `unit`; None: not shown (yet)."""
    cfg = sensor.metrics.get(metric)
    if cfg is None:
        if sensor.metrics:
            return None  # metrics: lists what is kept
        d = metric_defaults(metric, unit)
        unit = None if d.component == "binary_sensor" else unit
        return MetricEntity(d.component, d.device_class, unit, d.state_class, d.inverted, None)
    if is_binary(metric, cfg):
        known = binary_metric(metric)
        dc = cfg.device_class or (known.device_class if known else None)
        inverted = (
            cfg.inverted if "inverted" in cfg.model_fields_set else bool(known and known.inverted)
        )
        return MetricEntity("binary_sensor", dc, None, None, inverted, cfg)
    unit = cfg.unit or unit
    dc = cfg.device_class
    if dc is not None and not unit_accepted(dc, unit):
        if unit is None:
            return None  # wait for the decoder's unit
        log.warning(
            "home assistant: sensor %s metric %s: the decoder reports unit %r, which Home "
            "Assistant does not accept for %s: announced without a device class",
            sensor.id, metric, unit, dc,
        )  # fmt: skip
        dc = None
    return MetricEntity("sensor", dc, unit, cfg.state_class, False, cfg)


def split_devices(sensor: SensorConfig) -> bool:
    """Whether the sensor's topic has wildcards and no `device:` filter (a device each)."""
    levels = sensor.topic.split("/")
    return sensor.device is None and ("+" in levels or "#" in levels)


class _Builder:
    """The discovery payloads of one gateway config."""

    def __init__(
        self,
        config: GatewayConfig,
        topics: Topics,
        infos: Mapping[InfoKey, DeviceInfo] | None = None,
    ) -> None:
        self.config = config
        self.topics = topics
        self.infos = infos or {}
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
        for stat in STATS_ENTITIES:
            entity: dict[str, Any] = {
                "name": stat.name,
                "unique_id": f"{self.node}_{stat.object_id}",
                "state_topic": self.topics.stats,
                "value_template": key_template("metrics", stat.key),
                "state_class": stat.state_class,
                "entity_category": "diagnostic",
                "availability": self.availability,
                "device": self.gateway_device,
                "origin": ORIGIN,
            }
            if stat.device_class is not None:
                entity["device_class"] = stat.device_class
            if stat.unit is not None:
                entity["unit_of_measurement"] = stat.unit
            if stat.precision is not None:
                entity["suggested_display_precision"] = stat.precision
            out[self.topic("sensor", stat.object_id)] = entity
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

    def sensor_device(self, sensor: SensorConfig) -> dict[str, Any]:
        block = {
            "identifiers": [f"{self.node}_{sensor.id}"],
            "name": sensor.name or sensor.id,
            "via_device": self.node,
        }
        return with_info(block, self.infos.get((sensor.id, None)))

    def sensor_entities(self, sensor: SensorConfig) -> dict[str, dict[str, Any]]:
        """The static entities: rules, and metrics of a one-device sensor with a known unit."""
        device = self.sensor_device(sensor)
        state_topic = self.topics.sensor_state(sensor.id)
        out: dict[str, dict[str, Any]] = {}
        if not split_devices(sensor):
            for metric in sensor.metrics:
                if (built := self.metric_entity(sensor, None, metric, None)) is not None:
                    out[built[0]] = built[1]
        availability = self.availability
        for rule in sensor.rules:
            out[self.topic("binary_sensor", f"{sensor.id}-{rule.id}")] = {
                "name": rule.id.replace("_", " ").capitalize(),
                "unique_id": f"{self.node}_{sensor.id}_rule_{rule.id}",
                "state_topic": state_topic,
                "value_template": key_template("rules", rule.id),
                "payload_on": "alert",
                "payload_off": "ok",
                "device_class": "problem",
                "availability": availability,
                "device": device,
                "origin": ORIGIN,
            }
        return out

    def metric_entity(
        self, sensor: SensorConfig, device: str | None, metric: str, unit: str | None
    ) -> tuple[str, dict[str, Any]] | None:
        """(config topic, config) of `metric` (of physical `device`); None: not shown."""
        spec = metric_entity(sensor, metric, unit)
        if spec is None:
            return None
        if device is None:
            ha_device = self.sensor_device(sensor)
            state_topic = self.topics.sensor_state(sensor.id)
            object_id, unique_id = f"{sensor.id}-{metric}", f"{self.node}_{sensor.id}_{metric}"
            avail_topic = self.topics.sensor_availability(sensor.id)
        else:
            dslug = slug(device)
            ha_device = {
                "identifiers": [f"{self.node}_{sensor.id}_{dslug}"],
                "name": device,
                "via_device": self.node,
            }
            with_info(ha_device, self.infos.get((sensor.id, device)))
            state_topic = self.topics.sensor_device_state(sensor.id, dslug)
            object_id = f"{sensor.id}-{dslug}-{metric}"
            unique_id = f"{self.node}_{sensor.id}_{dslug}_{metric}"
            avail_topic = self.topics.sensor_availability(sensor.id, dslug)
        availability = list(self.availability)
        if sensor.expected_interval_s is not None:
            availability.append({"topic": avail_topic})
        cfg = spec.config
        binary = spec.component == "binary_sensor"
        entity: dict[str, Any] = {
            "name": (cfg.name if cfg else None) or metric.replace("_", " ").capitalize(),
            "unique_id": unique_id,
            "state_topic": state_topic,
            "value_template": metric_template(metric, binary=binary, inverted=spec.inverted),
            "json_attributes_topic": state_topic,
            "json_attributes_template": attributes_template(metric),
            "availability": availability,
            "availability_mode": "all",
            "device": ha_device,
            "origin": ORIGIN,
        }
        if binary:
            entity["payload_on"], entity["payload_off"] = "ON", "OFF"
        if spec.device_class is not None:
            entity["device_class"] = spec.device_class
        if spec.unit is not None:
            entity["unit_of_measurement"] = spec.unit
        if spec.state_class is not None:
            entity["state_class"] = spec.state_class
        if cfg is not None:
            if cfg.entity_category is not None:
                entity["entity_category"] = cfg.entity_category
            if cfg.icon is not None:
                entity["icon"] = cfg.icon
            if cfg.display_precision is not None and not binary:
                entity["suggested_display_precision"] = cfg.display_precision
        return self.topic(spec.component, object_id), entity

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


def discovery_configs(
    config: GatewayConfig, topics: Topics, infos: Mapping[InfoKey, DeviceInfo] | None = None
) -> dict[str, bytes]:
    """Every static discovery config of `config`: retained topic -> JSON payload.

    Per-device entities of sensors with wildcard topics, and metrics whose unit comes
    from the decoder, are added by `Discovery.announce` when the pipeline knows them.
    """
    builder = _Builder(config, topics, infos)
    docs = builder.gateway_entities()
    for sensor in config.sensors:
        docs.update(builder.sensor_entities(sensor))
    models = {m.id: m for m in config.models}
    for camera in config.cameras:
        if camera.enabled:
            model = models.get(camera.model) if camera.model is not None else None
            docs.update(builder.camera_entities(camera, model))
    return {topic: _dumps(doc) for topic, doc in docs.items()}


@dataclass(slots=True, frozen=True)
class _Known:
    """A metric (of a device) the pipeline announced, or a retained config read back."""

    sensor: str
    device: str | None
    """The physical device, or None for the sensor entry."""
    metric: str
    unit: str | None


class Discovery:
    """Publishes the configs, re-sends them on HA's birth message, deletes stale ones."""

    def __init__(self, *, config: GatewayConfig, bus: MqttBus, topics: Topics) -> None:
        self._bus = bus
        self._topics = topics
        self._config = config
        self.prefix = config.homeassistant.discovery_prefix
        self._node = f"edgegw_{config.gateway.id}"
        self._static = discovery_configs(config, topics)
        self._known: dict[tuple[str, str | None, str], _Known] = {}
        self._dynamic: dict[tuple[str, str | None, str], tuple[str, bytes]] = {}
        self._infos: dict[InfoKey, DeviceInfo] = {}
        self._adopted: dict[str, tuple[str, str, str]] = {}
        """Retained per-device configs of a previous run: topic -> (sensor, slug, metric)."""
        self._subs: list[Subscription] = []

    @property
    def configs(self) -> dict[str, bytes]:
        """Every config this gateway has announced: topic -> payload."""
        out = dict(self._static)
        out.update(self._dynamic.values())
        return out

    def start(self) -> None:
        """Subscribe to HA's status and this node's retained configs; publish the configs."""
        self._subs = [
            self._bus.subscribe(f"{self.prefix}/status", self._on_ha_status, name="ha-status"),
            self._bus.subscribe(
                f"{self.prefix}/+/{self._node}/+/config", self._on_config, name="ha-configs"
            ),
        ]
        self.publish()

    def announce(self, sensor_id: str, device: str | None, metric: str, unit: str | None) -> None:
        """A pipeline knows `metric` (of `device`) and its unit: announce or update it."""
        sensor = next((s for s in self._config.sensors if s.id == sensor_id), None)
        if sensor is None or (device is not None) != split_devices(sensor):
            return
        key = (sensor_id, device, metric)
        self._known[key] = _Known(sensor_id, device, metric, unit)
        builder = _Builder(self._config, self._topics, self._infos)
        built = builder.metric_entity(sensor, device, metric, unit)
        if built is None:
            return
        topic, payload = built[0], _dumps(built[1])
        before = self.configs.get(topic)
        old = self._dynamic.get(key)
        self._dynamic[key] = (topic, payload)
        self._adopted.pop(topic, None)
        if old is not None and old[0] != topic and old[0] not in self.configs:
            self._bus.publish(old[0], b"", qos=1, retain=True)  # sensor <-> binary_sensor
        if before != payload:
            self._bus.publish(topic, payload, qos=1, retain=True)

    def describe(self, sensor_id: str, device: str | None, info: DeviceInfo) -> None:
        """A device said what it is: its configs carry it (sent again if it is new)."""
        key = (sensor_id, device)
        if self._infos.get(key) == info:
            return
        old = self.configs
        self._infos[key] = info
        self._rebuild(old)

    def update(self, config: GatewayConfig) -> int:
        """A reload: publish new and changed configs, delete removed ones; how many changed."""
        old = self.configs
        self._config = config
        for topic, (sensor_id, _, metric) in list(self._adopted.items()):
            if not self._adoptable(sensor_id, metric):
                del self._adopted[topic]
                old[topic] = b"-"  # delete it below
        ids = {s.id for s in config.sensors}
        self._infos = {k: v for k, v in self._infos.items() if k[0] in ids}
        changed = self._rebuild(old)
        if changed:
            log.info("home assistant discovery: %d entities changed", changed)
        return changed

    def _rebuild(self, old: dict[str, bytes]) -> int:
        """Build every config again; publish what differs from `old`; how many did."""
        config = self._config
        self._static = discovery_configs(config, self._topics, self._infos)
        builder = _Builder(config, self._topics, self._infos)
        sensors = {s.id: s for s in config.sensors}
        self._dynamic = {}
        for key, known in list(self._known.items()):
            sensor = sensors.get(known.sensor)
            built = None
            if sensor is not None and (known.device is not None) == split_devices(sensor):
                built = builder.metric_entity(sensor, known.device, known.metric, known.unit)
            if built is None:
                del self._known[key]
            else:
                self._dynamic[key] = (built[0], _dumps(built[1]))
        new = self.configs
        changed = 0
        for topic in old.keys() - new.keys() - self._adopted.keys():
            self._bus.publish(topic, b"", qos=1, retain=True)
            changed += 1
        for topic, payload in new.items():
            if old.get(topic) != payload:
                self._bus.publish(topic, payload, qos=1, retain=True)
                changed += 1
        return changed

    def stop(self, *, remove: bool) -> None:
        """Stop following HA; with `remove`, delete every entity announced."""
        for sub in self._subs:
            self._bus.unsubscribe(sub)
        self._subs = []
        if remove:
            for topic in [*self.configs, *self._adopted]:
                self._bus.publish(topic, b"", qos=1, retain=True)

    def publish(self) -> None:
        """Publish every config, retained."""
        configs = self.configs
        for topic, payload in configs.items():
            self._bus.publish(topic, payload, qos=1, retain=True)
        log.info("home assistant discovery: %d entities announced", len(configs))

    def _on_ha_status(self, message: Message) -> None:
        if message.payload.strip() == b"online":
            self.publish()

    def _adoptable(self, sensor_id: str, metric: str) -> bool:
        sensor = next((s for s in self._config.sensors if s.id == sensor_id), None)
        return (
            sensor is not None
            and split_devices(sensor)
            and (not sensor.metrics or metric in sensor.metrics)
        )

    def _adopt(self, topic: str, payload: bytes) -> bool:
        """Keep a retained per-device config of a sensor still configured (see module doc)."""
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(doc, dict):
            return False
        state_topic, template = doc.get("state_topic"), doc.get("value_template")
        if not isinstance(state_topic, str) or not isinstance(template, str):
            return False
        head = f"{self._topics.prefix}/sensors/"
        levels = state_topic.removeprefix(head).split("/")
        found = _METRIC_IN_TEMPLATE.search(template)
        if not state_topic.startswith(head) or len(levels) != 4 or levels[1] != "devices":
            return False
        if found is None or not self._adoptable(levels[0], found.group(1)):
            return False
        self._adopted[topic] = (levels[0], levels[2], found.group(1))
        return True

    async def _on_config(self, message: Message) -> None:
        if not message.retain or not message.payload or message.topic in self.configs:
            return
        if message.topic in self._adopted or self._adopt(message.topic, message.payload):
            return
        log.info("home assistant discovery: removing stale entity %s", message.topic)
        self._bus.publish(message.topic, b"", qos=1, retain=True)
