"""The simulator talks MQTT like devices; the gateway decodes every format it sends."""

from __future__ import annotations

import asyncio
import random

from apps.simulator import FORMATS, make_fleet, messages, simulate
from apps.simulator.cli import sensor_entries
from gateway.config import SensorConfig
from gateway.plugins import build_gateway
from gateway.sensors.pipeline import build_decoder
from tests.conftest import ConfigFactory
from tests.gateway.sensors.sensor_support import next_json
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, running


def test_every_format_decodes_without_issues() -> None:
    rng = random.Random(1)
    fleet = make_fleet(per_format=2, seed=3)
    decoders = {e["id"]: build_decoder(SensorConfig.model_validate(e)) for e in sensor_entries()}
    for device in fleet:
        metrics: set[str] = set()
        for t in range(0, 600, 7):
            for message in messages(device, float(t), 1_700_000_000.0 + t, rng):
                result = decoders[f"sim_{device.format}"].decode(
                    message.topic, message.payload, 1_700_000_000.0 + t
                )
                assert result.ok, (device.format, result.errors)
                assert {r.device for r in result.readings} == {device.name}
                metrics |= {r.metric for r in result.readings}
        assert any("temperature" in m for m in metrics), metrics
        assert any("humidity" in m for m in metrics), metrics


async def test_simulated_fleet_through_the_gateway(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    sensors = [{**e, "window_s": 0.3, "expected_interval_s": 0.4} for e in sensor_entries()]
    cfg = make_config(mosquitto, sensors=sensors, homeassistant={"discovery": False})
    fleet = make_fleet(per_format=2, interval_s=0.05, silent_after_s=0.5, seed=7)
    silent = fleet[0].name
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.subscribe(f"{cfg.topic_prefix}/events/device.offline/{silent}", qos=1)
        run = asyncio.create_task(
            simulate(fleet, host="127.0.0.1", port=mosquitto.port, duration_s=1.5, seed=7)
        )
        _, offline = await next_json(c)
        assert offline["data"]["sensor"] == f"sim_{fleet[0].format}"
        report = await run
        assert report.messages > 0
        snap = gw.stats.snapshot()
        readings = snap["sensor_readings_total"]
        errors = snap["sensor_decode_errors_total"]
        assert isinstance(readings, dict)
        assert isinstance(errors, dict)
        assert all(readings[f"sim_{fmt}"] > 0 for fmt in FORMATS), readings
        assert not any(errors.values()), {k: v for k, v in errors.items() if v}
