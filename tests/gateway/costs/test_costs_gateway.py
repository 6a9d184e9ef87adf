"""The running totals move in a real gateway: Mosquitto, `edgegw cloud serve`, a camera.

The camera publishes vtest.avi's frames as JPEG over MQTT at 10 fps to a gateway running
the bundled person detector with a band reaching 1.0 (every announced track is a hard
case); the reference cloud judges them. When verdicts are back, the stats carry the
arrival -> event and -> verdict latencies, the camera's CPU, the round-trip seconds,
and the `estimate_*` totals of each mode, on `<prefix>/stats`-ready snapshots and on
`/metrics`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import cv2
import pytest

from devices.cameras import encode_jpeg
from gateway.plugins import build_gateway
from gateway.stats_registry import SnapshotValue
from tests.conftest import ConfigFactory
from tests.gateway.cloudlink.conftest import CloudProcess, cloud_section
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually

CAM = "walk"
FRAMES = 120


@pytest.fixture(scope="module")
def frames(vtest_path: Path) -> list[bytes]:
    """vtest.avi's first frames as a network camera sends them (JPEG, quality 80)."""
    cap = cv2.VideoCapture(str(vtest_path))
    out: list[bytes] = []
    try:
        while len(out) < FRAMES:
            ok, frame = cap.read()
            if not ok:
                break
            out.append(encode_jpeg(frame, 80))
    finally:
        cap.release()
    return out


def value(metrics: dict[str, SnapshotValue], name: str, key: str) -> float:
    found = metrics.get(name, {})
    assert isinstance(found, dict), name
    return float(found.get(key, 0.0))


async def test_totals_latencies_and_cpu_move_in_a_real_run(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    cloud: CloudProcess,
    tmp_path: Path,
    frames: list[bytes],
) -> None:
    topic = f"cams/{tmp_path.name}/{CAM}"
    cfg = make_config(
        mosquitto,
        cameras=[
            {
                "id": CAM,
                "source": f"mqtt:{topic}",
                "payload": "jpeg",
                "model": "person",
                "detect_fps": 10,
                "tracker": {"labels": ["person"], "min_score": 0.3, "high_score": 0.5},
                "escalation": {"low": 0.5, "high": 1.0},
            }
        ],
        models=[{"id": "person", "name": "person_ssdlite", "score_threshold": 0.3}],
        cloud=cloud_section(cloud.url, tmp_path),
        costs={"board": "pi5", "radio": "lte"},
    )
    gateway = build_gateway(cfg)
    prefix = cfg.topic_prefix
    async with running(gateway), client(mosquitto) as camera:
        await camera.subscribe(f"{prefix}/events/cloud.verdict/{CAM}", qos=1)
        await eventually(
            lambda: value(gateway.stats.snapshot(), "camera_ready", CAM) == 1.0, timeout_s=60
        )
        for jpeg in frames:
            await camera.publish(topic, jpeg, qos=0)
            await asyncio.sleep(0.1)  # the camera's own rate: 10 fps
        async with asyncio.timeout(90):
            verdict = json.loads((await next_message(camera, timeout_s=90)).payload)
        assert verdict["kind"] == "cloud.verdict"
        await eventually(
            lambda: value(gateway.stats.snapshot(), "camera_verdict_latency_ms_p50", CAM) > 0
        )
        metrics = gateway.stats.snapshot()
        text = gateway.stats.prometheus_text().decode()

    received = value(metrics, "camera_frames_in_total", CAM)
    assert received == len(frames)
    event_p50 = value(metrics, "camera_event_latency_ms_p50", CAM)
    event_p99 = value(metrics, "camera_event_latency_ms_p99", CAM)
    verdict_p50 = value(metrics, "camera_verdict_latency_ms_p50", CAM)
    assert 0 < event_p50 <= event_p99 < 5000
    assert verdict_p50 > event_p50  # a verdict needs the cloud's round trip on top
    assert value(metrics, "camera_cpu_seconds_total", CAM) > 0
    assert value(metrics, "cloud_round_trip_seconds_total", "hard_cases") > 0

    calls = value(metrics, "estimate_cloud_calls", "hybrid")
    assert calls == value(metrics, "cloud_attempts_total", "hard_cases") >= 1
    assert value(metrics, "estimate_cloud_calls", "all_cloud") == received
    assert value(metrics, "estimate_cloud_calls", "edge_only") == 0
    assert value(metrics, "estimate_uplink_bytes", "all_cloud") == sum(map(len, frames))
    hybrid_up = value(metrics, "estimate_uplink_bytes", "hybrid")
    assert 0 < hybrid_up < value(metrics, "estimate_uplink_bytes", "all_cloud")
    assert value(metrics, "estimate_uplink_bytes", "edge_only") < hybrid_up
    assert value(metrics, "estimate_edge_cpu_seconds", "hybrid") > 0
    for mode in ("hybrid", "edge_only", "all_cloud"):
        assert value(metrics, "estimate_joules", mode) > 0
        assert value(metrics, "estimate_cost", mode) > 0
        assert f'edgegw_estimate_joules{{mode="{mode}"}}' in text
    assert 'edgegw_camera_event_latency_ms_p99{camera="walk"}' in text
