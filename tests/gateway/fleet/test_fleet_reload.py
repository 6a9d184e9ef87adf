"""The MQTT transport under the runtime's operations (issue 13): reload, health, flush.

A reload that changes `cloud:` stops the MQTT sender with the rest of the link and
starts a new one on the same outbox; the link's health check follows the new link;
`outbox/flush` wakes the MQTT sender like the HTTP one.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from cloud_bridge.outbox import Outbox, OutboxItem
from gateway.cloudlink.sink import EVENTS, class_policies
from gateway.config import GatewayConfig
from gateway.events import Priority
from gateway.plugins import build_gateway
from tests.gateway.fleet.conftest import Fleet
from tests.gateway.fleet.test_fleet_uplink import emit_alerts, healthz, metric
from tests.gateway.runtime.test_commands_reload import operator
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, running
from tests.support.waits import eventually


def api_status(port: int) -> dict[str, Any]:
    """GET /api/status (no credentials configured)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
        return doc


async def test_reload_restarts_the_mqtt_sender_health_follows_and_flush_wakes_it(
    mosquitto: Mosquitto, fleet: Fleet, gateway_id: str, tmp_path: Path
) -> None:
    http_port = free_port()
    cert = fleet.pki.client_cert(gateway_id)
    # A long idle poll: only a notification (a new event, a flush) makes the sender look.
    good = fleet.section(tmp_path, cert, idle_poll_s=60)
    denied = fleet.section(
        tmp_path, cert, idle_poll_s=60, mqtt={"topic": "fleet/someone-else/events/{kind}"}
    )
    doc: dict[str, Any] = {
        "gateway": {"id": gateway_id},
        "mqtt": {
            "host": "127.0.0.1",
            "port": mosquitto.port,
            "reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.5},
        },
        "stats": {"http_port": http_port},
        "cloud": good,
    }
    gw = build_gateway(GatewayConfig.model_validate(doc))
    observer = fleet.observer
    async with running(gw):
        first = emit_alerts(gw, 5)
        await eventually(lambda: {e.id for e in first} <= set(observer.ids()))
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert (status, problems) == (200, [])
        page = await asyncio.to_thread(api_status, http_port)
        assert page["cloud"]["transport"] == "mqtt"
        assert page["cloud"]["events_to"] == f"mqtts://127.0.0.1:{fleet.broker.tls_port}"

        # A new topic the broker's ACL refuses: the link (MQTT session included) restarts.
        answer = await gw.reload(text=yaml.safe_dump({**doc, "cloud": denied}))
        assert answer["ok"], answer
        assert "cloud" in answer["applied"]["restarted"]
        assert gw.supervisor is not None
        assert "cloud-events" in gw.supervisor.names
        second = emit_alerts(gw, 5, phase="denied")
        await eventually(lambda: metric(gw, "cloud_failures_total", "events,not_authorized") >= 2)
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert status == 503  # the new link's sender is what /healthz reports now
        assert any(
            p.startswith("cloud events (mqtt)") and "Not authorized (0x87)" in p for p in problems
        ), problems

        # Back to the right topic: what waited in the outbox goes, nothing lost.
        answer = await gw.reload(text=yaml.safe_dump(doc))
        assert answer["ok"], answer
        assert "cloud" in answer["applied"]["restarted"]
        await eventually(lambda: {e.id for e in first + second} <= set(observer.ids()))
        await eventually(lambda: metric(gw, "cloud_outbox_depth", "events") == 0)
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert (status, problems) == (200, [])

        # An item another writer put in the outbox file: the idle sender does not know of
        # it until `outbox/flush` wakes it.
        events = gw.events
        assert events is not None
        late = events.make(source="s1", kind="sensor.alert", priority=Priority.HIGH, data={})
        cfg = gw.config.cloud
        assert cfg.outbox.path is not None
        item = OutboxItem(late.id, EVENTS, int(late.priority), late.ts, late.to_json())
        with Outbox(cfg.outbox.path, policies=class_policies(cfg)) as other:
            await asyncio.to_thread(other.put, item)
        async with client(mosquitto) as c:
            op = await operator(c, gw.config.topic_prefix)
            flushed = await op.ask("outbox/flush")
        assert flushed["committed"] is True, flushed
        assert flushed["woken"] == [EVENTS]
        await eventually(lambda: late.id in observer.ids())  # well before the 60 s poll
    ids = observer.ids()
    assert set(ids) == {e.id for e in [*first, *second, late]}
    assert all(count == 1 for count in ids.values())  # each once: the ACL refusals kept them
