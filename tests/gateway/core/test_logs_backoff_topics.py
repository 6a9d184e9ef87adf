"""Logging helpers, backoff, and the package import rule of DESIGN.md."""

from __future__ import annotations

import io
import json
import logging
import random

import pytest
from paho.mqtt.client import topic_matches_sub

from gateway.backoff import Backoff
from gateway.config import parse_config
from gateway.logs import JsonFormatter, RateLimitedLog, RedactFilter
from gateway.mqtt.topics import TopicFilter
from gateway.runtime import config_secrets


def test_rate_limited_log_counts_what_it_hides(caplog: pytest.LogCaptureFixture) -> None:
    ratelog = RateLimitedLog(logging.getLogger("t.rate"), interval_s=3600)
    caplog.set_level(logging.WARNING, logger="t.rate")
    logged = [ratelog.warning("bad-json", "decode failed on %s", f"t/{i}") for i in range(1000)]
    assert logged.count(True) == 1
    assert ratelog.warning("other-key", "another problem")
    assert [r.getMessage() for r in caplog.records] == ["decode failed on t/0", "another problem"]
    ratelog.interval_s = 0
    ratelog.warning("bad-json", "decode failed on %s", "t/x")
    assert caplog.records[-1].getMessage() == "decode failed on t/x (999 similar suppressed)"


def test_secrets_from_the_config_are_redacted_in_log_lines() -> None:
    cfg = parse_config(
        "gateway: {id: gw1}\nmqtt: {password: pw-123456}\ncloud: {token: tok-abcdef}\n"
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactFilter(config_secrets(cfg)))
    logger = logging.getLogger("t.redact")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("connect failed with password %s and token %s", "pw-123456", "tok-abcdef")
    line = json.loads(stream.getvalue())
    assert line["msg"] == "connect failed with password *** and token ***"
    assert line["level"] == "WARNING"


def test_backoff_is_capped_full_jitter_and_resets() -> None:
    backoff = Backoff(0.5, 8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(200)]
    assert all(0.05 <= d <= 8.0 for d in delays)
    assert max(delays[:1]) <= 0.5
    assert max(delays[10:]) > 4.0
    assert len({round(d, 6) for d in delays}) > 150  # jittered, not a fixed ladder
    backoff.reset()
    assert backoff.next_delay() <= 0.5


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("a/#", "a", True),  # MQTT 3.1.1 §4.7.1.2: `#` also matches the parent level
        ("a/#", "a/b/c", True),
        ("#", "a/b", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("a/+", "a/", True),  # an empty level is a level
        ("#", "$SYS/broker", False),  # §4.7.2: wildcards never match `$` topics at the root
        ("$SYS/#", "$SYS/broker", True),
    ],
)
def test_topic_filters_follow_the_mqtt_spec(pattern: str, topic: str, expected: bool) -> None:
    assert TopicFilter.parse(pattern).matches(topic) is expected  # what the bus routes by
    assert bool(topic_matches_sub(pattern, topic)) is expected  # paho agrees
