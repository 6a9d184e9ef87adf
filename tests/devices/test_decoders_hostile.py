"""Hostile payloads through every sensor decoder: readings or a counted reason, never neither.

Table-driven: each decoder's templates put a hostile JSON value where the decoder expects
a number (nested objects and arrays, NaN/Infinity literals, 1e400, 400-digit integers,
"hot", null, deep nesting, NUL). Every result must hold a reading or an issue, every
reading a finite value; then the cases the issue names check their exact reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from devices.decoders import make_decoder
from devices.readings import DecodeError, DecodeResult
from tests.devices.decoder_cases import RECEIVED_AT

HT = "shellyplusht-08b61fcb7f3c"

HOSTILE_VALUES = {
    "object": '{"a": 1}',
    "empty_object": "{}",
    "array": "[1, 2]",
    "nested_array": "[[1], {}]",
    "empty_array": "[]",
    "hot": '"hot"',
    "nan_text": '"NaN"',
    "nan": "NaN",
    "inf": "Infinity",
    "minus_inf": "-Infinity",
    "1e400": "1e400",
    "-1e400": "-1e400",
    "1e400_text": '"1e400"',
    "400_digits": "1" + "0" * 400,
    "null": "null",
    "true": "true",
    "empty_text": '""',
    "nul_text": '"\\u0000"',
    "deep": "[" * 200 + "]" * 200,
    "numeric_text": '"21.5"',
}


@dataclass(slots=True, frozen=True)
class Template:
    """A decoder, its options, a topic and a payload with a `{v}` slot."""

    kind: str
    options: tuple[tuple[str, object], ...]
    topic: str
    payload: str

    def decode(self, value: str) -> DecodeResult:
        decoder = make_decoder(self.kind, **dict(self.options))
        payload = self.payload.replace("{v}", value).encode()
        return decoder.decode(self.topic, payload, RECEIVED_AT)


JSON_OPTS = (("fields", {"temperature": "temperature", "deep": "sensors.0.temp"}),)
TEMPLATES = [
    Template("plain", (("device", "d"), ("metric", "m")), "home/d/m", "{v}"),
    Template("json", (*JSON_OPTS, ("device", "esp1")), "esp/esp1/state", '{"temperature": {v}}'),
    Template("json", (*JSON_OPTS, ("device", "esp1")), "esp/esp1/state", '{"sensors": {v}}'),
    Template("json", (*JSON_OPTS, ("device", "e")), "e/e/s", '{"sensors": [{"temp": {v}}]}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"AM2301": {"Temperature": {v}}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"ENERGY": {"Power": [1, {v}]}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"ENERGY": {"Power": {v}}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"Switch1": {v}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"AM2301": {v}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"Foo": {"Bar": {v}}}'),
    Template("tasmota", (), "tele/k/SENSOR", '{"Time": {v}}'),
    Template("zigbee2mqtt", (), "zigbee2mqtt/hall", '{"temperature": {v}}'),
    Template("zigbee2mqtt", (), "zigbee2mqtt/hall", '{"state": {v}}'),
    Template("zigbee2mqtt", (), "zigbee2mqtt/hall", '{"occupancy": {v}}'),
    Template("zigbee2mqtt", (), "zigbee2mqtt/hall", '{"foo": {v}}'),
    Template("zigbee2mqtt", (), "zigbee2mqtt/hall", '{"last_seen": {v}}'),
    Template(
        "shelly",
        (),
        f"{HT}/events/rpc",
        '{"method": "NotifyStatus", "params": {"temperature:0": {"tC": {v}}}}',
    ),
    Template("shelly", (), f"{HT}/events/rpc", '{"params": {"temperature:0": {"tC": {v}}}}'),
    Template(
        "shelly",
        (),
        f"{HT}/events/rpc",
        '{"method": "NotifyStatus", "params": {"devicepower:0": {"battery": {v}}}}',
    ),
    Template(
        "shelly", (), f"{HT}/events/rpc", '{"method": "NotifyStatus", "params": {"switch:0": {v}}}'
    ),
    Template("shelly", (), f"{HT}/events/rpc", '{"method": "NotifyStatus", "params": {v}}'),
    Template("shelly", (), f"{HT}/events/rpc", '{"method": {v}, "params": {}}'),
    Template("shelly", (), f"{HT}/status/temperature:0", '{"tC": {v}}'),
    Template("shelly", (), f"{HT}/status/switch:0", "{v}"),
]


@pytest.mark.parametrize("value", list(HOSTILE_VALUES.values()), ids=list(HOSTILE_VALUES))
@pytest.mark.parametrize(
    "template", TEMPLATES, ids=[f"{t.kind}:{t.payload[:28]}" for t in TEMPLATES]
)
def test_every_payload_gives_readings_or_a_counted_reason(template: Template, value: str) -> None:
    result = template.decode(value)
    assert result.readings or result.errors, (template, value)
    assert all(math.isfinite(r.value) for r in result.readings)
    assert all(isinstance(i.reason, DecodeError) for i in result.errors)


@dataclass(slots=True, frozen=True)
class Expected:
    """One template and value, and the (reason, field) issues it must give exactly."""

    template: Template
    value: str
    issues: tuple[tuple[DecodeError, str | None], ...]


T = {f"{t.kind}:{t.payload}": t for t in TEMPLATES}
SHELLY_NO_METHOD = T['shelly:{"params": {"temperature:0": {"tC": {v}}}}']
SHELLY_TC = T['shelly:{"method": "NotifyStatus", "params": {"temperature:0": {"tC": {v}}}}']
SHELLY_BATTERY = T[
    'shelly:{"method": "NotifyStatus", "params": {"devicepower:0": {"battery": {v}}}}'
]
SHELLY_SWITCH = T['shelly:{"method": "NotifyStatus", "params": {"switch:0": {v}}}']
TASMOTA_TEMP = T['tasmota:{"AM2301": {"Temperature": {v}}}']
TASMOTA_CHANNELS = T['tasmota:{"ENERGY": {"Power": [1, {v}]}}']
TASMOTA_UNKNOWN = T['tasmota:{"Foo": {"Bar": {v}}}']
Z2M_TEMP = T['zigbee2mqtt:{"temperature": {v}}']
Z2M_STATE = T['zigbee2mqtt:{"state": {v}}']
Z2M_UNKNOWN = T['zigbee2mqtt:{"foo": {v}}']

WRONG, FINITE, MISSING, NOTHING = (
    DecodeError.WRONG_TYPE,
    DecodeError.NOT_FINITE,
    DecodeError.MISSING_FIELD,
    DecodeError.NO_READINGS,
)
EXPECTED = [
    # Shelly without `method`: "hot", NaN, 1e400 were silent
    *(Expected(SHELLY_NO_METHOD, v, ((MISSING, "method"),)) for v in ('"hot"', "NaN", "1e400")),
    Expected(SHELLY_TC, '"hot"', ((WRONG, "temperature:0.tC"),)),
    Expected(SHELLY_TC, "NaN", ((FINITE, "temperature:0.tC"),)),
    Expected(SHELLY_TC, "1e400", ((FINITE, "temperature:0.tC"),)),
    Expected(SHELLY_TC, '{"a": 1}', ((WRONG, "temperature:0.tC"),)),
    Expected(SHELLY_BATTERY, "80", ((WRONG, "devicepower:0.battery"),)),
    Expected(SHELLY_SWITCH, "[1, 2]", ((WRONG, "params.switch:0"),)),
    Expected(SHELLY_SWITCH, "{}", ((NOTHING, None),)),
    Expected(TASMOTA_TEMP, '{"a": 1}', ((WRONG, "AM2301.Temperature"),)),
    Expected(TASMOTA_TEMP, "Infinity", ((FINITE, "AM2301.Temperature"),)),
    Expected(TASMOTA_TEMP, '"hot"', ((WRONG, "AM2301.Temperature"),)),
    Expected(TASMOTA_CHANNELS, "[[1], {}]", ((WRONG, "ENERGY.Power.2"),)),
    Expected(TASMOTA_CHANNELS, '{"a": 1}', ((WRONG, "ENERGY.Power.2"),)),
    Expected(TASMOTA_UNKNOWN, '{"a": 1}', ((NOTHING, None),)),
    Expected(TASMOTA_UNKNOWN, '"an id"', ((NOTHING, None),)),
    Expected(T['tasmota:{"Time": {v}}'], "1" + "0" * 400, ((DecodeError.BAD_TIMESTAMP, "Time"),)),
    Expected(Z2M_TEMP, "[1, 2]", ((WRONG, "temperature"),)),
    Expected(Z2M_TEMP, "-1e400", ((FINITE, "temperature"),)),
    Expected(Z2M_STATE, '{"a": 1}', ((WRONG, "state"),)),
    Expected(Z2M_STATE, '"OPEN"', ((NOTHING, None),)),
    Expected(Z2M_UNKNOWN, '{"a": 1}', ((NOTHING, None),)),
]


@pytest.mark.parametrize(
    "case", EXPECTED, ids=[f"{c.template.kind}:{c.value[:10]}:{c.issues[0][1]}" for c in EXPECTED]
)
def test_the_reason_is_the_right_one(case: Expected) -> None:
    result = case.template.decode(case.value)
    assert [(i.reason, i.field) for i in result.errors] == list(case.issues)


def test_good_values_in_the_same_templates_still_read() -> None:
    assert SHELLY_TC.decode("21.5").readings[0].value == 21.5
    assert TASMOTA_CHANNELS.decode("20").readings[1].metric == "energy_power_2"
    assert Z2M_STATE.decode('"ON"').readings[0].value == 1.0
    assert SHELLY_BATTERY.decode('{"percent": 80}').readings[0].value == 80.0
