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
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version", "via_device"}


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
