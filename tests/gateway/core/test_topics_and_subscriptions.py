"""Topic filters and prefixes: refused by `validate`; a refused subscription at run time.

Config side: MQTT's rules (`#` alone in the last level, `+` a whole level, no wildcard in
a published topic or prefix, not empty, no NUL, <= 65535 bytes) on every topic the
config holds. Run-time side, on a real Mosquitto: a subscription the broker refuses
(its dynamic-security plugin denies it: SUBACK failure) or the client library refuses
(an invalid filter) is logged, counted, reported by `/healthz`, retried by the
supervised `mqtt-subscriptions` component with backoff, and never ends the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.topics import MAX_TOPIC_BYTES, filter_problem, name_problem
from gateway.errors import ConfigError
from gateway.mqtt.bus import BusState, Message, MqttBus
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from gateway.stats_registry import Stats
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually


@dataclass(slots=True, frozen=True)
class TopicCase:
    """A topic and the start of the problem expected (None: valid)."""

    topic: str
    problem: str | None


FILTERS = [
    TopicCase("a", None),
    TopicCase("a/b/c", None),
    TopicCase("+", None),
    TopicCase("#", None),
    TopicCase("a/+/b", None),
    TopicCase("a/#", None),
    TopicCase("+/+/#", None),
    TopicCase("$SYS/#", None),
    TopicCase("/", None),
    TopicCase("a//b", None),
    TopicCase("é" * (MAX_TOPIC_BYTES // 2), None),
    TopicCase("", "a topic must not be empty"),
    TopicCase("x/#/y", "`#` must be alone in the last level"),
    TopicCase("#/a", "`#` must be alone in the last level"),
    TopicCase("a#", "`#` must be alone in the last level"),
    TopicCase("a/b#", "`#` must be alone in the last level"),
    TopicCase("a+", "`+` must be a whole level"),
    TopicCase("+a/b", "`+` must be a whole level"),
    TopicCase("a/b+/c", "`+` must be a whole level"),
    TopicCase("a\x00b", "a topic must not contain NUL"),
    TopicCase("x" * (MAX_TOPIC_BYTES + 1), "a topic is at most 65535 bytes"),
    TopicCase("é" * (MAX_TOPIC_BYTES // 2 + 1), "a topic is at most 65535 bytes"),
    TopicCase("a\udc80", "a topic must be valid UTF-8"),
]

NAMES = [
    TopicCase("edgegw/gw1", None),
    TopicCase("a", None),
    TopicCase("site/a b/ü", None),
    TopicCase("edge/+/x", "wildcards (`+`, `#`) are not allowed"),
    TopicCase("edge/#", "wildcards (`+`, `#`) are not allowed"),
    TopicCase("a#b", "wildcards (`+`, `#`) are not allowed"),
    TopicCase("$SYS/x", "topics starting with `$` are reserved"),
    TopicCase("", "a topic must not be empty"),
    TopicCase("a\x00", "a topic must not contain NUL"),
    TopicCase("x" * (MAX_TOPIC_BYTES + 1), "a topic is at most 65535 bytes"),
]


@pytest.mark.parametrize("case", FILTERS, ids=lambda c: repr(c.topic[:12]))
def test_filter_rules(case: TopicCase) -> None:
    problem = filter_problem(case.topic)
    if case.problem is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(case.problem)


@pytest.mark.parametrize("case", NAMES, ids=lambda c: repr(c.topic[:12]))
def test_published_topic_rules(case: TopicCase) -> None:
    problem = name_problem(case.topic)
    if case.problem is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(case.problem)


def test_validate_refuses_bad_topics_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(
        "gateway: {id: gw1}\n"
        "mqtt: {topic_prefix: 'edge/+/x'}\n"
        "homeassistant: {discovery_prefix: 'ha/#'}\n"
        "sensors:\n"
        "  - {id: a, topic: 'x/#/y'}\n"
        "  - {id: b, topic: 'ok/+/#'}\n"
        "  - {id: c, topic: 'x/a+'}\n"
        "cameras:\n"
        "  - {id: c1, source: 'mqtt:cam/#/x'}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    found = {(i.line, i.path): i.reason for i in info.value.issues}
    assert set(found) == {
        (2, "mqtt.topic_prefix"),
        (3, "homeassistant.discovery_prefix"),
        (5, "sensors[0].topic"),
        (7, "sensors[2].topic"),
        (9, "cameras[0]"),
    }
    assert "wildcards (`+`, `#`) are not allowed" in found[(2, "mqtt.topic_prefix")]
    assert "`#` must be alone in the last level" in found[(5, "sensors[0].topic")]
    assert "`+` must be a whole level" in found[(7, "sensors[2].topic")]
    assert "source: `#` must be alone" in found[(9, "cameras[0]")]


def healthz(port: int) -> tuple[int, list[str]]:
    """GET /healthz: the status code and the problems listed."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    problems: list[str] = json.loads(body)["problems"]
    return status, problems


