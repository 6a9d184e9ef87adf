"""SIGKILL a real `edgegw run` mid-uplink to the cloud broker: nothing committed is lost.

A flood of threshold crossings makes alerts faster than the uplink may publish (its rate
cap), so a backlog waits in the outbox when the gateway is killed. Every event the
outbox committed either was acknowledged by the broker (PUBACK, then acked: the
back end has it) or is still in the outbox; a second `edgegw run` on the same outbox
delivers the rest. The outbox's persisted `acked` counter must then equal the number of
distinct events the back end received: an ack without a delivery would show as a gap.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cloud_bridge.outbox import Outbox
from gateway.cloudlink.sink import class_policies
from gateway.config.cloud import CloudSection
from tests.gateway.fleet.conftest import Fleet
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client
from tests.support.waits import eventually

REPO = Path(__file__).resolve().parents[3]
DEVICES = 20

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def write_config(path: Path, local: Mosquitto, gateway_id: str, cloud: dict[str, Any]) -> None:
    """An `edgegw run` config: a flood sensor with a threshold rule; events over MQTT."""
    config = {
        "gateway": {"id": gateway_id},
        "mqtt": {"host": "127.0.0.1", "port": local.port},
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
        "cloud": cloud,
    }
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML


def outbox_state(path: Path) -> tuple[set[str], int]:
    """The ids waiting in the outbox and its persisted `acked` count (events)."""
    cfg = CloudSection(outbox={"path": path})
    with Outbox(path, policies=class_policies(cfg), check="full") as outbox:
        waiting = {item.id for item in outbox.lease("events", 10_000_000)}
        acked = outbox.stats().classes["events"].acked
    return waiting, acked


async def start_gateway(config: Path, log: Path, status: asyncio.Queue[bytes]) -> Any:
    """Start `edgegw run` and return the process once it published `online`."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "edgegw", "run", "-c", str(config),
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
    exited = asyncio.ensure_future(proc.wait())
    online = asyncio.ensure_future(_online(status))
    async with asyncio.timeout(60):
        await asyncio.wait({online, exited}, return_when=asyncio.FIRST_COMPLETED)
    online.cancel()
    assert not exited.done(), f"edgegw run exited {proc.returncode}; see {log}"
    exited.cancel()
    return proc


async def _online(status: asyncio.Queue[bytes]) -> None:
    while await status.get() != b"online":
        pass


async def test_sigkill_mid_uplink_loses_nothing_the_outbox_committed(
    mosquitto: Mosquitto, fleet: Fleet, gateway_id: str, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.db"
    cloud = fleet.section(
        tmp_path,
        fleet.pki.client_cert(gateway_id),
        mqtt={"max_publishes_per_s": 150},
        forward_kinds=["sensor.alert"],  # not the summaries a clean stop emits
    )
    config = tmp_path / "gw.json"
    write_config(config, mosquitto, gateway_id, cloud)
    log = tmp_path / "gw.log"
    status: asyncio.Queue[bytes] = asyncio.Queue()
    async with client(mosquitto) as watcher, client(mosquitto) as pub:
        await watcher.subscribe(f"edgegw/{gateway_id}/status", qos=1)

        async def watch() -> None:
            async for message in watcher.messages:
                assert isinstance(message.payload, bytes)
                status.put_nowait(message.payload)

        watching = asyncio.create_task(watch())
        proc = await start_gateway(config, log, status)
        try:
            sent = 0
            # Flood until the back end has some and a backlog waits (the rate cap).
            while len(fleet.observer.ids()) < 100 or sent < 4_000:
                for _ in range(100):  # every second reading of a device crosses 50
                    value = 90 if (sent // DEVICES) % 2 else 10
                    body = json.dumps({"t": value}).encode()
                    await pub.publish(f"flood/{gateway_id}/d{sent % DEVICES}", body, qos=0)
                    sent += 1
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            assert await proc.wait() == -signal.SIGKILL
            before = set(fleet.observer.ids())
            waiting, _ = await asyncio.to_thread(outbox_state, outbox)
            assert len(waiting) > 50, "no backlog at the kill: the test proves nothing"

            # Again on the same outbox: the rest goes out.
            proc = await start_gateway(config, log, status)
            await eventually(lambda: waiting <= set(fleet.observer.ids()), timeout_s=60)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            watching.cancel()

    left, acked = await asyncio.to_thread(outbox_state, outbox)
    received = fleet.observer.ids()
    assert not left
    assert acked == len(received), (acked, len(received))  # no ack without a delivery
    assert waiting | before <= set(received)
    copies: dict[str, list[dict[str, Any]]] = {}
    for event in fleet.observer.events():
        copies.setdefault(event["id"], []).append(event)
    assert all(all(c == group[0] for c in group) for group in copies.values())
    duplicates = sum(received.values()) - len(received)
    print(
        f"\n{len(received)} alerts delivered, {len(waiting)} waiting at the kill, "
        f"{duplicates} delivered twice (PUBACKed before the kill, not yet acked in the outbox)"
    )
