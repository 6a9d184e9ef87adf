"""Events upstream over MQTT to a cloud broker with client certificates (issue 14).

A Gateway in this loop (local bus: the session's Mosquitto) publishes its outbox to a
second real Mosquitto set up like a cloud broker: TLS with `require_certificate`, the
certificate's common name as the user name, an ACL that confines each gateway to
`fleet/<its id>/#`. The test is the fleet's back end, subscribed to `fleet/#`.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.events import Event, Priority
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.conftest import ConfigFactory
from tests.gateway.fleet.conftest import Fleet, fleet_section
from tests.support.fleet import CloudObserver, FleetPki, start_cloud_broker
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually


def metric(gateway: Gateway, name: str, label: str) -> float:
    """One labelled value of the gateway's stats snapshot (0 when absent)."""
    values = gateway.stats.snapshot().get(name, {})
    assert isinstance(values, dict)
    return values.get(label, 0.0)


def at_least(gateway: Gateway, name: str, label: str, least: float) -> Callable[[], bool]:
    """A predicate: the labelled metric is at least `least`."""
    return lambda: metric(gateway, name, label) >= least


def kept(gateway: Gateway, depth: int) -> Callable[[], bool]:
    """A predicate: the outbox holds `depth` events."""
    return lambda: metric(gateway, "cloud_outbox_depth", "events") == depth


