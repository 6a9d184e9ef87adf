"""Caps overflow through the gateway's sink; duplicates stored once; a wrong TLS CA refused."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from cloud_bridge.errors import UplinkConnectionError
from cloud_bridge.outbox import Outbox
from cloud_bridge.uplink import EventClient
from gateway.cloudlink.sink import class_policies
from gateway.events import Priority
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from refcloud import EventSink, make_app
from tests.cloud_bridge.oip.conftest import running as serving
from tests.conftest import ConfigFactory
from tests.gateway.cloudlink.conftest import TOKEN, CloudProcess, cloud_section
from tests.gateway.cloudlink.test_cloudlink_outage import metric
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import running
from tests.support.waits import eventually


def reached(gateway: Gateway, name: str, label: str, least: float) -> Callable[[], bool]:
    """A predicate: the labelled metric is at least `least`."""
    return lambda: metric(gateway, name, label) >= least


async def test_cap_overflow_evicts_lowest_priority_oldest(
    mosquitto: Mosquitto, make_config: ConfigFactory, tmp_path: Path
) -> None:
    # Nobody listens at the URL: everything stays in the outbox, under a 4 kB cap.
    url = f"http://127.0.0.1:{free_port()}"
    section = cloud_section(url, tmp_path, outbox={"events": {"max_bytes": 4_000}})
    gateway = build_gateway(make_config(mosquitto, cloud=section))
    async with running(gateway):
        events = gateway.events
        assert events is not None
        made = []
        for n in range(30):
            priority = Priority.LOW if n % 3 == 0 else Priority.HIGH
            event = events.make(source="s", kind="sensor.alert", priority=priority, data={"n": n})
            made.append(event)
            events.emit(event)
        await eventually(lambda: metric(gateway, "cloud_outbox_put_total", "events,stored") > 0)
        await eventually(
            lambda: (
                metric(gateway, "cloud_outbox_depth", "events")
                + metric(gateway, "cloud_outbox_evicted", "events")
                == 30
            )
        )
        depth = int(metric(gateway, "cloud_outbox_depth", "events"))
        evicted = int(metric(gateway, "cloud_outbox_evicted", "events"))

    assert evicted == 30 - depth > 0
    lows = [e for e in made if e.priority == Priority.LOW]
    assert evicted <= len(lows)  # only low ones went: 10 lows, each ~110 bytes
    with EventSink(":memory:"):
        pass

    with Outbox(tmp_path / "outbox.db", policies=class_policies(gateway.config.cloud)) as ob:
        left = {i.id for i in ob.lease("events", 100)}
    expected_gone = {e.id for e in lows[:evicted]}  # the oldest low ones
    assert left == {e.id for e in made} - expected_gone
    kept = sum(len(e.to_json()) for e in made if e.id in left)
    assert kept <= 4_000 < kept + len(lows[evicted - 1].to_json())  # no more evicted than needed


async def test_same_event_twice_is_stored_once(cloud: CloudProcess) -> None:
    payloads = [b'{"id": "e1", "kind": "sensor.alert"}', b'{"id": "e2", "kind": "sensor.alert"}']
    async with EventClient(cloud.url + "/v1/events", token=TOKEN) as sink:
        first = await sink.post(payloads)
        second = await sink.post(payloads[::-1])
    assert (first.accepted, first.duplicates) == (("e1", "e2"), ())
    assert (second.accepted, second.duplicates) == ((), ("e2", "e1"))
    assert second.acked == {"e1", "e2"}
    assert [e["id"] for e in cloud.events()] == ["e1", "e2"]


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path, Path]:
    """A server context signed by one CA; the right CA's PEM and an unrelated CA's PEM."""
    right, wrong = trustme.CA(), trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    right.issue_cert("127.0.0.1").configure_cert(server)
    base = tmp_path_factory.mktemp("tls")
    right.cert_pem.write_to_path(str(base / "right.pem"))
    wrong.cert_pem.write_to_path(str(base / "wrong.pem"))
    return server, base / "right.pem", base / "wrong.pem"


async def test_wrong_tls_certificate_is_refused_clearly(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    tls_pair: tuple[ssl.SSLContext, Path, Path],
    tmp_path: Path,
) -> None:
    server_ctx, right_ca, wrong_ca = tls_pair
    with EventSink(tmp_path / "events.db") as sink:
        app = make_app(models={}, sink=sink, token=TOKEN)
        async with serving(app, ssl_context=server_ctx) as url:
            async with EventClient(url + "/v1/events", token=TOKEN, ca_file=wrong_ca) as bad:
                with pytest.raises(UplinkConnectionError) as info:
                    await bad.post([b'{"id": "x"}'])
            assert info.value.tls
            assert "certificate verification failed" in str(info.value)
            assert "cloud.ca_file" in str(info.value)

            for ca, expect_delivered in ((wrong_ca, False), (right_ca, True)):
                section = cloud_section(url, tmp_path / ca.stem, ca_file=str(ca))
                gateway = build_gateway(make_config(mosquitto, cloud=section))
                async with running(gateway):
                    events = gateway.events
                    assert events is not None
                    events.emit(events.make(source="s", kind="sensor.alert", data={}))
                    name, label, least = (
                        ("cloud_delivered_total", "events", 1)
                        if expect_delivered
                        else ("cloud_failures_total", "events,tls", 2)
                    )
                    await eventually(reached(gateway, name, label, least))
                    if not expect_delivered:
                        assert metric(gateway, "cloud_delivered_total", "events") == 0
            assert sink.count() == 1
