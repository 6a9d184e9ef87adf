"""Sensor pipeline: decode readings, windows, report by exception, rules, liveness.

    pipeline.py  SensorPipeline: one sensor, the per-message path and its outputs
    windows.py   Window, MetricSummary: count/min/max/mean/last per metric
    rules.py     threshold with hysteresis, rate of change, EWMA anomaly
    liveness.py  device.offline / device.online
    clock.py     component `sensors`: closes windows and expires devices on time
    metrics.py   counters and totals (bytes in vs out)
    simulate_cli.py  `edgegw simulate`

Home Assistant discovery lives in `gateway.homeassistant`.
"""

from __future__ import annotations

import logging
import time

from gateway.homeassistant import Discovery
from gateway.logs import RateLimitedLog
from gateway.runtime.context import RuntimeContext
from gateway.sensors.clock import SensorClock
from gateway.sensors.metrics import SensorMetrics, Totals, register_totals
from gateway.sensors.pipeline import Outlets, SensorPipeline

log = logging.getLogger(__name__)

SUBSCRIBE_QOS = 1
"""Devices publishing QoS 1 keep it; QoS 0 traffic is delivered at QoS 0 regardless."""


async def start(ctx: RuntimeContext) -> None:
    """Start the sensor pipelines of `ctx.config.sensors` and Home Assistant discovery."""
    cfg = ctx.config
    totals = Totals()
    register_totals(ctx.stats, totals)
    outlets = Outlets(bus=ctx.bus, events=ctx.events, topics=ctx.topics)
    ratelog = RateLimitedLog(logging.getLogger("gateway.sensors"), cfg.logging.rate_limit_s)
    now = time.monotonic()
    # Build every pipeline first: a bad decoder option stops the start, before any subscribe.
    pipelines = [
        SensorPipeline(
            sensor,
            outlets=outlets,
            metrics=SensorMetrics(ctx.stats, sensor.id, totals),
            ratelog=ratelog,
            now=now,
            where=f"sensors[{i}]",
        )
        for i, sensor in enumerate(cfg.sensors)
    ]
    for pipeline in pipelines:
        ctx.bus.subscribe(
            pipeline.config.topic,
            pipeline.on_message,
            qos=SUBSCRIBE_QOS,
            name=f"sensor:{pipeline.name}",
        )
    if pipelines:
        ctx.supervisor.start(SensorClock(pipelines))
        log.info("sensor pipeline: %d sensor(s)", len(pipelines))
    if cfg.homeassistant.discovery:
        Discovery(config=cfg, bus=ctx.bus, topics=ctx.topics).start()
