"""Fleet uplink benchmark: M gateways' MQTT uplinks into one cloud broker, against bare paho.

    .venv/bin/python -m bench.fleet [--gateways 10] [--events 20000] [--rate 1000] [--seconds 8]
                                    [--per-publish 1]

Starts its own cloud broker (a real Mosquitto: mutual TLS, certificate common name as the
user name, an ACL per gateway; certificates from trustme) and a back-end subscriber to
`fleet/#` with a persistent session. Each simulated gateway is what `edgegw run` runs
for `cloud.events.transport: mqtt`: a SQLite outbox, `MqttEventSender` and its own
`CloudMqttClient` session with its own client certificate, all in this process.

1. bare: one paho client publishes `--events` events (same JSON as the gateways') with
   QoS 1 over the same TLS listener, waiting for every PUBACK: `bare_per_s`;
2. throughput: the same number of events waits in the M outboxes; the uplinks drain
   them (first publish to last event received): `events_per_s`, `bytes_per_event`
   (payload bytes on the wire per event);
3. latency and a cut: `--rate` events/s spread over the M outboxes for `--seconds`; at
   a third of the run the broker is stopped (SIGTERM, it saves its sessions) and started
   again 2 s later. `p99_ms` is outbox put -> back end received, for events put before
   the cut (steady state); `p99_ms_with_cut` counts every event.

`lost` counts events put into an outbox (phases 2 and 3) that the back end never got;
`duplicates_delivered` those it got more than once (each re-sent with its own id).
The last line printed is JSON: `{"events_per_s", "bare_per_s", "ratio", "p99_ms",
"bytes_per_event", "lost", "duplicates_delivered", ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import ssl
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud_bridge.mqtt import CloudMqttClient
from cloud_bridge.outbox import ClassPolicy, Outbox, OutboxItem
from cloud_bridge.uplink import (
    Channel,
    CircuitBreaker,
    MqttEventSender,
    MqttLimits,
    NullObserver,
    RetryPolicy,
)
from gateway.events import Event, Priority
from tests.support.fleet import CloudObserver, FleetPki, make_pki, start_cloud_broker
from tests.support.mosquitto import Mosquitto

CUT_S = 2.0


@dataclass(slots=True, frozen=True)
class Cloud:
    """The cloud end: the broker, the PKI, the back end's subscriber, a work dir."""

    broker: Mosquitto
    pki: FleetPki
    observer: CloudObserver
    base: Path
    per_publish: int


@dataclass(slots=True)
class SimGateway:
    """One simulated gateway: its outbox, its session, its sender task."""

    gid: str
    outbox: Outbox
    client: CloudMqttClient
    sender: MqttEventSender
    task: asyncio.Task[None] | None = None


def event(gid: str, n: int) -> Event:
    """A realistic sensor alert of gateway `gid`."""
    return Event(
        gateway=gid,
        source=f"sensor-{n % 7}",
        kind="sensor.alert",
        priority=Priority.NORMAL,
        data={"rule": "too_hot", "metric": "temperature", "value": 31.5 + n % 10, "above": 30},
    )


def item(e: Event) -> OutboxItem:
    """The outbox item the gateway's sink makes of `e`."""
    return OutboxItem(
        id=e.id, klass="events", priority=int(e.priority), created=e.ts, payload=e.to_json()
    )


def tls_context(pki: FleetPki, gid: str) -> ssl.SSLContext:
    """A client context with `gid`'s certificate."""
    cert = pki.client_cert(gid)
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    ctx.load_cert_chain(str(cert.cert_file), str(cert.key_file))
    return ctx


