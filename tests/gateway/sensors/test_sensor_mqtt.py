"""The sensor pipeline end to end on a real Mosquitto: summaries, alerts, liveness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.sensors.sensor_support import next_json
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running

NO_HA = {"discovery": False}


def room(topic: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "room",
        "topic": topic,
        "decoder": "json",
        "decoder_options": {"device_from_topic": -1, "fields": {"temperature": "t"}},
        "window_s": 0.2,
        "metrics": {"temperature": {"unit": "°C"}},
        **extra,
    }


async def test_readings_become_summary_events_and_retained_state(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    topic = f"dev/{gateway_id}/room1"
    cfg = make_config(mosquitto, sensors=[room(topic)], homeassistant=NO_HA)
    prefix = cfg.topic_prefix
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.subscribe(f"{prefix}/events/sensor.summary/room", qos=1)
        for v in (20, 22, 24):
            await c.publish(topic, json.dumps({"t": v}), qos=1)
        seen: list[dict[str, Any]] = []
        while sum(s["count"] for s in seen) < 3:
            _, event = await next_json(c)
            assert event["v"] == 1
            assert event["gateway"] == gateway_id
            seen.append(event["data"]["metrics"]["temperature"])
        assert min(s["min"] for s in seen) == 20
        assert max(s["max"] for s in seen) == 24
        assert seen[-1]["last"] == 24
        assert seen[-1]["unit"] == "°C"
        snap = gw.stats.snapshot()
        assert snap["sensor_readings_total"] == {"room": 3.0}
        assert snap["sensor_bytes_out_total"]["room"] > 0  # type: ignore[index]
    async with client(mosquitto) as c:
        await c.subscribe(f"{prefix}/sensors/room/state")
        message = await next_message(c)
        assert message.retain
        assert isinstance(message.payload, bytes)
        state = json.loads(message.payload)
        assert state["sensor"] == "room"
        assert state["metrics"]["temperature"]["last"] == 24


async def test_threshold_alert_and_clear_events(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    topic = f"dev/{gateway_id}/boiler"
    rule = {"id": "hot", "type": "threshold", "metric": "temperature", "above": 80, "hysteresis": 5}
    cfg = make_config(
        mosquitto, sensors=[room(topic, window_s=60, rules=[rule])], homeassistant=NO_HA
    )
    prefix = cfg.topic_prefix
    async with running(build_gateway(cfg)), client(mosquitto) as c:
        await c.subscribe(f"{prefix}/events/+/room", qos=1)
        for v in (70, 85, 90, 77, 74):
            await c.publish(topic, json.dumps({"t": v}), qos=1)
        _, alert = await next_json(c)
        assert (alert["kind"], alert["priority"]) == ("sensor.alert", 2)
        assert alert["data"]["rule"] == "hot"
        assert alert["data"]["value"] == 85
        assert alert["data"]["device"] == "boiler"
        _, clear = await next_json(c)
        assert clear["kind"] == "sensor.clear"
        assert clear["data"]["value"] == 74


async def test_silent_device_goes_offline_and_comes_back(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    topic = f"dev/{gateway_id}/attic"
    cfg = make_config(
        mosquitto,
        sensors=[room(f"dev/{gateway_id}/+", window_s=60, expected_interval_s=0.3)],
        homeassistant=NO_HA,
    )
    async with running(build_gateway(cfg)), client(mosquitto) as c:
        await c.subscribe(f"{cfg.topic_prefix}/events/+/attic", qos=1)
        await c.publish(topic, b'{"t": 1}', qos=1)
        _, offline = await next_json(c)
        assert offline["kind"] == "device.offline"
        assert offline["priority"] == 2
        assert offline["data"]["sensor"] == "room"
        assert offline["data"]["silent_s"] >= 0.3  # silent past 0.3 s, reported rounded
        await c.publish(topic, b'{"t": 2}', qos=1)
        _, online = await next_json(c)
        assert online["kind"] == "device.online"
        assert online["data"]["offline_s"] > 0


def test_bad_decoder_options_stop_the_start_with_a_clear_error(
    mosquitto: Mosquitto, tmp_path: Path, gateway_id: str
) -> None:
    # A bare {id, topic} entry validates as a placeholder; `run` refuses it, clearly.
    path = tmp_path / "gw.yaml"
    path.write_text(
        f"gateway: {{id: {gateway_id}}}\nmqtt: {{host: 127.0.0.1, port: {mosquitto.port}}}\n"
        "sensors:\n  - {id: bare, topic: x/#}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "edgegw", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "sensors[0].decoder_options: json decoder: missing a required argument" in done.stderr
