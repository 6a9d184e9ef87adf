"""Home Assistant discovery on a real Mosquitto: payload shape, birth re-send, removal."""

from __future__ import annotations

import json
import re
from typing import Any

import aiomqtt

from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running

SENSOR: dict[str, Any] = {
    "id": "garage",
    "name": "Garage",
    "topic": "unused/garage",
    "decoder": "zigbee2mqtt",
    "decoder_options": {"base_topic": "unused"},
    "metrics": {
        "temperature": {"unit": "°C", "device_class": "temperature", "deadband": 0.2},
        "battery": {"statistic": "last", "unit": "%", "device_class": "battery"},
    },
    "rules": [{"id": "too_hot", "type": "threshold", "metric": "temperature", "above": 35}],
}
# HA's documented keys for MQTT sensor / binary_sensor discovery that we use.
ENTITY_KEYS = {
    "name", "unique_id", "state_topic", "value_template", "availability", "device", "origin",
    "device_class", "unit_of_measurement", "state_class", "entity_category", "payload_on",
    "payload_off", "json_attributes_topic", "json_attributes_template",
    # controls (switch, button): the commands they send and the state they show
    "command_topic", "payload_press", "state_on", "state_off", "icon",
    "availability_mode", "suggested_display_precision",
}  # fmt: skip
DEVICE_KEYS = {
    "identifiers", "name", "manufacturer", "model", "sw_version", "hw_version", "via_device",
}  # fmt: skip


