"""What a SIGKILL costs local MQTT subscribers, measured on a real `edgegw run`.

An event goes two ways from `Events.emit`: onto the MQTT publish queue (memory) and into
the cloud handoff, which commits to the SQLite outbox within milliseconds. A SIGKILL
loses what is still queued on each path. This test floods a real gateway subprocess with
threshold crossings (~1000 alerts/s), kills it mid-flood, and compares the alerts the
outbox holds with those a local subscriber saw. It checks the README's statement: each
path loses only a *suffix* (the events emitted last, still queued at the kill; at most
`mqtt.max_inflight` out of order), and it prints the measured windows.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cloud_bridge.outbox import Outbox
from gateway.cloudlink.sink import class_policies
from gateway.config.cloud import CloudSection
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client

REPO = Path(__file__).resolve().parents[3]
MAX_INFLIGHT = 20
DEVICES = 50

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def write_config(path: Path, broker: Mosquitto, gateway_id: str, outbox: Path) -> str:
    config = {
        "gateway": {"id": gateway_id},
        # The flood queues every reading's state and every alert; on a loaded machine the
        # default bound (10,000) fills and drops the oldest (counted, logged), which is a
        # loss in the middle, not the SIGKILL window this test measures: bound it higher.
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker.port,
            "max_inflight": MAX_INFLIGHT,
            "max_queued_messages": 1_000_000,
        },
        "homeassistant": {"discovery": False},
        "sensors": [
            {
                "id": "flood",
                "topic": f"flood/{gateway_id}/+",
                "decoder": "json",
                "decoder_options": {"device_from_topic": -1, "fields": {"temperature": "t"}},
                "window_s": 3600,
                "metrics": {"temperature": {}},
                "rules": [{"id": "hot", "type": "threshold", "metric": "temperature", "above": 50}],
            }
        ],
        # No cloud listens there: everything forwarded stays in the outbox.
        "cloud": {
            "enabled": True,
            "url": f"http://127.0.0.1:{free_port()}",
            "outbox": {"path": str(outbox)},
        },
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    return f"edgegw/{gateway_id}"


def stored_alerts(outbox_path: Path, url: str) -> dict[str, float]:
    cfg = CloudSection(enabled=True, url=url, outbox={"path": outbox_path})
    with Outbox(outbox_path, policies=class_policies(cfg), check="full") as outbox:
        items = outbox.lease("events", 10_000_000)
    events = [json.loads(item.payload) for item in items]
    return {e["id"]: e["ts"] for e in events if e["kind"] == "sensor.alert"}


def suffix_violations(lost: dict[str, float], kept: dict[str, float]) -> int:
    """How many kept events are newer than the oldest lost one (0 for a clean suffix)."""
    if not lost:
        return 0
    first_lost = min(lost.values())
    return sum(ts > first_lost for ts in kept.values())


async def test_sigkill_loses_only_a_suffix_locally_and_the_window_is_measured(
    mosquitto: Mosquitto, tmp_path: Path, gateway_id: str
) -> None:
    outbox = tmp_path / "outbox.db"
    path = tmp_path / "gw.json"
    prefix = write_config(path, mosquitto, gateway_id, outbox)
    seen: dict[str, float] = {}
    async with client(mosquitto) as sub, client(mosquitto) as pub:
        await sub.subscribe(f"{prefix}/events/sensor.alert/#", qos=1)
        await sub.subscribe(f"{prefix}/status", qos=1)
        online = asyncio.get_running_loop().create_future()
        last_message = [time.monotonic()]

        async def collect() -> None:
            async for message in sub.messages:
                last_message[0] = time.monotonic()
                if str(message.topic).endswith("/status"):
                    if message.payload == b"online" and not online.done():
                        online.set_result(None)
                    continue
                event: dict[str, Any] = json.loads(message.payload)
                seen[event["id"]] = event["ts"]

        collector = asyncio.create_task(collect())
        with (tmp_path / "gw.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "edgegw", "run", "-c", str(path),
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
        try:
            exited = asyncio.ensure_future(proc.wait())
            async with asyncio.timeout(60):
                await asyncio.wait({online, exited}, return_when=asyncio.FIRST_COMPLETED)
            assert online.done(), f"edgegw run exited {proc.returncode}; see {log.name}"
            t0 = time.monotonic()
            sent = 0
            killed_at = 0.0
            while True:  # up to 5000 readings/s; every second reading of a device crosses 50
                for _ in range(250):
                    value = 90 if (sent // DEVICES) % 2 else 10
                    body = json.dumps({"t": value}).encode()
                    await pub.publish(f"flood/{gateway_id}/d{sent % DEVICES}", body, qos=0)
                    sent += 1
                await asyncio.sleep(0.05)
                if not killed_at and time.monotonic() - t0 > 4.0:
                    proc.send_signal(signal.SIGKILL)
                    killed_at = time.time()
                    break
            async with asyncio.timeout(10):
                assert await exited == -signal.SIGKILL
            # The broker's backlog drains; no event marks "nothing more will come".
            while time.monotonic() - last_message[0] < 1.0:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            collector.cancel()

    stored = stored_alerts(outbox, "http://127.0.0.1:1")
    only_cloud = {i: ts for i, ts in stored.items() if i not in seen}
    only_local = {i: ts for i, ts in seen.items() if i not in stored}
    local_window = killed_at - min(only_cloud.values()) if only_cloud else 0.0
    cloud_window = killed_at - min(only_local.values()) if only_local else 0.0
    print(
        f"\nsent {sent} readings; alerts: {len(stored)} in the outbox, {len(seen)} seen "
        f"locally; outbox only {len(only_cloud)} (local window {local_window:.3f} s), "
        f"local only {len(only_local)} (cloud window {cloud_window:.3f} s)"
    )
    assert len(stored) > 500, "the flood raised too few alerts to measure anything"
    # Each path drops only what was still queued at the kill: the newest events.
    assert suffix_violations(only_cloud, seen) <= MAX_INFLIGHT
    assert suffix_violations(only_local, stored) == 0
    # The handoff commits within milliseconds; the MQTT queue may lag more, not unboundedly.
    assert cloud_window < 0.5
    assert local_window < 5.0
