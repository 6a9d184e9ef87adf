"""Tasmota ``tele/<device>/SENSOR`` telemetry."""

from __future__ import annotations

import pytest

from devices.decoders import TasmotaDecoder
from devices.readings import DecodeError, DecodeIssue, Reading

RECEIVED_AT = 1_700_000_500.0
NOON_UTC = 1_704_110_400.0  # 2024-01-01T12:00:00Z


def values(readings: tuple[Reading, ...]) -> dict[str, tuple[float, str | None]]:
    return {r.metric: (r.value, r.unit) for r in readings}


def test_am2301() -> None:
    payload = (
        b'{"Time":"2024-01-01T12:00:00","AM2301":{"Temperature":22.1,"Humidity":41.0,'
        b'"DewPoint":8.4},"TempUnit":"C"}'
    )
    result = TasmotaDecoder().decode("tele/kitchen/SENSOR", payload, RECEIVED_AT)
    assert result.errors == ()
    assert result.readings == (
        Reading("kitchen", "am2301_temperature", 22.1, "°C", NOON_UTC),
        Reading("kitchen", "am2301_humidity", 41.0, "%", NOON_UTC),
        Reading("kitchen", "am2301_dewpoint", 8.4, "°C", NOON_UTC),
    )


def test_several_ds18b20_skip_their_ids() -> None:
    payload = (
        b'{"Time":"2024-01-01T12:00:00","DS18B20-1":{"Id":"01144A0CB2AA","Temperature":21.4},'
        b'"DS18B20-2":{"Id":"0316A2794C1F","Temperature":19.9},"TempUnit":"F"}'
    )
    result = TasmotaDecoder().decode("tele/boiler/SENSOR", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {
        "ds18b20_1_temperature": (21.4, "°F"),
        "ds18b20_2_temperature": (19.9, "°F"),
    }


def test_bme280_pressure_unit_from_payload() -> None:
    payload = (
        b'{"Time":"2024-01-01T12:00:00","BME280":{"Temperature":23.4,"Humidity":45.2,'
        b'"DewPoint":10.9,"Pressure":759.3,"SeaPressure":761.0},'
        b'"PressureUnit":"mmHg","TempUnit":"C"}'
    )
    result = TasmotaDecoder().decode("tele/attic/SENSOR", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {
        "bme280_temperature": (23.4, "°C"),
        "bme280_humidity": (45.2, "%"),
        "bme280_dewpoint": (10.9, "°C"),
        "bme280_pressure": (759.3, "mmHg"),
        "bme280_seapressure": (761.0, "mmHg"),
    }


def test_energy_monitor_plug() -> None:
    payload = (
        b'{"Time":"2024-01-01T12:00:00","ENERGY":{"TotalStartTime":"2023-06-01T10:00:00",'
        b'"Total":12.345,"Yesterday":0.512,"Today":0.101,"Period":0,"Power":45,'
        b'"ApparentPower":60,"ReactivePower":40,"Factor":0.75,"Voltage":231,"Current":0.26}}'
    )
    result = TasmotaDecoder().decode("tele/washer/SENSOR", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {
        "energy_total": (12.345, "kWh"),
        "energy_yesterday": (0.512, "kWh"),
        "energy_today": (0.101, "kWh"),
        "energy_period": (0.0, None),
        "energy_power": (45.0, "W"),
        "energy_apparentpower": (60.0, "VA"),
        "energy_reactivepower": (40.0, "var"),
        "energy_factor": (0.75, None),
        "energy_voltage": (231.0, "V"),
        "energy_current": (0.26, "A"),
    }
    assert {r.ts for r in result.readings} == {NOON_UTC}
    assert {r.device for r in result.readings} == {"washer"}


def test_multi_channel_arrays_and_switch_words() -> None:
    payload = b'{"ENERGY":{"Power":[10,20.5],"Voltage":230},"Switch1":"ON","Switch2":"OFF"}'
    result = TasmotaDecoder().decode("tele/dual/SENSOR", payload, RECEIVED_AT)
    assert result.errors == ()
    assert values(result.readings) == {
        "energy_power_1": (10.0, "W"),
        "energy_power_2": (20.5, "W"),
        "energy_voltage": (230.0, "V"),
        "switch1": (1.0, None),
        "switch2": (0.0, None),
    }
    assert {r.ts for r in result.readings} == {RECEIVED_AT}  # no Time: receive time


def test_status10_answer_is_read_like_sensor() -> None:
    payload = b'{"StatusSNS":{"Time":"2024-01-01T12:00:00","SI7021":{"Temperature":20.0}}}'
    result = TasmotaDecoder().decode("stat/bath/STATUS10", payload, RECEIVED_AT)
    assert result.readings == (Reading("bath", "si7021_temperature", 20.0, "°C", NOON_UTC),)


def test_time_is_read_in_device_tz() -> None:
    payload = b'{"Time":"2024-01-01T12:00:00","AM2301":{"Temperature":22.1}}'
    result = TasmotaDecoder(device_tz="Europe/Berlin").decode(
        "tele/kitchen/SENSOR", payload, RECEIVED_AT
    )
    assert result.readings[0].ts == NOON_UTC - 3600


def test_bad_time_falls_back_to_receive_time() -> None:
    payload = b'{"Time":"1970-13-45T99:00:00","AM2301":{"Temperature":22.1}}'
    result = TasmotaDecoder().decode("tele/kitchen/SENSOR", payload, RECEIVED_AT)
    assert result.readings == (Reading("kitchen", "am2301_temperature", 22.1, "°C", RECEIVED_AT),)
    assert result.errors == (DecodeIssue(DecodeError.BAD_TIMESTAMP, "Time", "unreadable time"),)


def test_wrong_type_on_known_key_keeps_the_rest() -> None:
    payload = b'{"AM2301":{"Temperature":"hot","Humidity":41.0},"Custom":{"Mode":"eco"}}'
    result = TasmotaDecoder().decode("tele/kitchen/SENSOR", payload, RECEIVED_AT)
    assert values(result.readings) == {"am2301_humidity": (41.0, "%")}
    assert len(result.errors) == 1
    issue = result.errors[0]
    assert (issue.reason, issue.field) == (DecodeError.WRONG_TYPE, "AM2301.Temperature")
    assert issue.detail == 'expected a number, got string "hot"'


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers(literal: bytes) -> None:
    payload = b'{"AM2301":{"Temperature":' + literal + b',"Humidity":41.0}}'
    result = TasmotaDecoder().decode("tele/kitchen/SENSOR", payload, RECEIVED_AT)
    assert values(result.readings) == {"am2301_humidity": (41.0, "%")}
    assert [(e.reason, e.field) for e in result.errors] == [
        (DecodeError.NOT_FINITE, "AM2301.Temperature")
    ]


@pytest.mark.parametrize(
    "topic",
    [
        "tele/kitchen/STATE",
        "tele/kitchen/LWT",
        "cmnd/kitchen/POWER",
        "stat/kitchen/RESULT",
        "tele/SENSOR",
        "tele//SENSOR",
        "home/tele/kitchen/SENSOR",
    ],
)
def test_unknown_topics(topic: str) -> None:
    result = TasmotaDecoder().decode(topic, b'{"AM2301":{"Temperature":22.1}}', RECEIVED_AT)
    assert result.readings == ()
    assert [e.reason for e in result.errors] == [DecodeError.UNKNOWN_TOPIC]


def test_custom_prefix() -> None:
    decoder = TasmotaDecoder(tele_prefix="telemetry")
    payload = b'{"AM2301":{"Temperature":22.1}}'
    assert decoder.decode("telemetry/k/SENSOR", payload, RECEIVED_AT).readings[0].device == "k"
    assert decoder.decode("tele/k/SENSOR", payload, RECEIVED_AT).errors[0].reason == (
        DecodeError.UNKNOWN_TOPIC
    )
