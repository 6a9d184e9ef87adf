"""Shelly Gen2+ ``<prefix>/events/rpc`` notifications and ``<prefix>/status/<component>``."""

from __future__ import annotations

import json

import pytest

from devices.decoders import ShellyDecoder
from devices.readings import DecodeError, DecodeIssue, Reading

RECEIVED_AT = 1_700_000_500.0
HT = "shellyplusht-08b61fcb7f3c"
PLUG = "shellyplusplugs-b0b21c10a1b8"


def rpc(method: str, params: object, src: str = HT) -> bytes:
    doc = {"src": src, "dst": f"{src}/events", "method": method, "params": params}
    return json.dumps(doc).encode()


def values(readings: tuple[Reading, ...]) -> dict[str, tuple[float, str | None]]:
    return {r.metric: (r.value, r.unit) for r in readings}


def test_plus_ht_notify_status() -> None:
    payload = (
        b'{"src":"shellyplusht-08b61fcb7f3c","method":"NotifyStatus","params":{"ts":1700000000.1,'
        b'"temperature:0":{"id":0,"tC":21.3,"tF":70.3},"humidity:0":{"id":0,"rh":45.1},'
        b'"devicepower:0":{"battery":{"V":5.9,"percent":80}}}}'
    )
    result = ShellyDecoder().decode(f"{HT}/events/rpc", payload, RECEIVED_AT)
    assert result.errors == ()
    ts = 1_700_000_000.1
    assert result.readings == (
        Reading(HT, "temperature_0", 21.3, "°C", ts),
        Reading(HT, "humidity_0", 45.1, "%", ts),
        Reading(HT, "devicepower_0_battery", 80.0, "%", ts),
        Reading(HT, "devicepower_0_battery_voltage", 5.9, "V", ts),
    )


def test_plug_switch_notify_full_status_skips_system_components() -> None:
    params = {
        "ts": 1_700_000_000.5,
        "sys": {"mac": "B0B21C10A1B8", "uptime": 3600, "ram_free": 150000},
        "wifi": {"sta_ip": "192.168.1.50", "status": "got ip", "rssi": -58},
        "cloud": {"connected": False},
        "switch:0": {
            "id": 0,
            "source": "HTTP",
            "output": True,
            "apower": 45.2,
            "voltage": 230.4,
            "freq": 50.0,
            "current": 0.21,
            "aenergy": {"total": 1234.567, "by_minute": [1.1, 2.2, 3.3], "minute_ts": 1700000000},
            "temperature": {"tC": 38.1, "tF": 100.6},
        },
    }
    result = ShellyDecoder().decode(
        f"{PLUG}/events/rpc", rpc("NotifyFullStatus", params, PLUG), RECEIVED_AT
    )
    assert result.errors == ()
    assert {r.device for r in result.readings} == {PLUG}
    assert values(result.readings) == {
        "switch_0_output": (1.0, None),
        "switch_0_power": (45.2, "W"),
        "switch_0_voltage": (230.4, "V"),
        "switch_0_current": (0.21, "A"),
        "switch_0_frequency": (50.0, "Hz"),
        "switch_0_energy": (1234.567, "Wh"),
        "switch_0_temperature": (38.1, "°C"),
    }


def test_delta_with_only_changed_fields() -> None:
    params = {"ts": 1_700_000_001, "switch:1": {"id": 1, "apower": 0, "output": False}}
    result = ShellyDecoder().decode("garage/pro2pm/events/rpc", rpc("NotifyStatus", params), 0.0)
    assert result.errors == ()
    assert result.readings == (
        Reading("garage/pro2pm", "switch_1_output", 0.0, None, 1_700_000_001.0),
        Reading("garage/pro2pm", "switch_1_power", 0.0, "W", 1_700_000_001.0),
    )