def bare(broker: Mosquitto, pki: FleetPki, payloads: list[bytes]) -> float:
    """Publish `payloads` with plain paho (QoS 1, TLS, client cert); events per second."""
    assert broker.tls_port is not None
    c = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bare", protocol=MQTTProtocolVersion.MQTTv5
    )
    c.tls_set_context(tls_context(pki, "bare"))
    c.max_inflight_messages_set(20)
    c.max_queued_messages_set(0)
    done = threading.Event()
    acked = [0]

    def on_publish(*_: Any) -> None:
        acked[0] += 1
        if acked[0] == len(payloads):
            done.set()

    c.on_publish = on_publish
    c.connect("127.0.0.1", broker.tls_port)
    c.loop_start()
    started = time.monotonic()
    for body in payloads:
        c.publish("fleet/bare/events/sensor.alert", body, qos=1)
    if not done.wait(120):
        msg = f"bare publisher: {acked[0]} of {len(payloads)} PUBACKs"
        raise RuntimeError(msg)
    elapsed = time.monotonic() - started
    c.disconnect()
    c.loop_stop()
    return len(payloads) / elapsed


def sim_gateways(cloud: Cloud, m: int, tag: str) -> list[SimGateway]:
    """M gateways, each with its own outbox and session."""
    broker, pki, base = cloud.broker, cloud.pki, cloud.base
    assert broker.tls_port is not None
    out = []
    for k in range(m):
        gid = f"gw{k:03d}"
        outbox = Outbox(
            base / f"{tag}-{gid}.db",
            policies={"events": ClassPolicy(max_bytes=500_000_000, ttl_s=86_400)},
        )
        client = CloudMqttClient(
            "127.0.0.1", broker.tls_port, client_id=f"edgegw-{gid}",
            ssl_context=tls_context(pki, gid), connect_timeout_s=5,
        )  # fmt: skip
        channel = Channel(
            outbox=outbox,
            klass="events",
            policy=RetryPolicy(0.05, 0.5),
            breaker=CircuitBreaker(failure_threshold=5, open_s=0.5, max_open_s=2.0),
            observer=NullObserver(),
            idle_poll_s=0.2,
        )
        sender = MqttEventSender(
            channel,
            client,
            topic=f"fleet/{gid}/events/{{kind}}",
            limits=MqttLimits(ack_timeout_s=5.0, events_per_publish=cloud.per_publish),
        )
        out.append(SimGateway(gid, outbox, client, sender))
    return out


async def start(gateways: list[SimGateway]) -> None:
    """Start every gateway's sender."""
    for g in gateways:
        g.task = asyncio.create_task(g.sender.run(), name=f"uplink-{g.gid}")


async def stop(gateways: list[SimGateway]) -> None:
    """Stop the senders, close the sessions and outboxes."""
    for g in gateways:
        if g.task is not None:
            g.task.cancel()
    for g in gateways:
        if g.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await g.task
        await g.client.close()
        g.outbox.close()


async def wait_for(observer: CloudObserver, ids: set[str], timeout_s: float) -> bool:
    """Wait until the back end has every id in `ids`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ids <= set(observer.ids()):
            return True
        await asyncio.sleep(0.05)  # the back end's thread has no event to await
    return False


async def throughput(cloud: Cloud, m: int, n: int) -> tuple[float, float, set[str]]:
    """Phase 2: prefilled outboxes drained; events/s, payload bytes/event, ids put."""
    observer = cloud.observer
    gateways = sim_gateways(cloud, m, "tp")
    ids: set[str] = set()
    for g in gateways:
        events = [event(g.gid, i) for i in range(n // m)]
        g.outbox.put_many([item(e) for e in events])
        ids.update(e.id for e in events)
    first = len(observer.messages)
    started = time.monotonic()
    await start(gateways)
    ok = await wait_for(observer, ids, 300)
    elapsed = time.monotonic() - started
    await stop(gateways)
    if not ok:
        return 0.0, 0.0, ids
    wire = sum(len(p) for t, p in observer.messages[first:] if t.startswith("fleet/gw"))
    return len(ids) / elapsed, wire / len(ids), ids


async def paced_with_cut(
    cloud: Cloud, m: int, rate: float, seconds: float
) -> tuple[dict[str, float], float]:
    """Phase 3: paced puts with the broker cut; put times by id, and the cut's start."""
    broker, observer = cloud.broker, cloud.observer
    gateways = sim_gateways(cloud, m, "lat")
    await start(gateways)
    put_at: dict[str, float] = {}
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    started = time.monotonic()
    cut_at = started + seconds / 3
    cut_wall = 0.0
    restart: asyncio.Task[None] | None = None
    n = 0
    while time.monotonic() - started < seconds:
        g = gateways[n % m]
        batch = [event(g.gid, n + k) for k in range(per_tick)]
        await asyncio.to_thread(g.outbox.put_many, [item(e) for e in batch])
        for e in batch:
            put_at[e.id] = e.ts
        g.sender.notify()
        n += per_tick
        if restart is None and time.monotonic() >= cut_at:
            cut_wall = time.time()
            await asyncio.to_thread(broker.stop)
            restart = asyncio.create_task(_start_later(broker, CUT_S))
        await asyncio.sleep(tick / m)
    if restart is not None:
        await restart
    await wait_for(observer, set(put_at), 120)
    await stop(gateways)
    return put_at, cut_wall


