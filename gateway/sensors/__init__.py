"""Sensor pipeline: decode readings, windows, report by exception, rules, liveness.

    pipeline.py  SensorPipeline: one sensor, the per-message path and its outputs
    windows.py   Window, MetricSummary: count/min/max/mean/last per metric
    rules.py     threshold with hysteresis, rate of change, EWMA anomaly
    liveness.py  device.offline / device.online
    clock.py     component `sensors`: closes windows and expires devices on time
    metrics.py   counters and totals (bytes in vs out)
    simulate_cli.py  `edgegw simulate`

Home Assistant discovery lives in `gateway.homeassistant` (started, and updated on a
reload, from here).

A reload restarts only the sensors whose config changed: a changed sensor gets a fresh
pipeline (new windows and rule states) and keeps its subscription when its topic did not
change, so no reading is lost; the other sensors are not touched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from gateway.config import GatewayConfig, SensorConfig
from gateway.errors import CommandError, ConfigError
from gateway.homeassistant import Discovery
from gateway.logs import RateLimitedLog
from gateway.mqtt.bus import Message, Subscription
from gateway.runtime import CommandRequest, ReloadReport, RuntimeContext, bool_arg
from gateway.sensors.clock import SensorClock
from gateway.sensors.metrics import SensorMetrics, Totals, register_totals
from gateway.sensors.pipeline import (
    Announcement,
    Description,
    Outlets,
    SensorPipeline,
    build_decoder,
)

log = logging.getLogger(__name__)

SUBSCRIBE_QOS = 1
"""Devices publishing QoS 1 keep it; QoS 0 traffic is delivered at QoS 0 regardless."""


@dataclass(slots=True)
class _Slot:
    """One sensor's subscriptions (its topic, its device info topics); the pipeline behind
    them is swapped on a reload."""

    pipeline: SensorPipeline
    subscriptions: list[Subscription] = field(default_factory=list)

    def on_message(self, message: Message) -> None:
        """The bus handler: hand the message to the current pipeline."""
        self.pipeline.on_message(message)


class Sensors:
    """The running sensor pipelines, Home Assistant discovery, and their commands."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self._totals = Totals()
        register_totals(ctx.stats, self._totals)
        self._ctx = ctx
        self._slots: dict[str, _Slot] = {}
        self._clock: SensorClock | None = None
        self._discovery: Discovery | None = None

    def _outlets(self, ctx: RuntimeContext) -> Outlets:
        return Outlets(
            bus=ctx.bus,
            events=ctx.events,
            topics=ctx.topics,
            announce=self._announce,
            describe=self._describe,
        )

    def _announce(self, what: Announcement) -> None:
        """A pipeline found a metric (of a device) and its unit: tell Home Assistant."""
        if self._discovery is not None:
            self._discovery.announce(what.sensor, what.device, what.metric, what.unit)

    def _describe(self, what: Description) -> None:
        """A device said what it is (manufacturer, model): tell Home Assistant."""
        if self._discovery is not None:
            self._discovery.describe(what.sensor, what.device, what.info)

    def _pipeline(self, ctx: RuntimeContext, sensor: SensorConfig, index: int) -> SensorPipeline:
        ratelog = RateLimitedLog(
            logging.getLogger("gateway.sensors"), ctx.config.logging.rate_limit_s
        )
        return SensorPipeline(
            sensor,
            outlets=self._outlets(ctx),
            metrics=SensorMetrics(ctx.stats, sensor.id, self._totals),
            ratelog=ratelog,
            now=time.monotonic(),
            where=f"sensors[{index}]",
        )

    def _subscribe(self, slot: _Slot) -> None:
        pipeline = slot.pipeline
        slot.subscriptions = [
            self._ctx.bus.subscribe(
                topic, slot.on_message, qos=SUBSCRIBE_QOS, name=f"sensor:{pipeline.name}"
            )
            for topic in (pipeline.config.topic, *pipeline.info_topics)
        ]

    def _unsubscribe(self, slot: _Slot) -> None:
        for sub in slot.subscriptions:
            self._ctx.bus.unsubscribe(sub)
        slot.subscriptions = []

    def start(self) -> None:
        """Build every pipeline (a bad decoder option stops the start), then subscribe."""
        ctx = self._ctx
        cfg = ctx.config
        pipelines = [self._pipeline(ctx, s, i) for i, s in enumerate(cfg.sensors)]
        if cfg.homeassistant.discovery:
            self._discovery = Discovery(config=cfg, bus=ctx.bus, topics=ctx.topics)
            self._discovery.start()
        for pipeline in pipelines:
            slot = self._slots[pipeline.name] = _Slot(pipeline)
            pipeline.restore()
            self._subscribe(slot)
        self._clock = SensorClock(pipelines)
        ctx.supervisor.start(self._clock)
        if pipelines:
            log.info("sensor pipeline: %d sensor(s)", len(pipelines))
        ctx.commands.register("sensor/+/rule/+", self._cmd_rule)

    def check(self, config: GatewayConfig) -> list[str]:
        """Decoder options of new or changed sensors that cannot be used."""
        problems: list[str] = []
        for i, sensor in enumerate(config.sensors):
            slot = self._slots.get(sensor.id)
            if slot is not None and slot.pipeline.config == sensor:
                continue
            try:
                build_decoder(sensor, where=f"sensors[{i}]")
            except ConfigError as exc:
                problems.extend(str(issue) for issue in exc.issues)
        return problems

    async def reload(self, ctx: RuntimeContext) -> ReloadReport:
        """Restart the sensors whose config changed; start new ones; stop removed ones."""
        self._ctx = ctx
        report = ReloadReport()
        wanted = {s.id: (i, s) for i, s in enumerate(ctx.config.sensors)}
        for name in [n for n in self._slots if n not in wanted]:
            gone = self._slots.pop(name)
            gone.pipeline.stop_restore()
            self._unsubscribe(gone)
            report.stopped.append(f"sensor:{name}")
        report.merge(self._reload_discovery(ctx))  # before new pipelines announce
        for name, (index, sensor) in wanted.items():
            slot = self._slots.get(name)
            if slot is not None and slot.pipeline.config == sensor:
                continue
            pipeline = self._pipeline(ctx, sensor, index)
            pipeline.restore()
            if slot is None:
                slot = self._slots[name] = _Slot(pipeline)
                self._subscribe(slot)
                report.started.append(f"sensor:{name}")
                continue
            old = slot.pipeline
            old.stop_restore()
            slot.pipeline = pipeline  # same topic: the subscription stays, nothing is lost
            if (old.config.topic, old.info_topics) != (sensor.topic, pipeline.info_topics):
                self._unsubscribe(slot)
                self._subscribe(slot)
            report.restarted.append(f"sensor:{name}")
        if self._clock is not None and (report.started or report.restarted or report.stopped):
            self._clock.replace([slot.pipeline for slot in self._slots.values()])
        return report

    def _reload_discovery(self, ctx: RuntimeContext) -> ReloadReport:
        report = ReloadReport()
        cfg = ctx.config
        if cfg.homeassistant.discovery:
            if self._discovery is None or self._discovery.prefix != (
                cfg.homeassistant.discovery_prefix
            ):
                if self._discovery is not None:
                    self._discovery.stop(remove=True)
                self._discovery = Discovery(config=cfg, bus=ctx.bus, topics=ctx.topics)
                self._discovery.start()
                for slot in self._slots.values():
                    for info in slot.pipeline.described():
                        self._describe(info)
                    for what in slot.pipeline.announced():
                        self._announce(what)
                report.started.append("homeassistant")
            elif changed := self._discovery.update(cfg):
                report.updated.append(f"homeassistant ({changed} entities)")
        elif self._discovery is not None:
            self._discovery.stop(remove=True)
            self._discovery = None
            report.stopped.append("homeassistant")
        return report

    async def _cmd_rule(self, req: CommandRequest) -> dict[str, object]:
        sensor_id, rule_id = req.params
        slot = self._slots.get(sensor_id)
        if slot is None:
            known = ", ".join(sorted(self._slots)) or "none"
            msg = f"unknown sensor {sensor_id!r} (sensors: {known})"
            raise CommandError(msg)
        pipeline = slot.pipeline
        if rule_id not in pipeline.rule_ids():
            known = ", ".join(pipeline.rule_ids()) or "none"
            msg = f"sensor {sensor_id!r} has no rule {rule_id!r} (rules: {known})"
            raise CommandError(msg)
        if "enabled" in req.args:
            changed = pipeline.set_rule_enabled(rule_id, bool_arg(req, "enabled"))
        elif req.args:
            msg = 'give {"enabled": true} or {"enabled": false} (or nothing, to read it)'
            raise CommandError(msg)
        else:
            changed = False
        return {
            "sensor": sensor_id,
            "rule": rule_id,
            "enabled": pipeline.rule_enabled(rule_id),
            "changed": changed,
        }


async def start(ctx: RuntimeContext) -> Sensors:
    """Start the sensor pipelines of `ctx.config.sensors` and Home Assistant discovery."""
    sensors = Sensors(ctx)
    sensors.start()
    return sensors