@pytest.mark.parametrize(
    ("method", "reason"),
    [
        ("NotifyEvent", DecodeError.NO_READINGS),
        ("NotifyDeviceStatus", DecodeError.NO_READINGS),
        (None, DecodeError.MISSING_FIELD),
        (5, DecodeError.WRONG_TYPE),
        (["NotifyStatus"], DecodeError.WRONG_TYPE),
    ],
)
def test_other_methods_give_no_readings_and_a_counted_reason(
    method: object, reason: DecodeError
) -> None:
    params = {"ts": 1.0, "events": [{"component": "input:0", "event": "single_push"}]}
    payload = json.dumps({"src": HT, "method": method, "params": params}).encode()
    result = ShellyDecoder().decode(f"{HT}/events/rpc", payload, RECEIVED_AT)
    assert result.readings == ()
    assert [(i.reason, i.field) for i in result.errors] == [(reason, "method")]


def test_failed_sensor_null_is_missing_field() -> None:
    params = {"temperature:0": {"id": 0, "tC": None, "tF": None, "errors": ["read"]}}
    result = ShellyDecoder().decode(f"{HT}/events/rpc", rpc("NotifyStatus", params), RECEIVED_AT)
    assert result.readings == ()
    assert result.errors == (
        DecodeIssue(DecodeError.MISSING_FIELD, "temperature:0.tC", "value is null"),
    )


def test_wrong_type_and_non_finite_fields() -> None:
    payload = (
        b'{"method":"NotifyStatus","params":{"temperature:0":{"tC":"hot"},'
        b'"humidity:0":{"rh":NaN},"devicepower:0":{"battery":{"percent":55}}}}'
    )
    result = ShellyDecoder().decode(f"{HT}/events/rpc", payload, RECEIVED_AT)
    assert result.readings == (
        Reading(HT, "devicepower_0_battery", 55.0, "%", RECEIVED_AT),  # no ts: receive time
    )
    assert [(e.reason, e.field) for e in result.errors] == [
        (DecodeError.WRONG_TYPE, "temperature:0.tC"),
        (DecodeError.NOT_FINITE, "humidity:0.rh"),
    ]


@pytest.mark.parametrize("ts", ["soon", None, True, -1])
def test_unreadable_ts_falls_back_to_receive_time(ts: object) -> None:
    params = {"ts": ts, "humidity:0": {"rh": 50}}
    result = ShellyDecoder().decode(f"{HT}/events/rpc", rpc("NotifyStatus", params), RECEIVED_AT)
    assert result.readings == (Reading(HT, "humidity_0", 50.0, "%", RECEIVED_AT),)
    if ts is None:
        assert result.errors == ()
    else:
        assert result.errors == (DecodeIssue(DecodeError.BAD_TIMESTAMP, "params.ts", "unreadable"),)


def test_params_not_an_object() -> None:
    result = ShellyDecoder().decode(f"{HT}/events/rpc", rpc("NotifyStatus", [1, 2]), RECEIVED_AT)
    assert result.errors == (
        DecodeIssue(DecodeError.WRONG_TYPE, "params", "params must be an object"),
    )


def test_status_topic_is_one_component() -> None:
    payload = b'{"id":0,"tC":21.3,"tF":70.3}'
    result = ShellyDecoder().decode(f"{HT}/status/temperature:0", payload, RECEIVED_AT)
    assert result.readings == (Reading(HT, "temperature_0", 21.3, "°C", RECEIVED_AT),)


@pytest.mark.parametrize(
    "topic",
    [
        f"{HT}/events/other",
        f"{HT}/online",
        "/events/rpc",
        "events/rpc",
        f"{HT}/status/sys",
        f"{HT}/status/bthomesensor:200",
        f"{HT}/status/",
        f"{HT}/rpc",
    ],
)
def test_unknown_topics(topic: str) -> None:
    result = ShellyDecoder().decode(topic, rpc("NotifyStatus", {}), RECEIVED_AT)
    assert result.readings == ()
    assert [e.reason for e in result.errors] == [DecodeError.UNKNOWN_TOPIC]
