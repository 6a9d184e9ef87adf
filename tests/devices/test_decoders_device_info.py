"""What devices say about themselves: Tasmota STATUS*/INFO1, Zigbee2MQTT bridge/devices,
Shelly `src` -> `DeviceInfo` (manufacturer, model, versions), table-driven."""

from __future__ import annotations

import json

import pytest

from devices.decoders import InfoSource, info_topics, make_decoder
from devices.decoders._common import INFO_MAX_CHARS
from devices.readings import DecodeError, DeviceInfo
from tests.devices.decoder_cases import RECEIVED_AT

FWR = {"Version": "13.1.0(tasmota)", "BuildDateTime": "2023-08-14T12:00:00", "Boot": 31,
       "Core": "2_7_4_9", "SDK": "2.2.2-dev(38a443e)", "Hardware": "ESP8266EX"}  # fmt: skip
BRIDGE = [
    {"ieee_address": "0x00124b0001", "type": "Coordinator", "friendly_name": "Coordinator",
     "definition": None},
    {"ieee_address": "0x00158d0001", "type": "EndDevice", "friendly_name": "kitchen",
     "manufacturer": "LUMI", "model_id": "lumi.weather", "software_build_id": "3000-0001",
     "definition": {"model": "WSDCGQ11LM", "vendor": "Aqara", "description": "T/H sensor"}},
    {"ieee_address": "0x00158d0002", "type": "EndDevice", "friendly_name": "garden/soil",
     "manufacturer": "_TZE200_myd45weu", "model_id": "TS0601", "definition": None},
    {"friendly_name": 7}, "not an object",
]  # fmt: skip
TASMOTA = "Tasmota"


def tasmota(device: str, **fields: str | None) -> DeviceInfo:
    return DeviceInfo(device, TASMOTA, **fields)


# (decoder, topic, payload, the infos it gives)
CASES: list[tuple[str, str, object, tuple[DeviceInfo, ...]]] = [
    ("tasmota", "stat/plug/STATUS2", {"StatusFWR": FWR},
     (tasmota("plug", sw_version="13.1.0(tasmota)", hw_version="ESP8266EX"),)),
    ("tasmota", "tele/plug/INFO1",
     {"Info1": {"Module": "Sonoff Basic", "Version": "13.1.0(tasmota)",
                "FallbackTopic": "cmnd/DVES_1A2B3C_fb/"}},
     (tasmota("plug", model="Sonoff Basic", sw_version="13.1.0(tasmota)"),)),
    ("tasmota", "tele/old/INFO1", {"Module": "Sonoff Pow", "Version": "8.1.0(tasmota)"},
     (tasmota("old", model="Sonoff Pow", sw_version="8.1.0(tasmota)"),)),
    # A module number is not a name: only what is text is taken.
    ("tasmota", "stat/plug/STATUS", {"Status": {"Module": 1, "DeviceName": "Plug"}}, ()),
    ("tasmota", "stat/plug/STATUS", {"Status": {"Module": "Generic"}},
     (tasmota("plug", model="Generic"),)),
    ("tasmota", "stat/plug/STATUS0", {"Status": {"Module": 0}, "StatusFWR": FWR},
     (tasmota("plug", sw_version="13.1.0(tasmota)", hw_version="ESP8266EX"),)),
    ("tasmota", "stat/plug/STATUS2", {"StatusFWR": {"Version": ["13"], "Hardware": None}}, ()),
    ("zigbee2mqtt", "zigbee2mqtt/bridge/devices", BRIDGE,
     (DeviceInfo("kitchen", "Aqara", "WSDCGQ11LM", "3000-0001"),
      DeviceInfo("garden/soil", "_TZE200_myd45weu", "TS0601"))),
    ("shelly", "shellyplus1pm-08b61fcb7f3c/events/rpc",
     {"src": "shellyplus1pm-08b61fcb7f3c", "method": "NotifyStatus",
      "params": {"switch:0": {"id": 0, "output": True}}},
     (DeviceInfo("shellyplus1pm-08b61fcb7f3c", "Shelly", "shellyplus1pm"),)),
    # A custom topic prefix names the device; src still names the model.
    ("shelly", "garage-door/events/rpc",
     {"src": "shelly1pmminig3-543204a1b2c3", "method": "NotifyStatus",
      "params": {"switch:0": {"output": False}}},
     (DeviceInfo("garage-door", "Shelly", "shelly1pmminig3"),)),
    ("shelly", "garage-door/events/rpc",
     {"src": "my-own-id", "method": "NotifyStatus", "params": {"switch:0": {"output": False}}},
     ()),
    ("shelly", "garage-door/events/rpc",
     {"src": 12, "method": "NotifyStatus", "params": {"switch:0": {"output": False}}}, ()),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "topic", "payload", "infos"), CASES)