async def _start_later(broker: Mosquitto, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    await asyncio.to_thread(broker.start)


def first_arrival(observer: CloudObserver) -> dict[str, float]:
    """When each event id first reached the back end (wall clock)."""
    seen: dict[str, float] = {}
    for (topic, payload), at in zip(observer.messages, observer.received_at, strict=True):
        if not topic.startswith("fleet/gw"):
            continue
        body = json.loads(payload)
        for e in body if isinstance(body, list) else [body]:
            seen.setdefault(e["id"], at)
    return seen


def p99(values: list[float]) -> float:
    """The 99th percentile (ms, 2 decimals); 0 for no values."""
    if len(values) < 2:
        return round(values[0], 2) if values else 0.0
    return round(statistics.quantiles(values, n=100)[98], 2)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three phases; return the result."""
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        base = Path(tmp)
        pki = make_pki(base)
        broker = start_cloud_broker(base / "broker", pki)
        observer = CloudObserver(broker, name="backend")
        try:
            sample = [event("bare", i).to_json() for i in range(args.events)]
            bare_per_s = await asyncio.to_thread(bare, broker, pki, sample)
            cloud = Cloud(broker, pki, observer, base, args.per_publish)
            per_s, bytes_per_event, tp_ids = await throughput(cloud, args.gateways, args.events)
            put_at, cut_wall = await paced_with_cut(cloud, args.gateways, args.rate, args.seconds)
            arrived = first_arrival(observer)
            counts = observer.ids()
        finally:
            observer.close()
            broker.stop()
    latencies = {i: (arrived[i] - t) * 1000 for i, t in put_at.items() if i in arrived}
    all_ids = tp_ids | set(put_at)
    return {
        "events_per_s": round(per_s, 1),
        "bare_per_s": round(bare_per_s, 1),
        "ratio": round(per_s / bare_per_s, 3) if bare_per_s else 0.0,
        "p99_ms": p99([ms for i, ms in latencies.items() if put_at[i] < cut_wall]),
        "bytes_per_event": round(bytes_per_event, 1),
        "lost": len(all_ids - set(arrived)),
        "duplicates_delivered": sum(c - 1 for i, c in counts.items() if i in all_ids),
        "p99_ms_with_cut": p99(list(latencies.values())),
        "gateways": args.gateways,
        "events_per_publish": args.per_publish,
        "events": len(all_ids),
        "cut_s": CUT_S,
    }


def cli() -> None:
    """Parse arguments, run, print the JSON line last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateways", type=int, default=10, help="simulated gateways (M)")
    parser.add_argument("--events", type=int, default=20_000, help="events in phases 1-2")
    parser.add_argument("--rate", type=float, default=1_000, help="events/s in phase 3")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of phase 3")
    parser.add_argument(
        "--per-publish", type=int, default=1, help="events per publish (a JSON array when > 1)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(main(args))
    print(json.dumps(result))


if __name__ == "__main__":
    cli()
