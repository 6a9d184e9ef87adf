"""One sensor's pipeline: decode, window, rules, liveness, report by exception.

The per-message path (`on_message`) runs inline in the bus's reader: one decoder call,
a few counter bumps, O(1) window and rule updates. It creates no task, validates no
model, and publishes only on a rule's state change. Summaries go out from `tick()`,
which the `sensors` component calls when a window ends.

The retained state never regresses: a metric keeps its last value (and the `ts` of the
window that gave it) until a new reading arrives; a metric not seen yet is absent, never
null. A new run reads the retained states of the previous one back first (`restore`).

A sensor whose topic has wildcards and no `device:` filter (`zigbee2mqtt/+`) also keeps
windows per physical device and publishes each device's own retained state
(`sensors/<id>/devices/<slug>/state`) and, with `expected_interval_s`, its availability
(`.../availability`: `online` when it reports, `offline` when it goes silent): Home
Assistant shows one device per physical device. Each (device, metric, unit) seen is
handed once to the `announce` outlet (Home Assistant discovery).

What a device says about itself (`DeviceInfo`: manufacturer, model, versions; the
decoder's `info_topics` are subscribed too) goes to the `describe` outlet when it first
arrives or changes, for a device this sensor shows: each physical device of a wildcard
sensor once it reported (or was restored), else the `device:` filter or the device the
first reading came from.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devices.decoders import Decoder, DecoderConfigError, info_topics, make_decoder
from devices.readings import DecodeIssue, DeviceInfo, Reading
from gateway.config.sensors import MetricConfig, SensorConfig
from gateway.errors import ConfigError, ConfigIssue
from gateway.events import Events, Kind, Priority
from gateway.logs import RateLimitedLog
from gateway.mqtt.bus import Message, MqttBus, Subscription
from gateway.mqtt.topics import TopicFilter, Topics, slug
from gateway.sensors.liveness import Liveness, Return
from gateway.sensors.metrics import SensorMetrics
from gateway.sensors.rules import RuleRunner, Transition
from gateway.sensors.windows import MetricSummary, Window

log = logging.getLogger(__name__)

STATE_VERSION = 1
SUMMARY, ALERT, CLEAR = Kind.SENSOR_SUMMARY, Kind.SENSOR_ALERT, Kind.SENSOR_CLEAR
OFFLINE, ONLINE = Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE
_ENTRY_KEYS = ("count", "min", "max", "mean", "last", "value", "unit", "ts")
MAX_DEVICE_INFOS = 1000
"""Devices whose info one sensor keeps (a Zigbee2MQTT bridge lists every device)."""


def build_decoder(config: SensorConfig, *, where: str = "sensors") -> Decoder:
    """The sensor's decoder; a bad option is a ConfigError naming the sensor."""
    try:
        return make_decoder(config.decoder, **config.decoder_kwargs())
    except (DecoderConfigError, TypeError, AttributeError) as exc:
        issue = ConfigIssue("<config>", None, f"{where}.decoder_options", str(exc))
        raise ConfigError([issue]) from exc


@dataclass(slots=True)
class _Metric:
    window: Window
    config: MetricConfig | None
    rules: tuple[RuleRunner, ...]


@dataclass(slots=True)
class _Device:
    """One physical device of a sensor with a wildcard topic."""

    slug: str
    windows: dict[str, Window] = field(default_factory=dict)
    published: dict[str, dict[str, object]] = field(default_factory=dict)
    dirty: bool = False
    seen: bool = False
    """Reported in this run (a device restored from the retained state has not yet)."""


@dataclass(slots=True, frozen=True)
class Announcement:
    """A metric of a sensor (of one of its devices) now known, with its unit."""

    sensor: str
    device: str | None
    """The physical device (a sensor with a wildcard topic); None: the sensor is the device."""
    metric: str
    unit: str | None


Announcer = Callable[[Announcement], None]


@dataclass(slots=True, frozen=True)
class Description:
    """What a device of a sensor says about itself (manufacturer, model, versions)."""

    sensor: str
    device: str | None
    """The physical device (a sensor with a wildcard topic); None: the sensor is the device."""
    info: DeviceInfo


