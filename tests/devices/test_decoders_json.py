"""Generic JSON with a field mapping."""

from __future__ import annotations

import pytest

from devices.decoders import JsonFieldsDecoder
from devices.readings import DecodeError, DecodeIssue, DecodeResult, Reading

RECEIVED_AT = 1_700_000_500.0

ESPHOME_LIKE = (
    b'{"device":"esp-balcony","uptime":3600,"sensors":[{"name":"bme","temp":"21.50","hum":44.2,'
    b'"press":1013.2}],"air":{"pm2.5":7,"co2":612},"ts":"2023-11-14T22:13:20Z"}'
)


def balcony(**extra: object) -> JsonFieldsDecoder:
    options: dict[str, object] = {
        "fields": {
            "temperature": "sensors.0.temp",
            "humidity": "/sensors/0/hum",
            "pressure": "sensors.0.press",
            "pm25": "/air/pm2.5",  # a pointer reaches keys that contain dots
            "co2": "air.co2",
        },
        "units": {"temperature": "°C", "humidity": "%", "pressure": "hPa", "co2": "ppm"},
        "device_from_topic": 1,
        "timestamp": "ts",
    }
    return JsonFieldsDecoder(**{**options, **extra})  # type: ignore[arg-type]


def test_mapped_fields_with_paths_units_and_timestamp() -> None:
    result = balcony().decode("esphome/balcony/state", ESPHOME_LIKE, RECEIVED_AT)
    assert result.errors == ()
    ts = 1_700_000_000.0
    assert result.readings == (
        Reading("balcony", "temperature", 21.5, "°C", ts),  # numeric text accepted
        Reading("balcony", "humidity", 44.2, "%", ts),
        Reading("balcony", "pressure", 1013.2, "hPa", ts),
        Reading("balcony", "pm25", 7.0, None, ts),
        Reading("balcony", "co2", 612.0, "ppm", ts),
    )


def test_text_values_can_be_refused() -> None:
    result = balcony(accept_text=False).decode("esphome/balcony/state", ESPHOME_LIKE, 0.0)
    assert [(e.reason, e.field) for e in result.errors] == [
        (DecodeError.WRONG_TYPE, "sensors.0.temp")
    ]
    assert len(result.readings) == 4


def test_partial_payload_gives_readings_and_issues() -> None:
    decoder = JsonFieldsDecoder(
        fields={"temperature": "temperature", "humidity": "humidity"},
        units={"temperature": "°C"},
        device="esp1",
    )
    result = decoder.decode("esp/esp1/state", b'{"temperature": 21.5, "humidity": "wet"}', 7.0)
    assert result == DecodeResult(
        readings=(Reading("esp1", "temperature", 21.5, "°C", 7.0),),
        errors=(
            DecodeIssue(DecodeError.WRONG_TYPE, "humidity", 'expected a number, got string "wet"'),
        ),
    )


def test_missing_and_null_fields() -> None:
    payload = b'{"sensors":[{"temp":null}],"air":{}}'
    result = balcony(timestamp=None).decode("esphome/balcony/state", payload, RECEIVED_AT)
    assert result.readings == ()
    assert [(e.reason, e.field) for e in result.errors] == [
        (DecodeError.MISSING_FIELD, "sensors.0.temp"),
        (DecodeError.MISSING_FIELD, "/sensors/0/hum"),
        (DecodeError.MISSING_FIELD, "sensors.0.press"),
        (DecodeError.MISSING_FIELD, "/air/pm2.5"),
        (DecodeError.MISSING_FIELD, "air.co2"),
    ]


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        (b"NaN", DecodeError.NOT_FINITE),
        (b"-Infinity", DecodeError.NOT_FINITE),
        (b'"NaN"', DecodeError.NOT_FINITE),
        (b'"hot"', DecodeError.WRONG_TYPE),
        (b"[21]", DecodeError.WRONG_TYPE),
        (b'{"v":21}', DecodeError.WRONG_TYPE),
    ],
)
def test_bad_values(literal: bytes, reason: DecodeError) -> None:
    decoder = JsonFieldsDecoder(fields={"t": "t", "h": "h"}, device="d")
    result = decoder.decode("x", b'{"t":' + literal + b',"h":40}', RECEIVED_AT)
    assert result.readings == (Reading("d", "h", 40.0, None, RECEIVED_AT),)
    assert [(e.reason, e.field) for e in result.errors] == [(reason, "t")]


@pytest.mark.parametrize(
    ("ts_json", "expected"),
    [
        (b"1700000000", 1_700_000_000.0),
        (b"1700000000250", 1_700_000_000.25),
        (b'"2023-11-14T23:13:20"', 1_700_000_000.0),  # naive: read in Europe/Berlin (UTC+1)
    ],
)
def test_timestamp_forms(ts_json: bytes, expected: float) -> None:
    decoder = JsonFieldsDecoder(
        fields={"t": "t"}, device="d", timestamp="meta.time", device_tz="Europe/Berlin"
    )
    result = decoder.decode("x", b'{"t":1,"meta":{"time":' + ts_json + b"}}", RECEIVED_AT)
    assert result.readings == (Reading("d", "t", 1.0, None, expected),)


@pytest.mark.parametrize("meta", [b"{}", b'{"time":"later"}', b'{"time":NaN}'])
def test_missing_or_bad_timestamp_uses_receive_time(meta: bytes) -> None:
    decoder = JsonFieldsDecoder(fields={"t": "t"}, device="d", timestamp="meta.time")
    result = decoder.decode("x", b'{"t":1,"meta":' + meta + b"}", RECEIVED_AT)
    assert result.readings == (Reading("d", "t", 1.0, None, RECEIVED_AT),)
    assert result.errors == (
        DecodeIssue(DecodeError.BAD_TIMESTAMP, "meta.time", "unreadable timestamp"),
    )


def test_booleans_become_one_and_zero() -> None:
    decoder = JsonFieldsDecoder(fields={"door": "contact", "light": "relay"}, device="d")
    result = decoder.decode("x", b'{"contact":false,"relay":"ON"}', RECEIVED_AT)
    assert [(r.metric, r.value) for r in result.readings] == [("door", 0.0), ("light", 1.0)]


def test_device_segment_missing_is_unknown_topic() -> None:
    result = balcony().decode("esphome", ESPHOME_LIKE, RECEIVED_AT)
    assert [e.reason for e in result.errors] == [DecodeError.UNKNOWN_TOPIC]
