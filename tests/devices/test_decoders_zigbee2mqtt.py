"""Zigbee2MQTT device state on ``zigbee2mqtt/<friendly_name>``."""

from __future__ import annotations

import pytest

from devices.decoders import Zigbee2MqttDecoder
from devices.readings import DecodeError, DecodeIssue, Reading

RECEIVED_AT = 1_700_000_500.0


def values(readings: tuple[Reading, ...]) -> dict[str, tuple[float, str | None]]:
    return {r.metric: (r.value, r.unit) for r in readings}


def test_aqara_temperature_sensor() -> None:
    payload = (
        b'{"battery":100,"humidity":58.21,"linkquality":87,"power_outage_count":2,'
        b'"pressure":1002.4,"temperature":21.52,"voltage":3005}'
    )
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/bedroom_climate", payload, RECEIVED_AT)
    assert result.errors == ()
    assert result.readings[0] == Reading("bedroom_climate", "battery", 100.0, "%", RECEIVED_AT)
    assert values(result.readings) == {
        "battery": (100.0, "%"),
        "humidity": (58.21, "%"),
        "linkquality": (87.0, "lqi"),
        "power_outage_count": (2.0, None),  # unknown numeric key: passes without a unit
        "pressure": (1002.4, "hPa"),
        "temperature": (21.52, "°C"),
        "voltage": (3005.0, None),  # mV or V depends on the device: no default unit
    }


def test_motion_sensor_occupancy_is_one() -> None:
    payload = (
        b'{"battery":100,"device_temperature":29,"illuminance":54,"illuminance_lux":54,'
        b'"linkquality":135,"occupancy":true,"voltage":3035}'
    )
    result = Zigbee2MqttDecoder(units={"voltage": "mV"}).decode(
        "zigbee2mqtt/hall/motion", payload, RECEIVED_AT
    )
    assert result.errors == ()
    assert {r.device for r in result.readings} == {"hall/motion"}  # names may contain "/"
    assert values(result.readings) == {
        "battery": (100.0, "%"),
        "device_temperature": (29.0, "°C"),
        "illuminance": (54.0, "lx"),
        "illuminance_lux": (54.0, "lx"),
        "linkquality": (135.0, "lqi"),
        "occupancy": (1.0, None),
        "voltage": (3035.0, "mV"),
    }


def test_door_contact_false_is_zero() -> None:
    payload = b'{"battery":91,"contact":false,"linkquality":63}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/front_door", payload, RECEIVED_AT)
    assert Reading("front_door", "contact", 0.0, None, RECEIVED_AT) in result.readings


def test_smart_plug_skips_text_and_objects() -> None:
    payload = (
        b'{"current":0.05,"energy":1.29,"linkquality":255,"power":10,"state":"ON",'
        b'"voltage":231,"child_lock":"UNLOCK","power_outage_memory":true,'
        b'"update":{"installed_version":587,"state":"idle"},"update_available":null}'
    )
    result = Zigbee2MqttDecoder(units={"voltage": "V"}).decode(
        "zigbee2mqtt/plug_tv", payload, RECEIVED_AT
    )
    assert result.errors == ()
    assert values(result.readings) == {
        "current": (0.05, "A"),
        "energy": (1.29, "kWh"),
        "linkquality": (255.0, "lqi"),
        "power": (10.0, "W"),
        "state": (1.0, None),
        "voltage": (231.0, "V"),
    }


def test_cover_state_text_is_skipped_not_an_error() -> None:
    payload = b'{"state":"OPEN","position":100}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/blind", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {"position": (100.0, "%")}


def test_null_values_are_skipped() -> None:
    payload = b'{"battery":null,"temperature":20.5,"humidity":null}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/t", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {"temperature": (20.5, "°C")}


@pytest.mark.parametrize(
    ("last_seen", "ts"),
    [
        (b'"2023-11-14T23:13:20+01:00"', 1_700_000_000.0),
        (b'"2023-11-14T22:13:20.500Z"', 1_700_000_000.5),
        (b"1700000000123", 1_700_000_000.123),
    ],
)
def test_last_seen_is_the_timestamp(last_seen: bytes, ts: float) -> None:
    payload = b'{"temperature":20.5,"last_seen":' + last_seen + b"}"
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/t", payload, RECEIVED_AT)
    assert result.errors == ()
    assert result.readings == (Reading("t", "temperature", 20.5, "°C", ts),)


def test_unreadable_last_seen() -> None:
    payload = b'{"temperature":20.5,"last_seen":"a while ago"}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/t", payload, RECEIVED_AT)
    assert result.readings == (Reading("t", "temperature", 20.5, "°C", RECEIVED_AT),)
    assert result.errors == (DecodeIssue(DecodeError.BAD_TIMESTAMP, "last_seen", "unreadable"),)


def test_wrong_types_on_known_keys() -> None:
    payload = b'{"temperature":"hot","occupancy":"maybe","humidity":40,"mode":"auto"}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/t", payload, RECEIVED_AT)
    assert values(result.readings) == {"humidity": (40.0, "%")}
    assert [(e.reason, e.field, e.detail) for e in result.errors] == [
        (DecodeError.WRONG_TYPE, "temperature", 'expected a number, got string "hot"'),
        (DecodeError.WRONG_TYPE, "occupancy", 'expected a boolean, got string "maybe"'),
    ]


def test_nan_and_infinity_are_rejected() -> None:
    payload = b'{"temperature":NaN,"pressure":Infinity,"custom":-Infinity,"humidity":40}'
    result = Zigbee2MqttDecoder().decode("zigbee2mqtt/t", payload, RECEIVED_AT)
    assert values(result.readings) == {"humidity": (40.0, "%")}
    assert [(e.reason, e.field) for e in result.errors] == [
        (DecodeError.NOT_FINITE, "temperature"),
        (DecodeError.NOT_FINITE, "pressure"),
        (DecodeError.NOT_FINITE, "custom"),
    ]


@pytest.mark.parametrize(
    "topic",
    [
        "zigbee2mqtt/bridge/state",
        "zigbee2mqtt/bridge/event",
        "zigbee2mqtt/lamp/set",
        "zigbee2mqtt/lamp/get",
        "zigbee2mqtt/lamp/availability",
        "zigbee2mqtt/room/lamp/set",
        "zigbee2mqtt",
        "zigbee2mqtt/",
        "zigbee2mqttx/lamp",
        "tele/lamp/SENSOR",
    ],
)
def test_unknown_topics(topic: str) -> None:
    result = Zigbee2MqttDecoder().decode(topic, b'{"temperature":20}', RECEIVED_AT)
    assert result.readings == ()
    assert [e.reason for e in result.errors] == [DecodeError.UNKNOWN_TOPIC]


def test_custom_base_topic() -> None:
    decoder = Zigbee2MqttDecoder(base_topic="z2m/house")
    result = decoder.decode("z2m/house/lamp", b'{"brightness":254}', RECEIVED_AT)
    assert result.readings == (Reading("lamp", "brightness", 254.0, None, RECEIVED_AT),)
