"""One sensor's pipeline: decode, window, rules, liveness, report by exception.

The per-message path (`on_message`) runs inline in the bus's reader: one decoder call,
a few counter bumps, O(1) window and rule updates. It creates no task, validates no
model, and publishes only on a rule's state change. Summaries go out from `tick()`,
which the `sensors` component calls when a window ends.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from devices.decoders import Decoder, DecoderConfigError, make_decoder
from devices.readings import DecodeIssue, Reading
from gateway.config.sensors import MetricConfig, SensorConfig
from gateway.errors import ConfigError, ConfigIssue
from gateway.events import Events, Kind, Priority
from gateway.logs import RateLimitedLog
from gateway.mqtt.bus import Message, MqttBus
from gateway.mqtt.topics import Topics
from gateway.sensors.liveness import Liveness, Return
from gateway.sensors.metrics import SensorMetrics
from gateway.sensors.rules import RuleRunner, Transition
from gateway.sensors.windows import MetricSummary, Window

log = logging.getLogger(__name__)

STATE_VERSION = 1
SUMMARY, ALERT, CLEAR = Kind.SENSOR_SUMMARY, Kind.SENSOR_ALERT, Kind.SENSOR_CLEAR
OFFLINE, ONLINE = Kind.DEVICE_OFFLINE, Kind.DEVICE_ONLINE
_EMPTY = MetricSummary(0, None, None, None, None, None, None)


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


@dataclass(slots=True, frozen=True)
class Outlets:
    """Where a pipeline's output goes."""

    bus: MqttBus
    events: Events
    topics: Topics


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
        self._published: dict[str, dict[str, object]] = {
            name: _EMPTY.as_json() | {"unit": cfg.unit} for name, cfg in config.metrics.items()
        }

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
        if result.readings:
            self.ingest(result.readings, message.received_at)

    def ingest(self, readings: Sequence[Reading], received_at: float) -> None:
        """Window and judge readings received at unix time `received_at`."""
        only = self.config.device
        device = readings[0].device  # one message is one device (see ResultBuilder)
        if only is not None and device != only:
            self._m.ignored.inc(len(readings))
            return
        if self._liveness is not None:
            back = self._liveness.seen(device, time.monotonic())
            if back is not None:
                self._came_back(back)
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
        if now >= self._window_end:
            window_s = self.config.window_s
            # After a stall, skip the missed windows instead of closing empty ones in a burst.
            self._window_end += window_s * (math.floor((now - self._window_end) / window_s) + 1)
            self._close_window(now)

    def _close_window(self, now: float) -> None:
        summaries = {name: metric.window.close() for name, metric in self._metrics.items()}
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
            self._published[name] = summary.as_json()
            if summary.count and summary.value is not None:
                self._reported[name] = summary.value
        end = time.time()
        self._publish_state(end)
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


def _dumps(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
