"""Plain payloads: one number (or an on/off word) per message."""

from __future__ import annotations

import pytest

from devices.decoders import PlainDecoder
from devices.readings import DecodeError, DecodeIssue, DecodeResult, Reading

RECEIVED_AT = 1_700_000_500.0


def from_topic() -> PlainDecoder:
    return PlainDecoder(device_from_topic=1, metric_from_topic=-1, unit="°C")


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (b"21.5", 21.5),
        (b" -3 \n", -3.0),
        (b"1e2", 100.0),
        (b"0", 0.0),
        (b".5", 0.5),
        (b"\x1d-3e1", -30.0),
        (b"21.\x1e", 21.0),
    ],
)
def test_numbers(payload: bytes, value: float) -> None:
    result = from_topic().decode("home/kitchen/temperature", payload, RECEIVED_AT)
    assert result == DecodeResult(
        readings=(Reading("kitchen", "temperature", value, "°C", RECEIVED_AT),)
    )


def test_fixed_device_and_metric() -> None:
    decoder = PlainDecoder(device="boiler", metric="flow_temp", unit="°C")
    result = decoder.decode("anything/at/all", b"55.25", RECEIVED_AT)
    assert result.readings == (Reading("boiler", "flow_temp", 55.25, "°C", RECEIVED_AT),)


@pytest.mark.parametrize(("payload", "value"), [(b"ON", 1.0), (b"off", 0.0), (b"true", 1.0)])
def test_on_off_words(payload: bytes, value: float) -> None:
    decoder = PlainDecoder(device_from_topic=1, metric="relay")
    result = decoder.decode("tasmota/pump/POWER", payload, RECEIVED_AT)
    assert result.readings == (Reading("pump", "relay", value, None, RECEIVED_AT),)


def test_on_off_words_can_be_refused() -> None:
    decoder = PlainDecoder(device="pump", metric="relay", on_off=False)
    result = decoder.decode("x", b"ON", RECEIVED_AT)
    assert result.errors == (
        DecodeIssue(DecodeError.WRONG_TYPE, "relay", 'expected a number, got string "ON"'),
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"hot", DecodeError.WRONG_TYPE),
        (b"21,5", DecodeError.WRONG_TYPE),
        (b"1_000", DecodeError.WRONG_TYPE),
        (b'{"temperature": 21}', DecodeError.WRONG_TYPE),
        (b"NaN", DecodeError.NOT_FINITE),
        (b"inf", DecodeError.NOT_FINITE),
        (b"-Infinity", DecodeError.NOT_FINITE),
        (b"1e999", DecodeError.NOT_FINITE),
        (b"21.\xb0C", DecodeError.NOT_UTF8),
        (b"", DecodeError.EMPTY),
    ],
)
def test_bad_payloads(payload: bytes, reason: DecodeError) -> None:
    result = from_topic().decode("home/kitchen/temperature", payload, RECEIVED_AT)
    assert result.readings == ()
    assert [(e.reason, e.field) for e in result.errors] == [
        (reason, None if reason in (DecodeError.NOT_UTF8, DecodeError.EMPTY) else "temperature")
    ]


@pytest.mark.parametrize("topic", ["home", "home//temperature", ""])
def test_topic_without_the_segment_is_unknown(topic: str) -> None:
    result = from_topic().decode(topic, b"21.5", RECEIVED_AT)
    assert [e.reason for e in result.errors] == [DecodeError.UNKNOWN_TOPIC]


def test_long_text_is_too_large_before_parsing() -> None:
    decoder = PlainDecoder(device="d", metric="m", max_bytes=16)
    result = decoder.decode("x", b"1" * 17, RECEIVED_AT)
    assert result.errors == (DecodeIssue(DecodeError.TOO_LARGE, None, "17 bytes > max_bytes 16"),)