async def collect(c: aiomqtt.Client, n: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    while len(out) < n:
        message = await next_message(c)
        assert isinstance(message.payload, bytes)
        if message.payload:
            out[message.topic.value] = json.loads(message.payload)
    return out


def looked_up(template: str) -> list[tuple[str, str]]:
    """The `value_json.<section>['<key>']` a template reads (HA renders it: see test_ha_real)."""
    return sorted(set(re.findall(r"value_json\.(\w+)\['(\w+)'\]", template)))


async def test_discovery_configs_follow_the_schema_and_resend_on_birth(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    ha = f"ha_{gateway_id}"
    node = f"edgegw_{gateway_id}"
    cfg = make_config(
        mosquitto,
        sensors=[SENSOR],
        homeassistant={"discovery_prefix": ha},
        gateway={"id": gateway_id, "name": "Test gateway"},
    )
    status = f"{cfg.topic_prefix}/status"
    async with running(build_gateway(cfg)), client(mosquitto) as c:
        await c.subscribe(f"{ha}/+/{node}/+/config", qos=1)
        # gateway status + 5 stats + reload button + 2 metrics + 1 rule
        configs = await collect(c, 10)
        assert all(t.startswith(f"{ha}/") and t.endswith("/config") for t in configs)
        for topic, doc in configs.items():
            assert set(doc) <= ENTITY_KEYS, topic
            assert set(doc["device"]) <= DEVICE_KEYS
            assert doc["origin"]["name"] == "edgegw"
            assert doc["unique_id"].startswith(node)
            if "availability" in doc:
                assert doc["availability"] == [
                    {"topic": status, "payload_available": "online",
                     "payload_not_available": "offline"}
                ]  # fmt: skip
        temp = configs[f"{ha}/sensor/{node}/garage-temperature/config"]
        assert temp["device_class"] == "temperature"
        assert temp["unit_of_measurement"] == "°C"
        assert temp["state_class"] == "measurement"
        assert temp["state_topic"] == f"{cfg.topic_prefix}/sensors/garage/state"
        assert temp["device"] == {
            "identifiers": [f"{node}_garage"], "name": "Garage", "via_device": node,
        }  # fmt: skip
        rule = configs[f"{ha}/binary_sensor/{node}/garage-too_hot/config"]
        assert (rule["payload_on"], rule["payload_off"], rule["device_class"]) == (
            "alert", "ok", "problem",
        )  # fmt: skip
        reload = configs[f"{ha}/button/{node}/reload/config"]
        assert reload["command_topic"] == f"{cfg.topic_prefix}/cmd/reload"
        gw_status = configs[f"{ha}/binary_sensor/{node}/status/config"]
        assert gw_status["state_topic"] == status
        assert gw_status["device"]["name"] == "Test gateway"
        # The templates read the keys of the state the pipeline publishes, in quotes.
        assert looked_up(temp["value_template"]) == [("metrics", "temperature")]
        assert looked_up(rule["value_template"]) == [("rules", "too_hot")]
        # Home Assistant restarted: its birth message brings every config again.
        async with client(mosquitto) as ha_client:
            await ha_client.publish(f"{ha}/status", b"online", qos=1)
        again = await collect(c, 10)
        assert again == configs


async def test_entities_of_removed_sensors_are_deleted(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    ha = f"ha_{gateway_id}"
    node = f"edgegw_{gateway_id}"
    stale = f"{ha}/sensor/{node}/old_sensor-temperature/config"
    async with client(mosquitto) as c:
        await c.publish(stale, b'{"name": "old"}', qos=1, retain=True)
    cfg = make_config(mosquitto, sensors=[SENSOR], homeassistant={"discovery_prefix": ha})
    async with client(mosquitto) as c:
        await c.subscribe(stale, qos=1)
        first = await next_message(c)
        assert first.retain
        assert first.payload == b'{"name": "old"}'
        async with running(build_gateway(cfg)):
            deleted = await next_message(c)
            assert deleted.payload == b""
    async with client(mosquitto) as c:
        # Nothing retained any more: subscribe, then check only our probe arrives.
        await c.subscribe(stale, qos=1)
        await c.publish(stale, b"probe", qos=1)
        assert (await next_message(c)).payload == b"probe"
        await c.publish(stale, b"", qos=1, retain=True)


async def test_devices_carry_manufacturer_and_model_from_their_payloads(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    """Zigbee2MQTT's retained bridge/devices (before the device reports) and a Tasmota's
    STATUS2 (after it reported) end up in the HA `device` blocks, and a change is re-sent."""
    ha, node, base, plug = (
        f"ha_{gateway_id}",
        f"edgegw_{gateway_id}",
        f"z2m_{gateway_id}",
        (f"plug_{gateway_id}"),
    )
    bridge = [
        {"friendly_name": "Coordinator", "type": "Coordinator", "definition": None},
        {"friendly_name": "kitchen", "manufacturer": "LUMI", "model_id": "lumi.weather",
         "definition": {"model": "WSDCGQ11LM", "vendor": "Aqara"}},
    ]  # fmt: skip
    sensors = [
        {"id": "zb", "topic": f"{base}/+", "decoder": "zigbee2mqtt",
         "decoder_options": {"base_topic": base}},
        {"id": "plug", "topic": f"tele/{plug}/SENSOR", "decoder": "tasmota",
         "metrics": {"am2301_temperature": {"unit": "°C", "device_class": "temperature"}}},
    ]  # fmt: skip
    cfg = make_config(mosquitto, sensors=sensors, homeassistant={"discovery_prefix": ha})
    kitchen = f"{ha}/sensor/{node}/zb-kitchen-temperature/config"
    plug_temp = f"{ha}/sensor/{node}/plug-am2301_temperature/config"

    async def until(c: aiomqtt.Client, topic: str, done: Any) -> list[tuple[str, Any]]:
        """Every config (topic, device block) until one of `topic` for which `done` holds."""
        seen: list[tuple[str, Any]] = []
        while not seen or seen[-1][0] != topic or not done(seen[-1][1]):
            message = await next_message(c)
            if isinstance(message.payload, bytes) and message.payload:
                seen.append((message.topic.value, json.loads(message.payload)["device"]))
        return seen

    async with client(mosquitto) as c:
        await c.publish(f"{base}/bridge/devices", json.dumps(bridge), qos=1, retain=True)
        await c.subscribe(f"{ha}/+/{node}/+/config", qos=1)
        try:
            async with running(build_gateway(cfg)):
                await c.publish(f"{base}/kitchen", b'{"temperature": 21.5}', qos=1)
                # The bridge's list came first: the kitchen's entity never lacks its model.
                (_, first) = (await until(c, kitchen, lambda d: True))[-1]
                assert set(first) <= DEVICE_KEYS
                assert (first["manufacturer"], first["model"]) == ("Aqara", "WSDCGQ11LM")
                assert first["name"] == "kitchen"
                # The Tasmota reported before saying what it is: its configs are sent again.
                reading = b'{"AM2301": {"Temperature": 21.0}}'
                await c.publish(f"tele/{plug}/SENSOR", reading, qos=1)
                fwr = {"StatusFWR": {"Version": "13.1.0(tasmota)", "Hardware": "ESP8266EX"}}
                await c.publish(f"stat/{plug}/STATUS2", json.dumps(fwr), qos=1)
                device = (await until(c, plug_temp, lambda d: "sw_version" in d))[-1][1]
                assert set(device) <= DEVICE_KEYS
                assert (device["manufacturer"], device["sw_version"], device["hw_version"]) == (
                    "Tasmota", "13.1.0(tasmota)", "ESP8266EX",
                )  # fmt: skip
                assert device["identifiers"] == [f"{node}_plug"]
                # An upgrade changes the version: sent again, once (the same STATUS2 twice).
                fwr["StatusFWR"]["Version"] = "14.0.0(tasmota)"
                await c.publish(f"stat/{plug}/STATUS2", json.dumps(fwr), qos=1)
                await c.publish(f"stat/{plug}/STATUS2", json.dumps(fwr), qos=1)
                upgraded = await until(c, plug_temp, lambda d: d["sw_version"] == "14.0.0(tasmota)")
                assert [t for t, _ in upgraded].count(plug_temp) == 1
                # HA's birth message brings every config (the plug's first), with what is known.
                await c.publish(f"{ha}/status", b"online", qos=1)
                resent = await until(c, kitchen, lambda d: True)
                assert [t for t, _ in resent].count(plug_temp) == 1  # not for the repeat
                again = dict(resent)
                assert again[kitchen]["model"] == "WSDCGQ11LM"
                assert again[plug_temp]["sw_version"] == "14.0.0(tasmota)"
        finally:
            await c.publish(f"{base}/bridge/devices", b"", qos=1, retain=True)
