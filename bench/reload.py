"""Hot reload under load: one camera + 50 sensors, one sensor's rule changed, N times.

Starts its own Mosquitto on a free port and a gateway in this process (one MQTT camera
fed 10 frames/s, 50 JSON sensors fed 1,000 readings/s in all), then sends `reload` with
a pushed config that changes sensor s7's threshold, `--reloads` times, while the
readings and frames keep coming. Reports the command's round trip (publish -> answer)
and the gateway's own `duration_ms`, what was restarted, and whether every reading
reached its sensor (none lost) and the camera kept running (never restarted).

    python -m bench.reload [--reloads 5] [--rate 1000]

Measured (x86_64 dev container, 2 cores, Mosquitto 2; see README): printed last as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np
import yaml

from devices.cameras import encode_jpeg
from gateway.config import parse_config
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.support.mosquitto import Mosquitto

SENSORS = 50
CHANGED = "s7"


def config(port: int, above: float) -> dict[str, Any]:
    sensors = [
        {
            "id": f"s{i}",
            "topic": f"bench/dev/s{i}",
            "decoder": "json",
            "decoder_options": {"device": f"s{i}"},
            "metrics": {"temperature": {"unit": "°C"}},
            "window_s": 1,
            "rules": [
                {
                    "id": "hot",
                    "type": "threshold",
                    "metric": "temperature",
                    "above": above if f"s{i}" == CHANGED else 30.0,
                }
            ],
        }
        for i in range(SENSORS)
    ]
    return {
        "gateway": {"id": "bench"},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "logging": {"level": "WARNING"},
        "homeassistant": {"discovery": False},
        "cameras": [{"id": "door", "source": "mqtt:bench/cam/door", "detect_fps": 10}],
        "sensors": sensors,
    }


def frames() -> list[bytes]:
    out = []
    for x in range(0, 280, 10):
        image = np.full((240, 320, 3), 100, np.uint8)
        cv2.rectangle(image, (x, 80), (x + 40, 200), (240, 240, 240), -1)
        out.append(encode_jpeg(image, 80))
    return out


def metric_sum(gw: Gateway, name: str) -> float:
    value = gw.stats.snapshot().get(name, {})
    return float(sum(value.values())) if isinstance(value, dict) else float(value)


async def run(port: int, reloads: int, rate: float) -> dict[str, Any]:
    gw = build_gateway(parse_config(yaml.safe_dump(config(port, 30.0))))
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run(stop))
    await gw.started.wait()
    assert gw.bus is not None
    await gw.bus.connected.wait()
    sent = 0
    feeding = asyncio.Event()
    feeding.set()

    async def readings(c: aiomqtt.Client) -> None:
        nonlocal sent
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        while feeding.is_set():
            await c.publish(f"bench/dev/s{i % SENSORS}", b'{"temperature": 20}', qos=1)
            sent += 1
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))

    async def camera(c: aiomqtt.Client) -> None:
        pictures = frames()
        i = 0
        while feeding.is_set():
            await c.publish("bench/cam/door", pictures[i % len(pictures)], qos=0)
            i += 1
            await asyncio.sleep(0.1)

    round_trips: list[float] = []
    durations: list[float] = []
    restarted: list[list[str]] = []
    async with (
        aiomqtt.Client("127.0.0.1", port) as feed,
        aiomqtt.Client("127.0.0.1", port) as cam,
        aiomqtt.Client("127.0.0.1", port) as op,
    ):
        await op.subscribe("edgegw/bench/cmd/reload/result", qos=1)
        jobs = [asyncio.create_task(readings(feed)), asyncio.create_task(camera(cam))]
        await asyncio.sleep(2.0)
        assert gw.supervisor is not None
        camera_component = gw.supervisor.get("camera:door")
        assert camera_component is not None
        for n in range(reloads):
            text = yaml.safe_dump(config(port, 25.0 + n))
            body = json.dumps({"id": n, "config": text}).encode()
            started = time.perf_counter()
            await op.publish("edgegw/bench/cmd/reload", body, qos=1)
            async with asyncio.timeout(10):
                async for message in op.messages:
                    answer = json.loads(message.payload)
                    if answer.get("id") == n:
                        break
            round_trips.append((time.perf_counter() - started) * 1000)
            assert answer["ok"], answer
            durations.append(answer["duration_ms"])
            restarted.append(answer["applied"]["restarted"])
            await asyncio.sleep(0.5)
        feeding.clear()
        await asyncio.gather(*jobs)
        deadline = time.monotonic() + 10
        while metric_sum(gw, "sensor_readings_total") < sent and time.monotonic() < deadline:  # noqa: ASYNC110 - a counter has no event
            await asyncio.sleep(0.05)
        same_camera = gw.supervisor.get("camera:door") is camera_component
        counted = metric_sum(gw, "sensor_readings_total")
        restarts = metric_sum(gw, "component_restarts_total")
        frames_in = metric_sum(gw, "camera_frames_in_total")
    stop.set()
    await task
    return {
        "reloads": reloads,
        "round_trip_ms_median": round(statistics.median(round_trips), 1),
        "round_trip_ms_max": round(max(round_trips), 1),
        "gateway_ms_median": round(statistics.median(durations), 1),
        "gateway_ms_max": round(max(durations), 1),
        "restarted": sorted({name for names in restarted for name in names}),
        "readings_sent": sent,
        "readings_counted": int(counted),
        "readings_lost": int(sent - counted),
        "camera_restarted": not same_camera,
        "camera_frames_in": int(frames_in),
        "component_restarts": int(restarts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=5)
    parser.add_argument("--rate", type=float, default=1000.0, help="readings per second")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp))
        broker.start()
        try:
            result = asyncio.run(run(broker.port, args.reloads, args.rate))
        finally:
            broker.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