def test_device_info(kind: str, topic: str, payload: object, infos: tuple[DeviceInfo, ...]) -> None:
    result = make_decoder(kind).decode(topic, json.dumps(payload).encode(), RECEIVED_AT)
    assert result.infos == infos
    # An info message without info is counted like any message without readings.
    if not infos and not result.readings:
        assert [e.reason for e in result.errors] == [DecodeError.NO_READINGS]


def test_tasmota_info_messages_give_no_readings_but_status0_gives_its_sensors() -> None:
    decoder = make_decoder("tasmota")
    fwr = decoder.decode("stat/plug/STATUS2", json.dumps({"StatusFWR": FWR}).encode(), 0.0)
    assert (fwr.readings, fwr.errors) == ((), ())  # Boot, CpuFrequency are no readings
    doc = {"StatusFWR": FWR, "StatusSNS": {"Time": "2024-01-01T12:00:00",
                                           "AM2301": {"Temperature": 21.5}}}  # fmt: skip
    full = decoder.decode("stat/plug/STATUS0", json.dumps(doc).encode(), 0.0)
    assert [(r.metric, r.value, r.unit) for r in full.readings] == [
        ("am2301_temperature", 21.5, "°C")
    ]
    assert [i.sw_version for i in full.infos] == ["13.1.0(tasmota)"]


@pytest.mark.parametrize(
    ("kind", "options", "topic", "expected"),
    [
        ("tasmota", {}, "tele/plug/SENSOR",
         ("stat/plug/STATUS", "stat/plug/STATUS0", "stat/plug/STATUS2", "tele/plug/INFO1")),
        ("tasmota", {"stat_prefix": "st"}, "tele/+/SENSOR",
         ("st/+/STATUS", "st/+/STATUS0", "st/+/STATUS2", "tele/+/INFO1")),
        ("tasmota", {}, "tasmota/#",
         ("stat/+/STATUS", "stat/+/STATUS0", "stat/+/STATUS2", "tele/+/INFO1")),
        ("tasmota", {}, "odd/topic/of/four", ()),
        ("zigbee2mqtt", {"base_topic": "z2m"}, "z2m/+", ("z2m/bridge/devices",)),
        ("shelly", {}, "+/events/rpc", ()),
        ("plain", {"device": "d", "metric": "m"}, "a/b", ()),
    ],
)  # fmt: skip
def test_info_topics(
    kind: str, options: dict[str, object], topic: str, expected: tuple[str, ...]
) -> None:
    decoder = make_decoder(kind, **options)
    assert info_topics(decoder, topic) == expected
    assert isinstance(decoder, InfoSource) == (kind in {"tasmota", "zigbee2mqtt"})


def test_bridge_devices_bad_shapes_and_size() -> None:
    decoder = make_decoder("zigbee2mqtt", max_bytes=64)
    topic = "zigbee2mqtt/bridge/devices"
    wrong = decoder.decode(topic, b'{"temperature": 20}', 0.0)
    assert [e.reason for e in wrong.errors] == [DecodeError.WRONG_TYPE]
    bad = decoder.decode(topic, b"[{", 0.0)
    assert [e.reason for e in bad.errors] == [DecodeError.BAD_JSON]
    # The device list is larger than a state message: max_bytes does not cut it off.
    entry = {"friendly_name": "x", "definition": {"model": "M", "vendor": "V"}}
    big = json.dumps([entry, *({"friendly_name": f"d{i}"} for i in range(100))]).encode()
    assert len(big) > 64
    assert decoder.decode(topic, big, 0.0).infos == (DeviceInfo("x", "V", "M"),)
    # Other bridge topics stay unknown.
    state = decoder.decode("zigbee2mqtt/bridge/state", b'{"state":"online"}', 0.0)
    assert [e.reason for e in state.errors] == [DecodeError.UNKNOWN_TOPIC]


def test_info_text_is_printable_and_cut() -> None:
    long = "M" * (INFO_MAX_CHARS + 20)
    payload = {"StatusFWR": {"Version": "13.1\x00.0\n", "Hardware": long}}
    (info,) = (
        make_decoder("tasmota").decode("stat/p/STATUS2", json.dumps(payload).encode(), 0).infos
    )
    assert info.sw_version == "13.1.0"
    assert info.hw_version == "M" * INFO_MAX_CHARS