def counter(gw: Gateway, name: str, label: str) -> float:
    values = gw.stats.snapshot().get(name, {})
    assert isinstance(values, dict)
    return float(values.get(label, 0.0))


async def test_a_subscription_the_broker_refuses_is_reported_retried_and_recovers(
    own_mosquitto: Mosquitto,
    make_config: ConfigFactory,
    gateway_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    own_mosquitto.configure(deny_subscribe=("secret/#",))
    own_mosquitto.start()
    ok_topic = f"ok/{gateway_id}/t"
    http_port = free_port()
    plain = {"device": "probe", "metric": "t"}
    sensors = [
        {"id": "denied", "topic": "secret/#", "decoder": "plain", "decoder_options": plain},
        {"id": "fine", "topic": ok_topic, "decoder": "plain", "decoder_options": plain},
    ]
    cfg = make_config(
        own_mosquitto,
        sensors=sensors,
        stats={"http_port": http_port},
        homeassistant={"discovery": False},
    )
    caplog.set_level(logging.INFO)
    refused = "mqtt subscription sensor:denied ('secret/#'): refused by the broker"
    async with running(build_gateway(cfg)) as gw:
        assert gw.bus is not None
        # the supervisor runs the watch again after its backoff, and again
        await eventually(lambda: counter(gw, "component_restarts_total", "mqtt-subscriptions") >= 2)
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert status == 503
        assert any(p.startswith(refused) for p in problems), problems
        await eventually(
            lambda: "component mqtt-subscriptions is restarting" in gw.health_problems()
        )
        # the rest of the gateway works: connected, the other sensor reads
        assert gw.bus.state is BusState.CONNECTED
        async with client(own_mosquitto) as c:
            await c.subscribe(f"{cfg.topic_prefix}/status", qos=1)
            assert (await next_message(c)).payload == b"online"
            await c.publish(ok_topic, b"21.5", qos=1)
        await eventually(lambda: counter(gw, "sensor_readings_total", "fine") == 1)
        assert gw.stats.snapshot()["mqtt_subscriptions_refused"] == 1.0
        # the broker allows it again: the reconnect subscribes, health is clean again
        own_mosquitto.configure()
        await asyncio.to_thread(own_mosquitto.restart)
        await eventually(lambda: gw.health_problems() == [], timeout_s=20)
        assert gw.stats.snapshot()["mqtt_subscriptions_refused"] == 0.0
        status, problems = await asyncio.to_thread(healthz, http_port)
        assert (status, problems) == (200, [])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        "subscription sensor:denied ('secret/#'): refused by the broker" in e for e in errors
    )
    assert any("component mqtt-subscriptions failed: subscription(s) refused" in e for e in errors)


async def test_an_invalid_filter_at_run_time_never_ends_the_connection(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    cfg = make_config(mosquitto)
    stats = Stats()
    got: asyncio.Queue[Message] = asyncio.Queue()
    bus = MqttBus(
        cfg.mqtt, client_id=cfg.client_id, status_topic=f"{cfg.topic_prefix}/status", stats=stats
    )
    async with bus:
        bus.subscribe("x/#/y", got.put_nowait, name="early")  # before the connection
        async with asyncio.timeout(10):
            await bus.connected.wait()
        bus.subscribe("cam/a+", got.put_nowait, name="late")  # on the live connection
        bus.subscribe(f"in/{gateway_id}/+", got.put_nowait, name="good")
        await eventually(lambda: len(bus.refused()) == 2)
        reasons = {r.name: r.reason for r in bus.refused()}
        assert reasons == {
            "early": "invalid topic filter: Invalid subscription filter.",
            "late": "invalid topic filter: Invalid subscription filter.",
        }
        assert await bus.retry_refused() == bus.refused()  # still refused, nothing raised
        async with client(mosquitto) as c:
            await c.publish(f"in/{gateway_id}/t", b"1", qos=1)
        async with asyncio.timeout(10):
            message = await got.get()
        assert message.payload == b"1"
        assert bus.state is BusState.CONNECTED
        counts = stats.snapshot()["mqtt_subscribe_refused_total"]
        assert isinstance(counts, dict)
        assert counts["early"] >= 2
        assert counts["late"] >= 2
