"""The MQTT bus against a real Mosquitto: routing, status, outages, auth, TLS."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import trustme

from gateway.config import GatewayConfig
from gateway.errors import BusError
from gateway.mqtt.bus import Message, MqttBus
from gateway.stats_registry import Stats
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto, TlsFiles
from tests.support.mqtt import client, next_message
from tests.support.waits import eventually


def make_bus(cfg: GatewayConfig, stats: Stats | None = None) -> MqttBus:
    return MqttBus(
        cfg.mqtt,
        client_id=cfg.client_id,
        status_topic=f"{cfg.topic_prefix}/status",
        stats=stats or Stats(),
        log_interval_s=60,
    )


def metric(stats: Stats, name: str) -> float:
    value = stats.snapshot()[name]
    assert isinstance(value, float)
    return value


async def test_routes_by_wildcard_and_survives_a_failing_handler(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    stats = Stats()
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def good(message: Message) -> None:
        await got.put(message)

    async def bad(message: Message) -> None:
        raise ValueError(message.topic)

    async with make_bus(make_config(mosquitto), stats) as bus:
        bus.subscribe(f"in/{gateway_id}/+/temp", good)
        bus.subscribe(f"in/{gateway_id}/#", bad, name="bad")
        async with asyncio.timeout(10):
            await bus.connected.wait()
        async with client(mosquitto) as c:
            await c.publish(f"in/{gateway_id}/kitchen/temp", b"21.5", qos=1)
            await c.publish(f"in/{gateway_id}/kitchen/humidity", b"40", qos=1)
            await c.publish(f"in/{gateway_id}/hall/temp", b"19", qos=1)
        async with asyncio.timeout(10):
            first, second = await got.get(), await got.get()
    assert [(m.topic, m.payload) for m in (first, second)] == [
        (f"in/{gateway_id}/kitchen/temp", b"21.5"),
        (f"in/{gateway_id}/hall/temp", b"19"),
    ]
    assert got.empty()
    assert stats.snapshot()["mqtt_handler_errors_total"] == {"bad": 3.0}
    assert metric(stats, "mqtt_messages_in_total") == 3.0


async def test_status_online_on_connect_and_offline_on_clean_close(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    cfg = make_config(mosquitto)
    status = f"{cfg.topic_prefix}/status"
    async with client(mosquitto) as c:
        await c.subscribe(status, qos=1)
        async with make_bus(cfg):
            message = await next_message(c)
            assert message.payload == b"online"
        message = await next_message(c)
        assert message.payload == b"offline"
    # Both were retained: a dashboard connecting later sees the last one.
    async with client(mosquitto) as late:
        await late.subscribe(status, qos=1)
        message = await next_message(late)
        assert (message.payload, message.retain) == (b"offline", True)


async def test_broker_down_at_start_then_up_delivers_queued_messages(
    own_mosquitto: Mosquitto,
    make_config: ConfigFactory,
    caplog: pytest.LogCaptureFixture,
    gateway_id: str,
) -> None:
    stats = Stats()
    cfg = make_config(own_mosquitto)
    topic = f"{cfg.topic_prefix}/q"
    # A dashboard with a persistent session, subscribed before the broker goes down.
    own_mosquitto.start()
    async with client(own_mosquitto, identifier=f"dash-{gateway_id}", clean_session=False) as c:
        await c.subscribe(topic, qos=1)
    own_mosquitto.stop()

    caplog.set_level(logging.DEBUG, logger="gateway.mqtt.bus")
    async with make_bus(cfg, stats) as bus:
        for i in range(5):
            bus.publish(topic, str(i), qos=1)
        # Let it fail several times against the closed port.
        await eventually(lambda: metric(stats, "mqtt_connect_failures_total") >= 4)
        assert not bus.connected.is_set()
        assert bus.queue_depth() == 5
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, "a broker that stays down is logged once, not per attempt"
        assert "cannot connect" in warnings[0].getMessage()

        own_mosquitto.start()
        async with asyncio.timeout(10):
            await bus.connected.wait()
        async with client(own_mosquitto, identifier=f"dash-{gateway_id}", clean_session=False) as c:
            received = [(await next_message(c)).payload for _ in range(5)]
    assert received == [b"0", b"1", b"2", b"3", b"4"]
    assert bus.queue_depth() == 0
    assert metric(stats, "mqtt_messages_out_total") >= 5


async def test_broker_restart_mid_run(
    own_mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    stats = Stats()
    cfg = make_config(own_mosquitto)
    own_mosquitto.start()
    got: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        await got.put(message)

    topic = f"out/{gateway_id}"
    # A dashboard with a persistent session: it is subscribed while the gateway queues.
    async with client(own_mosquitto, identifier=f"dash-{gateway_id}", clean_session=False) as c:
        await c.subscribe(topic, qos=1)
        await c.subscribe(f"{cfg.topic_prefix}/status", qos=1)
    async with make_bus(cfg, stats) as bus:
        bus.subscribe(f"cmd/{gateway_id}", handler)
        async with asyncio.timeout(10):
            await bus.connected.wait()

        own_mosquitto.stop()
        await eventually(lambda: not bus.connected.is_set())
        for i in range(20):
            bus.publish(topic, f"m{i}", qos=1)
        assert bus.queue_depth() == 20
        own_mosquitto.start()
        async with asyncio.timeout(10):
            await bus.connected.wait()

        async with client(own_mosquitto, identifier=f"dash-{gateway_id}", clean_session=False) as c:
            payloads: list[bytes] = []
            statuses: list[bytes] = []
            while len(payloads) < 20 or b"online" not in statuses:
                m = await next_message(c)
                (payloads if m.topic.value == topic else statuses).append(m.payload)
            # Subscriptions work again after the restart.
            await c.publish(f"cmd/{gateway_id}", b"ping", qos=1)
            async with asyncio.timeout(10):
                assert (await got.get()).payload == b"ping"
    assert payloads == [f"m{i}".encode() for i in range(20)]
    assert statuses[-1] == b"online"
    assert metric(stats, "mqtt_reconnects_total") == 1.0


async def test_queue_overflow_drops_oldest_and_counts(
    own_mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    stats = Stats()
    cfg = make_config(own_mosquitto, mqtt={"max_queued_messages": 5})
    async with make_bus(cfg, stats) as bus:
        for i in range(8):
            bus.publish(f"q/{gateway_id}", str(i), qos=1)
        assert bus.queue_depth() == 5
        assert metric(stats, "mqtt_dropped_total") == 3.0


async def test_wrong_password_clear_error_and_keeps_retrying(
    own_mosquitto: Mosquitto, make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    own_mosquitto.configure(passwords={"gw": "right-password"})
    own_mosquitto.start()
    stats = Stats()
    cfg = make_config(own_mosquitto, mqtt={"username": "gw", "password": "wrong-password"})
    caplog.set_level(logging.INFO, logger="gateway.mqtt.bus")
    async with make_bus(cfg, stats) as bus:
        await eventually(lambda: metric(stats, "mqtt_connect_failures_total") >= 3)
        assert not bus.connected.is_set()
        assert bus.last_error is not None
        assert "not authori" in bus.last_error.lower()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "wrong-password" not in caplog.text

    good = make_config(own_mosquitto, mqtt={"username": "gw", "password": "right-password"})
    async with make_bus(good) as bus:
        async with asyncio.timeout(10):
            await bus.connected.wait()


def _tls_files(tmp_path: Path, ca: trustme.CA) -> TlsFiles:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key")
    ca.cert_pem.write_to_path(str(files.cafile))
    cert.cert_chain_pems[0].write_to_path(str(files.certfile))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    return files


async def test_tls_right_ca_connects_wrong_ca_refused_without_fallback(
    own_mosquitto: Mosquitto, make_config: ConfigFactory, tmp_path: Path
) -> None:
    own_mosquitto.configure(tls=_tls_files(tmp_path, trustme.CA()))
    own_mosquitto.start()
    assert own_mosquitto.tls is not None
    assert own_mosquitto.tls_port is not None
    tls_port = own_mosquitto.tls_port

    good = make_config(
        own_mosquitto,
        mqtt={"port": tls_port, "tls": {"enabled": True, "ca_file": str(own_mosquitto.tls.cafile)}},
    )
    async with make_bus(good) as bus:
        async with asyncio.timeout(10):
            await bus.connected.wait()

    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    stats = Stats()
    # Wrong CA on the TLS port, and TLS pointed at the plain port: both refused.
    for port in (tls_port, own_mosquitto.port):
        bad = make_config(
            own_mosquitto, mqtt={"port": port, "tls": {"enabled": True, "ca_file": str(other_ca)}}
        )
        async with make_bus(bad, stats) as bus:
            await eventually(lambda: bus.last_error is not None)
            assert not bus.connected.is_set()
            if port == tls_port:
                assert "certificate verify failed" in str(bus.last_error)
    assert metric(stats, "mqtt_messages_out_total") == 0.0


def test_tls_with_unreadable_ca_file_is_a_clear_error(
    mosquitto: Mosquitto, make_config: ConfigFactory, tmp_path: Path
) -> None:
    cfg = make_config(
        mosquitto, mqtt={"tls": {"enabled": True, "ca_file": str(tmp_path / "missing.pem")}}
    )
    with pytest.raises(BusError, match="cannot load TLS files"):
        make_bus(cfg)


async def test_subscriptions_made_while_connecting_all_reach_the_broker(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    got: set[str] = set()

    def handler(message: Message) -> None:
        got.add(message.topic)

    topics: list[str] = []
    async with make_bus(make_config(mosquitto)) as bus:
        # Subscribe on each of the first loop turns: some land mid-handshake.
        for _ in range(300):
            topics.append(f"race/{gateway_id}/{len(topics)}")
            bus.subscribe(topics[-1], handler)
            await asyncio.sleep(0)
        async with asyncio.timeout(10):
            await bus.connected.wait()
        # `connected` is set only once every pattern so far has its SUBACK.
        async with client(mosquitto) as c:
            for topic in topics:
                await c.publish(topic, b"x", qos=1)
        await eventually(lambda: len(got) == len(topics))


async def test_a_startup_burst_logs_no_pending_call_warnings(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    gateway_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A gateway starts with dozens of subscriptions and a burst of retained publishes
    (discovery, counts): aiomqtt warned on each call past its threshold, which the bus's own
    inflight window bounds publishes under, but its subscriptions counted too."""
    caplog.set_level(logging.WARNING)
    got: set[str] = set()

    def handler(message: Message) -> None:
        got.add(message.topic)

    async with client(mosquitto) as c:  # retained: each subscription gets one when made
        for i in range(60):
            await c.publish(f"burst/{gateway_id}/in/{i}", b"x", qos=1, retain=True)
    stats = Stats()
    async with make_bus(make_config(mosquitto), stats) as bus:
        async with asyncio.timeout(10):
            await bus.connected.wait()
        for i in range(200):  # the writer keeps max_inflight of these in flight
            bus.publish(f"burst/{gateway_id}/out/{i}", f"{i}", qos=1)
        for i in range(60):  # components subscribing as they start, meanwhile
            bus.subscribe(f"burst/{gateway_id}/in/{i}", handler)
        await eventually(lambda: len(got) == 60)
        await eventually(lambda: metric(stats, "mqtt_messages_out_total") >= 200)
    pending = [r.getMessage() for r in caplog.records if "pending" in r.getMessage()]
    assert pending == []
