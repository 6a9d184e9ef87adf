"""Bad input on a real Mosquitto: every rejection counted by reason, good traffic intact."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.sensors.sensor_support import counter, next_json
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, running
from tests.support.waits import eventually

MAX_BYTES = 256


def probe(topic: str, fields: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "id": "probe",
        "topic": topic,
        "decoder": "json",
        "decoder_options": {"device": "probe", "fields": fields},
        "max_bytes": MAX_BYTES,
        "window_s": 0.2,
        **extra,
    }


@dataclass(slots=True, frozen=True)
class BadCase:
    """A malformed payload and the reason it must be counted under."""

    label: str
    payload: bytes
    reason: str


CASES = [
    BadCase("truncated", b'{"t": 21.5, "h": 4', "bad_json"),
    BadCase("not utf-8", b'{"t": 21.5, "h": "\xff\xfe"}', "not_utf8"),
    BadCase("wrong type", b'{"t": "hot", "h": 40}', "wrong_type"),
    BadCase("NaN", b'{"t": NaN, "h": 40}', "not_finite"),
    BadCase("Infinity", b'{"t": 1, "h": -Infinity}', "not_finite"),
    BadCase("huge", b'{"t": 1, "h": 2, "pad": "' + b"x" * MAX_BYTES + b'"}', "too_large"),
    BadCase("empty", b"  ", "empty"),
    BadCase("missing", b'{"t": 1}', "missing_field"),
    BadCase("array", b"[1, 2]", "wrong_type"),
]
FIELD_LEVEL = {"wrong type", "NaN", "Infinity", "missing"}
"""Cases rejecting one field only: the message's other field still gives a reading."""


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
async def test_each_bad_payload_is_counted_by_reason_and_good_fields_kept(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str, case: BadCase
) -> None:
    topic = f"dev/{gateway_id}/probe"
    cfg = make_config(
        mosquitto,
        sensors=[probe(topic, {"t": "t", "h": "h"})],
        homeassistant={"discovery": False},
    )
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.publish(topic, case.payload, qos=1)
        await c.publish(topic, b'{"t": 20.0, "h": 50.0}', qos=1)
        # The good message after the bad one is processed: both readings.
        await eventually(lambda: counter(gw.stats, "sensor_messages_total", "probe") == 2)
        errors = gw.stats.snapshot()["sensor_decode_errors_total"]
        assert isinstance(errors, dict)
        assert {k: v for k, v in errors.items() if v} == {f"probe,{case.reason}": 1.0}
        readings = counter(gw.stats, "sensor_readings_total", "probe")
        assert readings == 2 + (case.label in FIELD_LEVEL)


async def test_unknown_topics_are_rejected_not_decoded(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    base = f"z2m_{gateway_id}"
    sensor = {
        "id": "zigbee",
        "topic": f"{base}/#",
        "decoder": "zigbee2mqtt",
        "decoder_options": {"base_topic": base},
    }
    cfg = make_config(mosquitto, sensors=[sensor], homeassistant={"discovery": False})
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.publish(f"{base}/bridge/state", b'{"state": "online"}', qos=1)
        await c.publish(f"{base}/lamp/set", b'{"state": "ON"}', qos=1)
        await c.publish(f"{base}/hall", b'{"temperature": 19.5}', qos=1)
        await eventually(lambda: counter(gw.stats, "sensor_readings_total", "zigbee") == 1)
        assert counter(gw.stats, "sensor_decode_errors_total", "zigbee,unknown_topic") == 2


FLOOD = 10_000
GOOD_EVERY = 50


async def test_flood_of_malformed_messages(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    gateway_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """10,000 malformed messages with good ones among them: the gateway keeps up."""
    topic = f"dev/{gateway_id}/flood"
    flood_cases = [c for c in CASES if c.label != "missing"]  # valid for fields {t}
    bad = [c.payload for c in flood_cases]
    reasons = [c.reason for c in flood_cases]
    rule = {"id": "hot", "type": "threshold", "metric": "t", "above": 100}
    sensor = probe(topic, {"t": "t"}, window_s=0.5, rules=[rule])
    cfg = make_config(
        mosquitto,
        sensors=[sensor],
        homeassistant={"discovery": False},
        logging={"rate_limit_s": 300},
    )
    # Bad payloads for {t} only: "h" problems vanish; keep those that still fail on "t".
    plan: list[bytes] = []
    good_values: list[float] = []
    expected: dict[str, int] = {}
    for i in range(FLOOD):
        k = i % len(bad)
        payload, reason = bad[k], reasons[k]
        if reason == "not_finite" and b"NaN" not in payload:
            payload, reason = b'{"t": Infinity}', "not_finite"
        plan.append(payload)
        expected[reason] = expected.get(reason, 0) + 1
        if i % GOOD_EVERY == 0:
            value = 150.0 if i == FLOOD // 2 else 20.0 + (i // GOOD_EVERY) % 5
            good_values.append(value)
            plan.append(json.dumps({"t": value}).encode())
    with caplog.at_level(logging.WARNING, logger="gateway.sensors"):
        async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
            await c.subscribe(f"{cfg.topic_prefix}/events/+/probe", qos=1)
            for start in range(0, len(plan), 200):
                batch = plan[start : start + 200]
                await asyncio.gather(*(c.publish(topic, p, qos=1) for p in batch))
            summed = count = alerts = clears = 0
            while count < len(good_values) or not clears:
                _, event = await next_json(c, timeout_s=30)
                kind = event["kind"]
                if kind == "sensor.summary":
                    m = event["data"]["metrics"]["t"]
                    count += m["count"]
                    summed += m["mean"] * m["count"] if m["count"] else 0
                alerts += kind == "sensor.alert"
                clears += kind == "sensor.clear"
            assert count == len(good_values)
            # Each summary rounds its mean; a lost or doubled reading would move this by >= 20.
            assert summed == pytest.approx(sum(good_values), abs=0.05)
            assert (alerts, clears) == (1, 1)
            snap = gw.stats.snapshot()
            errors = snap["sensor_decode_errors_total"]
            assert isinstance(errors, dict)
            assert {k.split(",")[1]: v for k, v in errors.items() if v} == expected
            assert sum(errors.values()) == FLOOD
            assert gw.bus is not None
            assert gw.bus.connected.is_set()
    sensor_logs = [r for r in caplog.records if r.name == "gateway.sensors"]
    assert 0 < len(sensor_logs) <= len(expected)  # one line per reason per interval
