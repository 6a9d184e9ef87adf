"""Windows, deadband and heartbeat, rules, liveness: the pipeline on the test's own clock."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from devices.readings import Reading
from gateway.config import SensorConfig
from gateway.config.sensors import AnomalyRule, RateOfChangeRule, ThresholdRule
from gateway.errors import ConfigError
from gateway.sensors.liveness import Liveness
from gateway.sensors.pipeline import build_decoder
from gateway.sensors.rules import AnomalyEvaluator, RateOfChangeEvaluator, ThresholdEvaluator
from gateway.sensors.windows import Window
from tests.gateway.sensors.sensor_support import offline_pipeline

ROOM: dict[str, object] = {
    "id": "room",
    "topic": "t/room",
    "decoder": "json",
    "decoder_options": {"device": "room", "fields": {"temperature": "t"}},
    "window_s": 10,
    "heartbeat_s": 60,
    "metrics": {"temperature": {"deadband": 0.5, "unit": "°C"}},
}


def readings(*values: float, metric: str = "temperature", device: str = "room") -> list[Reading]:
    return [Reading(device, metric, v, "°C", 0.0) for v in values]


def test_window_gives_count_min_max_mean_last_and_carries_last() -> None:
    w = Window("mean", "°C")
    for v in (3.0, 1.0, 2.0):
        w.add(v)
    s = w.close()
    assert (s.count, s.min, s.max, s.mean, s.last, s.value) == (3, 1.0, 3.0, 2.0, 2.0, 2.0)
    empty = w.close()
    assert (empty.count, empty.min, empty.mean, empty.last, empty.value) == (
        0,
        None,
        None,
        2.0,
        2.0,
    )
    w2 = Window("max")
    w2.add(5.0)
    w2.add(-1.0)
    assert w2.close().value == 5.0


def test_summary_published_retained_and_as_event_each_window() -> None:
    p, bus, _ = offline_pipeline(ROOM)
    for v in (20.0, 21.0, 22.0):
        p.ingest(readings(v), 1.0)
    p.tick(5.0)
    assert bus.states() == []
    p.tick(10.0)
    (state,) = bus.states()
    ts = state["metrics"]["temperature"].pop("ts")
    assert state["metrics"]["temperature"] == {
        "count": 3, "min": 20.0, "max": 22.0, "mean": 21.0, "last": 22.0, "value": 21.0,
        "unit": "°C",
    }  # fmt: skip
    assert ts == state["ts"]  # the window that gave the value
    assert state["v"] == 1
    assert state["sensor"] == "room"
    assert state["window_s"] == 10
    (event,) = bus.events("sensor.summary")
    assert event["kind"] == "sensor.summary"
    assert event["source"] == "room"
    published = {**state["metrics"]["temperature"], "ts": ts}
    assert event["data"]["metrics"] == {"temperature": published}


def test_deadband_suppresses_small_moves_until_heartbeat() -> None:
    p, bus, stats = offline_pipeline(ROOM)
    p.ingest(readings(20.0), 0.0)
    p.tick(10.0)  # first window: published
    p.ingest(readings(20.3), 0.0)
    p.tick(20.0)  # moved 0.3 <= 0.5: suppressed
    p.ingest(readings(20.4), 0.0)
    p.tick(30.0)  # 0.4 from the last reported 20.0: suppressed
    assert len(bus.states()) == 1
    p.ingest(readings(20.6), 0.0)
    p.tick(40.0)  # 0.6 > 0.5: published
    assert [s["metrics"]["temperature"]["value"] for s in bus.states()] == [20.0, 20.6]
    for t in (50.0, 60.0, 70.0, 80.0, 90.0):
        p.ingest(readings(20.7), 0.0)
        p.tick(t)
    assert len(bus.states()) == 2  # still within the deadband, heartbeat (60 s) not due
    p.ingest(readings(20.7), 0.0)
    p.tick(100.0)  # 60 s since the last publish: heartbeat
    snap = stats.snapshot()
    assert snap["sensor_summaries_total"] == {"room": 3.0}
    assert snap["sensor_summaries_suppressed_total"] == {"room": 7.0}


def test_threshold_alerts_once_and_clears_with_hysteresis() -> None:
    rule = ThresholdRule(id="hot", type="threshold", metric="x", above=30, hysteresis=2)
    ev = ThresholdEvaluator(rule)
    seen = [ev.feed(v, 0.0) for v in (29, 31, 35, 29, 28.5, 27.9, 31)]
    assert [None if s is None else s.active for s in seen] == [
        None, True, None, None, None, False, True,
    ]  # fmt: skip
    low = ThresholdEvaluator(ThresholdRule(id="c", type="threshold", metric="x", below=0))
    assert low.feed(-1, 0) is not None
    assert low.active
    with pytest.raises(ValidationError, match="give above, below"):
        ThresholdRule(id="n", type="threshold", metric="x")


def test_rate_of_change_looks_back_over_its_period() -> None:
    rule = RateOfChangeRule(
        id="r", type="rate_of_change", metric="x", max_delta=5, period_s=60, direction="rise"
    )
    ev = RateOfChangeEvaluator(rule)
    assert ev.feed(20, 0) is None
    assert ev.feed(23, 30) is None
    change = ev.feed(26, 50)  # 6 above the minimum of the last 60 s
    assert change is not None
    assert change.active
    assert change.score == 6
    cleared = ev.feed(26.5, 70)  # 20 (t=0) left the period; min is 23: 3.5 <= 5
    assert cleared is not None
    assert not cleared.active
    assert cleared.score == 3.5
    assert ev.feed(10, 80) is None  # falls do not count with direction=rise


def test_anomaly_flags_a_spike_after_warmup_and_clears() -> None:
    rule = AnomalyRule(id="a", type="anomaly", metric="x", alpha=0.1, z=4, warmup=20)
    ev = AnomalyEvaluator(rule)
    values = [20 + 0.1 * math.sin(i) for i in range(40)]
    assert all(ev.feed(v, float(i)) is None for i, v in enumerate(values))
    spike = ev.feed(30.0, 41.0)
    assert spike is not None
    assert spike.active
    assert spike.score is not None
    assert spike.score > 4
    back = ev.feed(20.0, 42.0)
    assert back is not None
    assert not back.active


def test_rule_alert_and_clear_events_and_state() -> None:
    sensor = {
        **ROOM,
        "rules": [{"id": "hot", "type": "threshold", "metric": "temperature", "above": 30}],
    }
    p, bus, stats = offline_pipeline(sensor)
    p.ingest(readings(25, 31, 32), 100.0)
    (alert,) = bus.events("sensor.alert")
    assert alert["priority"] == 2  # Priority.HIGH
    assert alert["data"]["rule"] == "hot"
    assert alert["data"]["value"] == 31
    assert alert["data"]["window"]["count"] == 2
    assert bus.states()[-1]["rules"] == {"hot": "alert"}
    p.ingest(readings(29), 101.0)
    (clear,) = bus.events("sensor.clear")
    assert clear["data"]["state"] == "ok"
    assert bus.states()[-1]["rules"] == {"hot": "ok"}
    assert stats.snapshot()["sensor_alerts_total"] == {"room,hot": 1.0}


def test_liveness_offline_once_then_online() -> None:
    live = Liveness(10.0, devices=("configured",), now=0.0)
    assert live.seen("a", 1.0) is None
    gone = live.expire(11.5)
    assert sorted(s.device for s in gone) == ["a", "configured"]
    assert next(s for s in gone if s.device == "configured").last_seen is None
    assert live.expire(30.0) == []  # reported once
    back = live.seen("a", 31.0)
    assert back is not None
    assert back.offline_s == pytest.approx(19.5)
    assert live.seen("a", 32.0) is None  # online again: its next reading is no return
    assert live.seen("configured", 33.0) is not None  # still offline until it speaks


def test_unkept_metrics_and_other_devices_are_ignored() -> None:
    p, _, stats = offline_pipeline({**ROOM, "device": "room"})
    p.ingest(readings(1.0, metric="pressure"), 0.0)
    p.ingest(readings(1.0, device="hall"), 0.0)
    snap = stats.snapshot()
    assert snap["sensor_readings_ignored_total"] == {"room": 2.0}
    assert snap["sensor_readings_total"] == {"room": 0.0}


def test_decoder_option_errors_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="decoder_options: unknown time zone"):
        SensorConfig.model_validate(
            {"id": "s", "topic": "t", "decoder": "tasmota", "decoder_options": {"device_tz": "X/Y"}}
        )
    with pytest.raises(ValidationError, match="rules watch metric"):
        SensorConfig.model_validate(
            {**ROOM, "rules": [{"id": "r", "type": "threshold", "metric": "nope", "above": 1}]}
        )
    # A bare placeholder validates, but does not start: a ConfigError, not a crash.
    bare = SensorConfig.model_validate({"id": "s", "topic": "t"})
    with pytest.raises(ConfigError, match="missing a required argument: 'fields'"):
        build_decoder(bare)


CLIMATE: dict[str, object] = {
    "id": "climate",
    "topic": "t/climate",
    "decoder": "json",
    "decoder_options": {"device": "c", "fields": {"temperature": "t", "humidity": "h"}},
    "window_s": 10,
    "metrics": {"temperature": {"unit": "°C"}, "humidity": {"unit": "%"}},
    "rules": [{"id": "hot", "type": "threshold", "metric": "temperature", "above": 30}],
}


def test_state_never_regresses_a_metric_keeps_its_value_until_a_new_one() -> None:
    p, bus, _ = offline_pipeline(CLIMATE)
    # A rule fires before any window closed: the state has no null metric.
    p.ingest(readings(35.0, device="c"), 1.0)
    (first,) = bus.states()
    assert first["metrics"] == {}
    assert first["rules"] == {"hot": "alert"}
    p.ingest([Reading("c", "humidity", 50.0, "%", 0.0)], 1.0)
    p.tick(10.0)
    p.ingest(readings(20.0, device="c"), 1.0)  # only temperature in this window
    p.tick(20.0)
    p.tick(30.0)  # an empty window
    last = bus.states()[-1]["metrics"]
    assert last["humidity"]["value"] == 50.0  # kept, with the ts of the window that gave it
    assert last["humidity"]["ts"] == bus.states()[1]["ts"]
    assert last["temperature"]["value"] == 20.0
    assert all(m["value"] is not None for s in bus.states() for m in s["metrics"].values())


def test_a_wildcard_sensor_keeps_a_state_and_an_availability_per_device() -> None:
    sensor = {
        "id": "zb",
        "topic": "zigbee2mqtt/+",
        "decoder": "zigbee2mqtt",
        "window_s": 10,
        "expected_interval_s": 15,
    }
    p, bus, _ = offline_pipeline(sensor)
    assert p.split
    p.ingest([Reading("kitchen", "temperature", 20.0, "°C", 0.0)], 1.0)
    p.ingest([Reading("0x00/hall", "temperature", 30.0, "°C", 0.0)], 1.0)
    p.tick(10.0)
    by_topic = {s.topic: s for s in bus.sent if s.retain}
    kitchen = by_topic["edgegw/unit/sensors/zb/devices/kitchen/state"].json()
    assert kitchen["device"] == "kitchen"
    assert kitchen["metrics"]["temperature"]["value"] == 20.0  # not mixed with the hall
    hall = [t for t in by_topic if "/devices/0x00_hall_" in t and t.endswith("/state")]
    assert len(hall) == 1
    assert by_topic[hall[0]].json()["metrics"]["temperature"]["value"] == 30.0
    assert by_topic["edgegw/unit/sensors/zb/devices/kitchen/availability"].payload == b"online"
