"""Done-when: a gateway sends hard cases to `edgegw cloud serve` and publishes verdicts.

Real processes: `edgegw cloud serve` (DeepLabv3 judge) as a subprocess, the session's
Mosquitto, a Gateway in this loop. Hard cases are injected through `gateway.events`
(as the vision pipeline emits them).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gateway.events import Priority
from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.cloudlink.conftest import CloudProcess, cloud_section
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running
from tests.support.payloads import hard_case_data
from tests.support.waits import eventually


async def test_hard_cases_come_back_as_verdicts(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    cloud: CloudProcess,
    tmp_path: Path,
    crops: dict[str, bytes],
) -> None:
    cloud_cfg = cloud_section(cloud.url, tmp_path, drop_kinds=["sensor.alert"])
    cfg = make_config(mosquitto, cloud=cloud_cfg)
    gateway = build_gateway(cfg)
    prefix = cfg.topic_prefix
    async with running(gateway), client(mosquitto) as watcher:
        await watcher.subscribe(f"{prefix}/cameras/+/verdict", qos=1)
        await watcher.subscribe(f"{prefix}/events/cloud.verdict/+", qos=1)
        events = gateway.events
        assert events is not None
        cases = {
            "door": (crops["astronaut.png"], "person", 0.62),  # a person: confirmed
            "yard": (crops["coffee.png"], "person", 0.55),  # no person: rejected
        }
        ids = {}
        for camera, (jpeg, label, score) in cases.items():
            event = events.make(
                source=camera,
                kind="vision.hard_case",
                priority=Priority.HIGH,
                data=hard_case_data(label, score, camera=camera),
                media=jpeg,
                media_type="image/jpeg",
            )
            events.emit(event)
            ids[camera] = event.id
        events.emit(events.make(source="garage", kind="sensor.summary", data={"t": 21.5}))
        events.emit(events.make(source="garage", kind="sensor.alert", data={"t": 40.0}))

        retained: dict[str, dict[str, object]] = {}
        emitted: dict[str, dict[str, object]] = {}
        async with asyncio.timeout(30):
            while len(retained) < 2 or len(emitted) < 2:
                message = await next_message(watcher, timeout_s=30)
                body = json.loads(message.payload)
                target = retained if message.topic.value.endswith("/verdict") else emitted
                target[body["source"]] = body

    for verdicts in (retained, emitted):
        assert verdicts["door"]["kind"] == "cloud.verdict"
        door, yard = verdicts["door"]["data"], verdicts["yard"]["data"]
        assert isinstance(door, dict)
        assert isinstance(yard, dict)
        assert door["hard_case_id"] == ids["door"]
        assert (door["verdict"], door["cloud_label"]) == ("confirmed", "person")
        assert door["cloud_score"] > 0.8
        assert door["track_id"] == 7
        assert yard["hard_case_id"] == ids["yard"]
        assert yard["verdict"] in {"rejected", "relabelled"}
        assert yard["cloud_label"] != "person"

    await eventually(lambda: len(cloud.events("sensor.summary")) == 1)
    kinds = {e["kind"] for e in await asyncio.to_thread(cloud.events)}
    assert kinds == {"sensor.summary"}  # no dropped kind, no verdict, hard cases went to OIP
    metrics = gateway.stats.snapshot()
    verdicts_total = metrics["cloud_verdicts_total"]
    assert isinstance(verdicts_total, dict)
    assert verdicts_total["confirmed"] == 1.0
    assert sum(verdicts_total.values()) == 2.0
    assert metrics["cloud_delivered_total"]["hard_cases"] == 2.0  # type: ignore[index]
    assert metrics["cloud_round_trip_ms"]["hard_cases"] > 0  # type: ignore[index]