def healthz(port: int) -> tuple[int, list[str]]:
    """GET /healthz: the status and the problems listed."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return resp.status, json.loads(resp.read())["problems"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["problems"]


def emit_alerts(gateway: Gateway, n: int, **data: Any) -> list[Event]:
    """Emit `n` sensor alerts of mixed priority; return them."""
    events = gateway.events
    assert events is not None
    made = []
    for i in range(n):
        priority = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.CRITICAL)[i % 4]
        event = events.make(
            source="s1", kind="sensor.alert", priority=priority, data={"n": i, **data}
        )
        events.emit(event)
        made.append(event)
    return made


async def test_events_arrive_once_each_under_the_gateways_topic_and_verdicts_come_back(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    fleet: Fleet,
    gateway_id: str,
    tmp_path: Path,
) -> None:
    observer = fleet.observer
    section = fleet.section(
        tmp_path, fleet.pki.client_cert(gateway_id),
        mqtt={"verdicts_topic": "fleet/{gateway_id}/verdicts", "events_per_publish": 5},
    )  # fmt: skip
    gateway = build_gateway(make_config(mosquitto, cloud=section))
    prefix = gateway.config.topic_prefix
    async with running(gateway), client(mosquitto) as watcher:
        await watcher.subscribe(f"{prefix}/cameras/+/verdict", qos=1)
        sent = emit_alerts(gateway, 40)
        await eventually(lambda: len(observer.ids()) == len(sent))
        # The broker may hand the observer a batch before it acknowledges it to the gateway,
        # and the depth gauge is polled every 2 s (it may still read 0 from before the
        # events): wait on the delivery counter, then on the depth.
        await eventually(lambda: metric(gateway, "cloud_delivered_total", "events") == len(sent))
        await eventually(lambda: metric(gateway, "cloud_outbox_depth", "events") == 0)

        # The cloud publishes a verdict on the gateway's topic: it becomes the gateway's own.
        verdict = {
            "hard_case": {"id": "hc-1", "source": "door", "label": "person", "score": 0.6},
            "verdict": "confirmed", "cloud_label": "person", "cloud_score": 0.91,
            "model": "person",
        }  # fmt: skip
        await asyncio.to_thread(observer.publish, f"fleet/{gateway_id}/verdicts", b"not json")
        await asyncio.to_thread(
            observer.publish, f"fleet/{gateway_id}/verdicts", json.dumps(verdict).encode()
        )
        message = await next_message(watcher)
        assert str(message.topic) == f"{prefix}/cameras/door/verdict"
        local = json.loads(message.payload)
        assert local["kind"] == "cloud.verdict"
        assert local["data"]["hard_case_id"] == "hc-1"
        assert local["data"]["verdict"] == "confirmed"
        await eventually(at_least(gateway, "cloud_failures_total", "verdicts,bad_message", 1))
        assert metric(gateway, "cloud_verdicts_total", "confirmed") == 1

    received = observer.events()
    assert observer.ids() == {e.id: 1 for e in sent}  # each once: no re-send happened
    by_id = {e.id: e for e in sent}
    for event in received:
        assert event == json.loads(by_id[event["id"]].to_json())  # the event, unchanged
    topics = {topic for topic, _ in observer.messages if "/events/" in topic}
    assert topics == {f"fleet/{gateway_id}/events/sensor.alert"}
    arrays = [json.loads(p) for t, p in observer.messages if "/events/" in t]
    assert all(isinstance(a, list) and 1 <= len(a) <= 5 for a in arrays)
    assert len(arrays) < len(sent)  # batched: fewer publishes than events
    # Highest priority first: the first publish carries CRITICAL events.
    assert arrays[0][0]["priority"] == Priority.CRITICAL


async def test_wrong_or_missing_client_certificate_is_refused_kept_and_reported(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    fleet: Fleet,
    gateway_id: str,
    tmp_path: Path,
) -> None:
    stranger = fleet.pki.client_cert(gateway_id, signed_by=fleet.pki.stranger)
    for name, cert, alert in (
        ("stranger", stranger, "unknown ca"),
        ("none", None, "certificate required"),
    ):
        http_port = free_port()
        section = fleet.section(tmp_path / name, cert)
        config = make_config(mosquitto, cloud=section, stats={"http_port": http_port})
        gateway = build_gateway(config)
        async with running(gateway):
            sent = emit_alerts(gateway, 6)
            await eventually(at_least(gateway, "cloud_failures_total", "events,tls", 3))
            await eventually(at_least(gateway, "cloud_circuit_state", "events", 1))
            await eventually(kept(gateway, len(sent)))
            status, problems = await asyncio.to_thread(healthz, http_port)
            assert status == 503, problems
            [problem] = [p for p in problems if p.startswith("cloud events (mqtt)")]
            assert alert in problem, problem
            assert "client certificate" in problem, problem
            assert metric(gateway, "cloud_delivered_total", "events") == 0
    assert fleet.observer.ids() == {}


async def test_acl_violation_is_refused_kept_counted_and_reported(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    fleet: Fleet,
    gateway_id: str,
    tmp_path: Path,
) -> None:
    # A right certificate, but a topic under another gateway's id: MQTT 5 PUBACK 0x87.
    http_port = free_port()
    section = fleet.section(
        tmp_path, fleet.pki.client_cert(gateway_id),
        mqtt={"topic": "fleet/someone-else/events/{kind}"},
    )  # fmt: skip
    gateway = build_gateway(make_config(mosquitto, cloud=section, stats={"http_port": http_port}))
    async with running(gateway):
        sent = emit_alerts(gateway, 5)
        await eventually(at_least(gateway, "cloud_failures_total", "events,not_authorized", 3))
        await eventually(kept(gateway, len(sent)))
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert status == 503
        assert any("Not authorized (0x87)" in p for p in problems), problems
        assert metric(gateway, "cloud_delivered_total", "events") == 0
        assert metric(gateway, "cloud_dropped_total", "events,not_authorized") == 0
    assert fleet.observer.ids() == {}


async def test_oversize_events_are_dropped_with_a_counted_reason_the_rest_delivered(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    fleet_pki: FleetPki,
    gateway_id: str,
    tmp_path: Path,
) -> None:
    # The broker closes on packets over 4000 bytes and says so in its CONNACK; the
    # gateway's own limit is 3000. An event over either never goes out.
    broker = start_cloud_broker(tmp_path / "broker", fleet_pki, max_packet_size=4_000)
    observer = CloudObserver(broker)
    try:
        for limit, big in ((128_000, 4_500), (3_000, 3_500)):
            section = fleet_section(
                broker, tmp_path / str(limit), fleet_pki, fleet_pki.client_cert(gateway_id),
                mqtt={"max_payload_bytes": limit},
            )  # fmt: skip
            gateway = build_gateway(make_config(mosquitto, cloud=section))
            async with running(gateway):
                small = emit_alerts(gateway, 3)
                large = emit_alerts(gateway, 2, blob="x" * big)
                await eventually(at_least(gateway, "cloud_dropped_total", "events,oversize", 2))
                await eventually(at_least(gateway, "cloud_delivered_total", "events", 3))
                await eventually(kept(gateway, 0))
                assert metric(gateway, "cloud_failures_total", "events,connection") == 0
            ids = observer.ids()
            assert all(e.id in ids for e in small)
            assert not any(e.id in ids for e in large)
    finally:
        observer.close()
        broker.stop()


async def test_broker_restart_loses_nothing_and_duplicates_only_repeat_an_id(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    fleet: Fleet,
    gateway_id: str,
    tmp_path: Path,
) -> None:
    cloud_broker, observer = fleet.broker, fleet.observer
    section = fleet.section(
        tmp_path, fleet.pki.client_cert(gateway_id), mqtt={"max_publishes_per_s": 200}
    )
    gateway = build_gateway(make_config(mosquitto, cloud=section))
    sent: list[Event] = []
    async with running(gateway):
        sent += emit_alerts(gateway, 100)
        await eventually(lambda: len(observer.ids()) >= 20)
        await asyncio.to_thread(cloud_broker.stop)  # mid-stream: a backlog is waiting
        sent += emit_alerts(gateway, 100, phase="down")
        await eventually(at_least(gateway, "cloud_failures_total", "events,connection", 2))
        await asyncio.to_thread(cloud_broker.start)
        sent += emit_alerts(gateway, 100, phase="back")
        await eventually(lambda: set(observer.ids()) == {e.id for e in sent}, timeout_s=30)
        await eventually(lambda: metric(gateway, "cloud_outbox_depth", "events") == 0)
    ids = observer.ids()
    assert set(ids) == {e.id for e in sent}  # nothing lost
    copies: dict[str, list[dict[str, Any]]] = {}
    for event in observer.events():
        copies.setdefault(event["id"], []).append(event)
    assert all(all(c == group[0] for c in group) for group in copies.values())  # same event
    duplicates = sum(ids.values()) - len(ids)
    print(f"\n{len(sent)} events, {duplicates} delivered twice (re-sent after the restart)")
