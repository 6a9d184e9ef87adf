"""The MQTT transport's config, failure classes, rate limit and verdict messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from cloud_bridge.errors import UplinkRefused
from cloud_bridge.uplink import Outcome, RateLimit, classify, verdict_from_message
from gateway.config.cloud import CloudSection


def mqtt_cloud(**mqtt: Any) -> CloudSection:
    """A cloud section with events over MQTT."""
    broker = {"host": "broker.example", **mqtt}
    return CloudSection.model_validate(
        {"enabled": True, "events": {"transport": "mqtt", "mqtt": broker}}
    )


def test_mqtt_transport_needs_no_url_but_a_broker() -> None:
    cfg = mqtt_cloud(tls={"ca_file": "/etc/hosts"})
    assert cfg.url is None
    assert cfg.events.mqtt is not None
    assert cfg.events.mqtt.tls.enabled  # a tls block means TLS on
    assert cfg.events.mqtt.port == 8883
    with pytest.raises(ValidationError, match=r"cloud\.events\.mqtt"):
        CloudSection.model_validate({"enabled": True, "events": {"transport": "mqtt"}})
    with pytest.raises(ValidationError, match=r"the OIP server is not set"):
        CloudSection.model_validate({"enabled": True})


@pytest.mark.parametrize(
    ("topic", "why"),
    [
        ("fleet/+/events", "wildcards"),
        ("fleet/#", "wildcards"),
        ("$aws/things/x", "leading"),
        ("fleet/{site}/events", "only the fields"),
        ("a/b/c/d/e/f/g/h/{kind}", "max_topic_levels"),
    ],
)
def test_bad_topics_are_refused_with_a_reason(topic: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        mqtt_cloud(topic=topic)


def test_refusals_are_kept_unless_the_message_itself_is_refused() -> None:
    acl = classify(UplinkRefused(0x87, "Not authorized", stage="publish"))
    assert (acl.reason, acl.permanent) == ("not_authorized", False)
    big = classify(UplinkRefused(0x95, "Packet too large", stage="publish"))
    assert (big.reason, big.permanent) == ("packet_too_large", True)
    connack = classify(UplinkRefused(0x86, "Bad user name or password", stage="connect"))
    assert (connack.reason, connack.permanent) == ("bad_user_name_or_password", False)


def test_rate_limit_spaces_calls_after_a_burst() -> None:
    now = [100.0]
    rate = RateLimit(10.0, burst=2, clock=lambda: now[0])
    for _ in range(2):
        assert rate.delay_s() == 0
        rate.take()
    assert rate.delay_s() == pytest.approx(0.1)
    now[0] += 0.05
    assert rate.delay_s() == pytest.approx(0.05)
    now[0] += 10
    assert rate.delay_s() == 0  # refilled, but never past the burst
    rate.take()
    rate.take()
    assert rate.delay_s() > 0


def test_verdict_messages_are_read_or_refused() -> None:
    good = {
        "hard_case": {"id": "h1", "source": "door", "label": "person", "score": 0.6},
        "verdict": "relabelled", "cloud_label": "dog", "cloud_score": 0.8, "model": "judge",
        "people": [
            {"x1": 0.1, "y1": 0.1, "x2": 0.5, "y2": 0.9},
            {"x1": 1, "y1": 0, "x2": 1, "y2": 1},
        ],
    }  # fmt: skip
    verdict = verdict_from_message(json.dumps(good).encode())
    assert verdict.outcome is Outcome.RELABELLED
    assert verdict.hard_case.band_middle == 0.6
    assert len(verdict.people) == 1  # the empty box is left out
    # A no from the cloud is weighed like an OIP answer (cloud.verdict_reject_score).
    no = {**good, "verdict": "rejected", "cloud_label": "background", "cloud_score": 0.62}
    weak = verdict_from_message(json.dumps(no).encode(), reject_score=0.7)
    assert weak.outcome is Outcome.UNSURE
    sure = verdict_from_message(json.dumps({**no, "cloud_score": 0.9}).encode(), reject_score=0.7)
    assert sure.outcome is Outcome.REJECTED
    assert verdict_from_message(json.dumps(no).encode()).outcome is Outcome.REJECTED
    bad_ones = [
        b"",
        b"[]",
        b'{"verdict": "confirmed"}',
        json.dumps({**good, "verdict": "maybe"}).encode(),
        json.dumps({**good, "cloud_score": float("nan")}).encode(),
    ]
    for bad in bad_ones:
        with pytest.raises(ValueError, match="not a verdict message"):
            verdict_from_message(bad)
