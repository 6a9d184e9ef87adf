"""SIGKILL the gateway's sink 20 times while it writes; then the cloud gets every promise.

The child (sink_crash_child.py) prints an id only after the writer committed it. After
each kill the outbox must open cleanly; at the end a real `edgegw cloud serve` comes up
and the uplink delivers every printed id, each stored once.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloud_bridge.outbox import Outbox
from gateway.cloudlink.link import CloudLink
from gateway.cloudlink.sink import class_policies
from gateway.config.cloud import CloudSection
from gateway.runtime.supervisor import Supervisor
from gateway.stats_registry import Stats
from tests.gateway.cloudlink.conftest import TOKEN, CloudProcess
from tests.support.waits import eventually

CHILD = Path(__file__).with_name("sink_crash_child.py")
RUNS = 20

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def kill_one(zygote: subprocess.Popen[bytes], run: int, rng: random.Random) -> list[str]:
    """Have the zygote fork writer `run`, SIGKILL it at a random moment; its lines."""
    assert zygote.stdin is not None
    assert zygote.stdout is not None
    zygote.stdin.write(f"{run}\n".encode())
    zygote.stdin.flush()
    ready, _, _ = select.select([zygote.stdout], [], [], 30)
    assert ready, "zygote did not fork"
    pid = int(zygote.stdout.readline().split()[1])
    time.sleep(rng.uniform(0.1, 0.4))  # the random moment is the point
    os.kill(pid, signal.SIGKILL)
    lines = []
    while not (line := zygote.stdout.readline().decode().rstrip("\n")).startswith("end "):
        lines.append(line)
    status = int(line.split()[2])
    assert os.WIFSIGNALED(status), f"writer {run} ended by itself: {status}"
    assert os.WTERMSIG(status) == signal.SIGKILL
    return lines


def crash_writers(db: Path, cfg: CloudSection, rng: random.Random, log: Path) -> set[str]:
    """Fork and SIGKILL RUNS writers on `db`; check the outbox after each; the promises."""
    promised: set[str] = set()
    with log.open("ab") as err:
        zygote = subprocess.Popen(
            [sys.executable, str(CHILD), str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        for run in range(RUNS):
            lines = kill_one(zygote, run, rng)
            promised.update(line[4:] for line in lines if line.startswith("put "))
            with Outbox(db, policies=class_policies(cfg), check="full") as outbox:
                present = {i.id for i in outbox.lease("events", 1_000_000)}
            assert not promised - present, (run, sorted(promised - present)[:5], log)
    finally:
        zygote.kill()
        zygote.wait()
        for pipe in (zygote.stdin, zygote.stdout):
            if pipe is not None:
                pipe.close()
    return promised


async def test_sigkill_while_writing_loses_no_promised_event(
    cloud_process: CloudProcess, tmp_path: Path
) -> None:
    db = tmp_path / "outbox.db"
    cfg = CloudSection(
        enabled=True,
        url=cloud_process.url,
        token=TOKEN,
        outbox={"path": db},
        retry={"base_s": 0.05, "cap_s": 0.2},
        batch_max_events=500,
        idle_poll_s=0.2,
    )
    rng = random.Random()
    promised = crash_writers(db, cfg, rng, tmp_path / "zygote.log")
    assert len(promised) > RUNS * 5

    cloud_process.start()
    stats = Stats()
    link = await CloudLink.open(cfg, gateway_id="crash", stats=stats, on_verdict=print)
    async with Supervisor(stats=stats) as supervisor:
        for component in link.components():
            supervisor.start(component)
        await eventually(
            lambda: metric_total(stats) >= len(promised) and depth(stats) == 0, timeout_s=30
        )
    stored = [e["id"] for e in await asyncio.to_thread(cloud_process.events, "sensor.alert")]
    assert len(stored) == len(set(stored))
    assert promised <= set(stored)


def metric_total(stats: Stats) -> float:
    """Events the cloud acknowledged."""
    values = stats.snapshot().get("cloud_delivered_total", {})
    assert isinstance(values, dict)
    return values.get("events", 0.0)


def depth(stats: Stats) -> float:
    """Events waiting in the outbox (1 until the poller reported)."""
    values = stats.snapshot().get("cloud_outbox_depth", {})
    assert isinstance(values, dict)
    return values.get("events", 1.0)