Describer = Callable[[Description], None]


@dataclass(slots=True, frozen=True)
class Outlets:
    """Where a pipeline's output goes."""

    bus: MqttBus
    events: Events
    topics: Topics
    announce: Announcer | None = None
    describe: Describer | None = None


class SensorPipeline:
    """Readings of one configured sensor in, summaries, alerts and liveness events out."""

    def __init__(
        self,
        config: SensorConfig,
        *,
        outlets: Outlets,
        metrics: SensorMetrics,
        ratelog: RateLimitedLog,
        now: float,
        where: str = "sensors",
    ) -> None:
        self.config = config
        self.name = config.id
        self._decoder = build_decoder(config, where=where)
        self._out = outlets
        self._m = metrics
        self._ratelog = ratelog
        self._log_keys = {r: f"sensor:{config.id}:{r.value}" for r in metrics.decode_errors}
        self._state_topic = outlets.topics.sensor_state(config.id)
        self._runners = tuple(RuleRunner(rule) for rule in config.rules)
        self._keep_only = bool(config.metrics)
        self._metrics: dict[str, _Metric] = {
            name: self._new_metric(name, cfg) for name, cfg in config.metrics.items()
        }
        self._liveness = (
            None
            if config.expected_interval_s is None
            else Liveness(
                config.expected_interval_s,
                devices=() if config.device is None else (config.device,),
                now=now,
            )
        )
        self._window_end = now + config.window_s
        self._last_publish = now
        self._reported: dict[str, float] = {}
        self._published: dict[str, dict[str, object]] = {}
        levels = config.topic.split("/")
        self.split = config.device is None and ("+" in levels or "#" in levels)
        self._devices: dict[str, _Device] = {}
        self._announced: dict[tuple[str | None, str], str | None] = {}
        self._seen = False
        self._restore: list[Subscription] = []
        covered = TopicFilter.parse(config.topic)
        self.info_topics = tuple(
            t for t in info_topics(self._decoder, config.topic) if not covered.matches(t)
        )
        """Topics of device info this sensor subscribes to besides its own."""
        self._infos: dict[str, DeviceInfo] = {}
        self._described: dict[str | None, DeviceInfo] = {}
        self._first_device: str | None = config.device

    # ---- restore -----------------------------------------------------------------------

    def restore(self) -> None:
        """Read the previous run's retained states back (until the first window closes)."""
        bus, topics = self._out.bus, self._out.topics
        self._restore = [bus.subscribe(self._state_topic, self._on_retained, name="restore")]
        if self.split:
            pattern = topics.sensor_device_state(self.name, "+")
            self._restore.append(bus.subscribe(pattern, self._on_retained, name="restore"))

    def stop_restore(self) -> None:
        """Stop reading retained states (the first window closed, or the sensor stopped)."""
        for sub in self._restore:
            self._out.bus.unsubscribe(sub)
        self._restore = []

    def _on_retained(self, message: Message) -> None:
        if not message.retain or not message.payload:
            return
        try:
            doc = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict):
            return
        entries = {k: e for k, v in doc["metrics"].items() if (e := _entry(k, v)) is not None}
        if self._keep_only:
            entries = {k: e for k, e in entries.items() if k in self.config.metrics}
        if message.topic == self._state_topic:
            for name, entry in entries.items():
                if name not in self._published:
                    self._published[name] = entry
                    self._announce(None, name, _unit(entry))
            return
        device = doc.get("device")
        if not self.split or not isinstance(device, str):
            return
        if self._out.topics.sensor_device_state(self.name, slug(device)) != message.topic:
            return
        dev = self._devices.get(device) or self._new_device(device)
        for name, entry in entries.items():
            if name not in dev.published:
                dev.published[name] = entry
                self._announce(device, name, _unit(entry))
        if self._liveness is not None:
            self._liveness.expect(device, time.monotonic())

    def announced(self) -> list[Announcement]:
        """Every (device, metric, unit) announced so far (to tell a new discovery)."""
        return [Announcement(self.name, d, m, u) for (d, m), u in self._announced.items()]

    def described(self) -> list[Description]:
        """Every device info described so far (to tell a new discovery)."""
        return [Description(self.name, d, info) for d, info in self._described.items()]

    def _new_device(self, device: str) -> _Device:
        dev = self._devices[device] = _Device(slug(device))
        self._describe(device)
        return dev

    def _device_infos(self, infos: Sequence[DeviceInfo]) -> None:
        only = self.config.device
        for info in infos:
            device = info.device
            if only is not None and device != only:
                continue
            if device not in self._infos and len(self._infos) >= MAX_DEVICE_INFOS:
                continue
            self._infos[device] = info
            self._describe(device)

    def _first_reading(self, device: str) -> None:
        """The first reading of a one-device sensor names its device (without `device:`)."""
        if self._first_device is None:
            self._first_device = device
            self._describe(device)

    def _describe(self, device: str) -> None:
        """Hand `device`'s info on if it is new or changed and the device is shown."""
        info = self._infos.get(device)
        if info is None:
            return
        if self.split:
            if device not in self._devices:
                return  # told when it reports
            owner: str | None = device
        elif device == self._first_device:
            owner = None
        else:
            return
        if self._described.get(owner) == info:
            return
        self._described[owner] = info
        if self._out.describe is not None:
            self._out.describe(Description(self.name, owner, info))

    def _announce(self, device: str | None, metric: str, unit: str | None) -> None:
        key = (device, metric)
        if key in self._announced and self._announced[key] == unit:
            return
        self._announced[key] = unit
        if self._out.announce is not None:
            self._out.announce(Announcement(self.name, device, metric, unit))

    def _availability(self, device: str, online: bool) -> None:
        topics = self._out.topics
        if self.split:
            topic = topics.sensor_availability(self.name, self._devices[device].slug)
        else:
            topic = topics.sensor_availability(self.name)
        self._out.bus.publish(topic, b"online" if online else b"offline", qos=1, retain=True)

    def _new_metric(self, name: str, cfg: MetricConfig | None) -> _Metric:
        window = Window(cfg.statistic if cfg else "mean", cfg.unit if cfg else None)
        rules = tuple(r for r in self._runners if r.config.metric == name)
        return _Metric(window, cfg, rules)

    # ---- hot path ----------------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        """Handle one MQTT message of this sensor's topic (the bus handler)."""
        size = len(message.payload)
        m = self._m
        m.messages.inc()
        m.bytes_in.inc(size)
        m.totals.bytes_in += size
        result = self._decoder.decode(message.topic, message.payload, message.received_at)
        if result.errors:
            self._rejected(message.topic, result.errors)
        if result.infos:
            self._device_infos(result.infos)
        if result.readings:
            self.ingest(result.readings, message.received_at)

    def ingest(self, readings: Sequence[Reading], received_at: float) -> None:
        """Window and judge readings received at unix time `received_at`."""
        only = self.config.device
        device = readings[0].device  # one message is one device (see ResultBuilder)
        if only is not None and device != only:
            self._m.ignored.inc(len(readings))
            return
        dev: _Device | None = None
        first = False
        if self.split:
            dev = self._devices.get(device) or self._new_device(device)
            dev.dirty = True
            first, dev.seen = not dev.seen, True
        elif not self._seen:
            first = self._seen = True
            self._first_reading(device)
        if self._liveness is not None:
            back = self._liveness.seen(device, time.monotonic())
            if back is not None:
                self._came_back(back)
            if first or back is not None:
                self._availability(device, True)
        announced = self._announced
        owner = device if dev is not None else None
        kept = 0
        for reading in readings:
            metric = self._metrics.get(reading.metric)
            if metric is None:
                if self._keep_only:
                    continue
                metric = self._metrics[reading.metric] = self._new_metric(reading.metric, None)
            window = metric.window
            if metric.config is None or metric.config.unit is None:
                window.unit = reading.unit
            window.add(reading.value)
            kept += 1
            if dev is not None:
                own = dev.windows.get(reading.metric)
                if own is None:
                    own = dev.windows[reading.metric] = Window(window.statistic, window.unit)
                own.unit = window.unit
                own.add(reading.value)
            key = (owner, reading.metric)
            if key not in announced or announced[key] != window.unit:
                self._announce(owner, reading.metric, window.unit)
            for runner in metric.rules:
                change = runner.feed(reading.device, reading.value, received_at)
                if change is not None:
                    self._rule_changed(runner, reading, change, window)
        self._m.readings.inc(kept)
        self._m.totals.readings_in += kept
        if kept < len(readings):
            self._m.ignored.inc(len(readings) - kept)

    def _rejected(self, topic: str, errors: tuple[DecodeIssue, ...]) -> None:
        counters = self._m.decode_errors
        for issue in errors:
            counters[issue.reason].inc()
        self._m.totals.decode_errors += len(errors)
        first = errors[0]
        self._ratelog.warning(
            self._log_keys[first.reason],
            "sensor %s: rejected %s on %s (%d issue(s))",
            self.name,
            first,
            topic,
            len(errors),
        )

    # ---- output ------------------------------------------------------------------------

    def _emit(self, kind: str, source: str, data: dict[str, object], priority: Priority) -> None:
        event = self._out.events.make(source=source, kind=kind, priority=priority, data=data)
        self._out.events.emit(event)
        self._m.sent(len(event.to_json()))

    def _rule_changed(
        self, runner: RuleRunner, reading: Reading, change: Transition, window: Window
    ) -> None:
        rule = runner.config
        if change.active:
            self._m.alert(rule.id)
        data: dict[str, object] = {
            "sensor": self.name,
            "rule": rule.id,
            "type": rule.type,
            "state": "alert" if change.active else "ok",
            "metric": reading.metric,
            "device": reading.device,
            "value": reading.value,
            "unit": window.unit,
            "reading_ts": reading.ts,
            "reason": change.reason,
            "score": change.score,
            "window": window.peek().as_json(),
        }
        self._emit(
            ALERT if change.active else CLEAR,
            self.name,
            data,
            Priority.HIGH if change.active else Priority.NORMAL,
        )
        self._publish_state(time.time())

    def _came_back(self, back: Return) -> None:
        data: dict[str, object] = {
            "sensor": self.name,
            "device": back.device,
            "offline_s": round(back.offline_s, 3),
        }
        self._emit(ONLINE, back.device, data, Priority.NORMAL)

    def state(self, ts: float) -> dict[str, object]:
        """The retained state: latest published metrics, every rule's state, disabled rules."""
        return {
            "v": STATE_VERSION,
            "sensor": self.name,
            "ts": round(ts, 3),
            "window_s": self.config.window_s,
            "metrics": self._published,
            "rules": {r.config.id: "alert" if r.active else "ok" for r in self._runners},
            "rules_disabled": [r.config.id for r in self._runners if not r.enabled],
        }

    def rule_ids(self) -> list[str]:
        """The ids of this sensor's rules."""
        return [r.config.id for r in self._runners]

    def rule_enabled(self, rule_id: str) -> bool:
        """Whether rule `rule_id` judges readings (KeyError when there is no such rule)."""
        return self._runner(rule_id).enabled

    def _runner(self, rule_id: str) -> RuleRunner:
        for runner in self._runners:
            if runner.config.id == rule_id:
                return runner
        raise KeyError(rule_id)

    def set_rule_enabled(self, rule_id: str, enabled: bool) -> bool:
        """Enable or disable a rule; return whether that changed anything.

        Disabling a rule in alert clears it (`sensor.clear`, reason `rule disabled`) so
        nothing stays in alert that is no longer judged; the retained state follows.
        """
        runner = self._runner(rule_id)
        if runner.enabled == enabled:
            return False
        runner.enabled = enabled
        if not enabled:
            rule = runner.config
            for device in runner.active_devices():
                data: dict[str, object] = {
                    "sensor": self.name,
                    "rule": rule.id,
                    "type": rule.type,
                    "state": "ok",
                    "metric": rule.metric,
                    "device": device,
                    "reason": "rule disabled",
                }
                self._emit(CLEAR, self.name, data, Priority.NORMAL)
            runner.reset()
        self._publish_state(time.time())
        return True

    def _publish_device(self, device: str, dev: _Device, ts: float) -> None:
        doc: dict[str, object] = {
            "v": STATE_VERSION,
            "sensor": self.name,
            "device": device,
            "ts": round(ts, 3),
            "window_s": self.config.window_s,
            "metrics": dev.published,
        }
        payload = _dumps(doc)
        topic = self._out.topics.sensor_device_state(self.name, dev.slug)
        self._out.bus.publish(topic, payload, qos=1, retain=True)
        self._m.sent(len(payload))

    def _publish_state(self, ts: float) -> None:
        payload = _dumps(self.state(ts))
        self._out.bus.publish(self._state_topic, payload, qos=1, retain=True)
        self._m.sent(len(payload))

    # ---- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """Monotonic time of the next window end or liveness expiry."""
        live = math.inf if self._liveness is None else self._liveness.next_deadline()
        return min(self._window_end, live)

    def tick(self, now: float) -> None:
        """Expire silent devices and close the window if it ended (monotonic `now`)."""
        if self._liveness is not None:
            for silence in self._liveness.expire(now):
                data: dict[str, object] = {
                    "sensor": self.name,
                    "device": silence.device,
                    "silent_s": round(silence.silent_s, 3),
                    "last_seen": silence.last_seen,
                    "expected_interval_s": self.config.expected_interval_s,
                }
                self._emit(OFFLINE, silence.device, data, Priority.HIGH)
                if self.split:
                    if silence.device in self._devices:
                        self._availability(silence.device, False)
                elif self._liveness.online() == 0:
                    self._availability(silence.device, False)
        if now >= self._window_end:
            window_s = self.config.window_s
            # After a stall, skip the missed windows instead of closing empty ones in a burst.
            self._window_end += window_s * (math.floor((now - self._window_end) / window_s) + 1)
            self._close_window(now)

    def _close_window(self, now: float) -> None:
        if self._restore:
            self.stop_restore()
        summaries = {name: metric.window.close() for name, metric in self._metrics.items()}
        end = time.time()
        for dev in self._devices.values():
            for name, window in dev.windows.items():
                _merge(dev.published, name, window.close(), end)
        changed = False
        for name, summary in summaries.items():
            if summary.count == 0 or summary.value is None:
                continue
            config = self._metrics[name].config
            deadband = None if config is None else config.deadband
            previous = self._reported.get(name)
            if deadband is None or previous is None or abs(summary.value - previous) > deadband:
                changed = True
        if not changed and now - self._last_publish < self.config.heartbeat_s:
            if any(s.count for s in summaries.values()):
                self._m.suppressed.inc()
            return
        self._last_publish = now
        for name, summary in summaries.items():
            _merge(self._published, name, summary, end)
            if summary.count and summary.value is not None:
                self._reported[name] = summary.value
        self._publish_state(end)
        for device, dev in self._devices.items():
            if dev.dirty:
                dev.dirty = False
                self._publish_device(device, dev, end)
        data: dict[str, object] = {
            "sensor": self.name,
            "start": round(end - self.config.window_s, 3),
            "end": round(end, 3),
            "window_s": self.config.window_s,
            "metrics": dict(self._published),
            "rules": {r.config.id: "alert" if r.active else "ok" for r in self._runners},
        }
        self._emit(SUMMARY, self.name, data, Priority.NORMAL)
        self._m.summaries.inc()


def _merge(published: dict[str, dict[str, object]], name: str, s: MetricSummary, ts: float) -> None:
    """Put a window's summary into `published`; an empty window keeps the last value."""
    if s.count and s.value is not None:
        published[name] = s.as_json() | {"ts": round(ts, 3)}
    elif (previous := published.get(name)) is not None:
        published[name] = {**previous, "count": 0, "min": None, "max": None, "mean": None}


def _entry(name: object, value: object) -> dict[str, object] | None:
    """A metric entry of a retained state, if it has the shape this module writes."""
    if not isinstance(name, str) or not isinstance(value, dict):
        return None
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        return None
    unit = value.get("unit")
    entry = {k: value.get(k) for k in _ENTRY_KEYS}
    entry["unit"] = unit if isinstance(unit, str) else None
    return entry


def _unit(entry: dict[str, object]) -> str | None:
    unit = entry.get("unit")
    return unit if isinstance(unit, str) else None


def _dumps(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
