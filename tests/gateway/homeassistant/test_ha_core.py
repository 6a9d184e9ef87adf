"""Interoperability: the gateway as a real Home Assistant Core 2024.3.3 shows it.

One Home Assistant (its own venv, `tests.support.ha_env`) with the MQTT integration, one
Mosquitto, one gateway fed by simulated devices (Zigbee2MQTT, a JSON probe with metric
names that are Python/Jinja pitfalls, Tasmota without `metrics:`) and a camera. The
test reads `/api/states` and the entity and device registries and checks, in order:

1. every intended entity, with its state, unit, device class and device (one HA device
   per physical Zigbee device, a device id HA does not allow in object ids included);
2. a gateway restart: no entity of the gateway went `unknown`; a payload that changed
   shape between runs (a new Tasmota sensor) adds its entities;
3. a device that goes silent is `unavailable` (liveness), the others stay;
4. a Home Assistant restart: everything comes back from the retained topics;
5. a sensor removed from the config: its entities and device are gone;
6. the gateway stopped: its entities are `unavailable`;
7. Home Assistant's log has no error or warning line about edgegw's topics or entities.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from gateway.mqtt.topics import slug
from gateway.plugins import build_gateway
from tests.support.ha_env import (
    HA_VERSION,
    HomeAssistant,
    HomeAssistantEnvError,
    ensure_ha_python,
)
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, running
from tests.support.required import unavailable

GW = "hatest"
NODE = f"edgegw_{GW}"
HALL = "Hall Ü/sensor 1"  # a Zigbee2MQTT friendly name with `/`, a space and a non-ASCII letter
TAS = "tasmota_ab12"

DIAGNOSTIC = {"entity_category": "diagnostic"}
SENSORS: list[dict[str, Any]] = [
    {
        "id": "zb",
        "topic": "zigbee2mqtt/#",
        "decoder": "zigbee2mqtt",
        "window_s": 1,
        "expected_interval_s": 2.5,
        "metrics": {
            "temperature": {"device_class": "temperature", "display_precision": 1},
            "humidity": {"unit": "%", "device_class": "humidity"},
            "battery": {
                "statistic": "last",
                "device_class": "battery",
                "entity_category": "diagnostic",
            },
            "occupancy": {},
            "contact": {},
        },
        "rules": [{"id": "too_hot", "type": "threshold", "metric": "temperature", "above": 35}],
    },
    {
        "id": "lab",
        "topic": "lab/probe",
        "decoder": "json",
        "decoder_options": {"device": "probe", "fields": {"items": "items", "1wire_temp": "w"}},
        "window_s": 1,
        "metrics": {
            "items": {"statistic": "last"},
            "1wire_temp": {"unit": "°C", "device_class": "temperature"},
        },
    },
    {"id": "tas", "topic": "tele/+/SENSOR", "decoder": "tasmota", "window_s": 1},
]

States = dict[str, dict[str, Any]]


def kitchen(n: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"temperature": 21.5, "battery": 97, "occupancy": True,
                           "contact": False, "linkquality": 120}  # fmt: skip
    if n % 2 == 0:
        doc["humidity"] = 50.0  # a metric that comes and goes
    return doc


def tasmota(pressure: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "Time": "2024-01-01T12:00:00",
        "AM2301": {"Temperature": 22.1, "Humidity": 41.0},
        "TempUnit": "C",
    }
    if pressure:
        doc["BMP280"] = {"Pressure": 1013.2}
        doc["PressureUnit"] = "hPa"
    return doc


class Feeder:
    """The simulated devices: publish every 0.3 s until stopped; the hall can go silent."""

    def __init__(self, broker: Mosquitto) -> None:
        self.broker = broker
        self.hall = True
        self.pressure = False
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with client(self.broker) as c:
            n = 0
            while True:
                n += 1
                await c.publish("zigbee2mqtt/kitchen", json.dumps(kitchen(n)))
                if self.hall:
                    hall = {"temperature": 30.0, "humidity": 60.0, "battery": 80}
                    await c.publish(f"zigbee2mqtt/{HALL}", json.dumps(hall))
                await c.publish("lab/probe", json.dumps({"items": 3, "w": 19.25}))
                await c.publish(f"tele/{TAS}/SENSOR", json.dumps(tasmota(self.pressure)))
                if n % 5 == 0:
                    await c.publish("zigbee2mqtt/kitchen", b'{"temperature": "hot"}')  # bad
                await asyncio.sleep(0.3)  # the devices' own reporting interval

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def config(broker: Mosquitto, *, without: str | None = None) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {"id": GW, "name": "HA test gateway"},
            "mqtt": {"host": "127.0.0.1", "port": broker.port,
                     "reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.5}},
            "sensors": [s for s in SENSORS if s["id"] != without],
            "cameras": [{"id": "door", "source": "mqtt:cam/door"}],
            "stats": {"interval_s": 1},
        }
    )  # fmt: skip


# unique id -> (domain, state, unit, device class, device name)
Expected = dict[str, tuple[str, str, str | None, str | None, str]]


def expected(*, pressure: bool = False, lab: bool = True) -> Expected:
    hall = slug(HALL)
    out: Expected = {
        f"{NODE}_zb_kitchen_temperature": ("sensor", "21.5", "°C", "temperature", "kitchen"),
        f"{NODE}_zb_kitchen_humidity": ("sensor", "50.0", "%", "humidity", "kitchen"),
        f"{NODE}_zb_kitchen_battery": ("sensor", "97.0", "%", "battery", "kitchen"),
        f"{NODE}_zb_kitchen_occupancy": ("binary_sensor", "on", None, "occupancy", "kitchen"),
        f"{NODE}_zb_kitchen_contact": ("binary_sensor", "on", None, "door", "kitchen"),
        f"{NODE}_zb_{hall}_temperature": ("sensor", "30.0", "°C", "temperature", HALL),
        f"{NODE}_zb_{hall}_humidity": ("sensor", "60.0", "%", "humidity", HALL),
        f"{NODE}_zb_rule_too_hot": ("binary_sensor", "off", None, "problem", "zb"),
        f"{NODE}_tas_{TAS}_am2301_temperature": ("sensor", "22.1", "°C", "temperature", TAS),
        f"{NODE}_tas_{TAS}_am2301_humidity": ("sensor", "41.0", "%", "humidity", TAS),
        f"{NODE}_status": ("binary_sensor", "on", None, "connectivity", "HA test gateway"),
    }
    if lab:
        out[f"{NODE}_lab_items"] = ("sensor", "3.0", None, None, "lab")
        out[f"{NODE}_lab_1wire_temp"] = ("sensor", "19.25", "°C", "temperature", "lab")
    if pressure:
        out[f"{NODE}_tas_{TAS}_bmp280_pressure"] = ("sensor", "1013.2", "hPa", "pressure", TAS)
    return out


OTHER_ENTITIES = (  # announced, checked for existence (no frames or commands in this test)
    f"{NODE}_camera_door_snapshot", f"{NODE}_camera_door_detect",
    f"{NODE}_camera_door_snapshot_now", f"{NODE}_camera_door_motion_occupancy",
    f"{NODE}_camera_door_motion_count", f"{NODE}_readings_in", f"{NODE}_uptime",
    f"{NODE}_reload",
)  # fmt: skip


@pytest.fixture(scope="module")
def ha_python(data_dir: Path) -> Path:
    """Home Assistant's own venv (built on first use: see `tests.support.ha_env`)."""
    try:
        return ensure_ha_python(data_dir)
    except HomeAssistantEnvError as exc:
        unavailable(f"Home Assistant Core {HA_VERSION} (PyPI)", exc)


@contextlib.asynccontextmanager
async def home_assistant(
    python: Path, workdir: Path, broker: Mosquitto
) -> AsyncIterator[HomeAssistant]:
    ha = HomeAssistant(python, workdir / "ha", free_port())
    await asyncio.to_thread(ha.start)
    try:
        await ha.onboard()
        await ha.add_mqtt("127.0.0.1", broker.port)
        yield ha
    finally:
        await asyncio.to_thread(ha.stop)


async def until(check: Callable[[], Awaitable[str | None]], *, timeout_s: float = 30.0) -> None:
    """Poll `check` (HA has no event for "the registry now holds X") until it returns None."""
    deadline = time.monotonic() + timeout_s
    while (problem := await check()) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout_s}s: {problem}")
        await asyncio.sleep(0.25)


def matches(ha_states: States, ids: dict[str, str], want: Expected) -> str | None:
    """None if every expected entity has its state, unit and class; else the first miss."""
    for uid, (domain, state, unit, device_class, _) in want.items():
        entity_id = ids.get(uid)
        if entity_id is None:
            return f"{uid}: not in the entity registry"
        if not entity_id.startswith(domain + "."):
            return f"{uid}: {entity_id} is not a {domain}"
        row = ha_states.get(entity_id)
        if row is None:
            return f"{uid}: no state"
        attrs = row["attributes"]
        got = (row["state"], attrs.get("unit_of_measurement"), attrs.get("device_class"))
        if domain == "sensor" and row["state"] not in ("unknown", "unavailable"):
            got = (str(float(row["state"])), *got[1:])
        if got != (state, unit, device_class):
            return f"{uid} ({entity_id}): {got} != {(state, unit, device_class)}"
    return None


async def check_states(ha: HomeAssistant, want: Expected) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        regs = await ha.registries()
        ids = {e["unique_id"]: e["entity_id"] for e in regs.entities if e["platform"] == "mqtt"}
        return matches(await ha.states(), ids, want)

    return check


async def test_home_assistant_core_sees_the_gateway_as_its_users_do(
    tmp_path: Path, ha_python: Path, model_paths: dict[str, Path]
) -> None:
    """`model_paths`: the camera blurs faces on what leaves (the face model is fetched)."""
    (tmp_path / "mosquitto").mkdir()
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    feeder = Feeder(broker)
    started = time.monotonic()
    try:
        async with home_assistant(ha_python, tmp_path, broker) as ha:
            feeder.start()
            # 1. every intended entity, state, unit, class and device
            async with running(build_gateway(config(broker))):
                await until(await check_states(ha, expected()))
                regs = await ha.registries()
                for uid, (*_, device_name) in expected().items():
                    device = regs.device_of(uid)
                    assert device is not None, uid
                    assert (device["name_by_user"] or device["name"]) == device_name, uid
                for uid in OTHER_ENTITIES:
                    assert regs.entity(uid) is not None, uid
                kitchen_dev = regs.device_of(f"{NODE}_zb_kitchen_temperature")
                assert kitchen_dev is not None
                gateway_dev = regs.device_of(f"{NODE}_status")
                assert gateway_dev is not None
                assert kitchen_dev["via_device_id"] == gateway_dev["id"]
                battery = regs.entity(f"{NODE}_zb_kitchen_battery")
                assert battery is not None
                assert battery["entity_category"] == "diagnostic"
                readings = regs.entity(f"{NODE}_readings_in")
                assert readings is not None
                stats = (await ha.states())[readings["entity_id"]]
                assert stats["attributes"]["state_class"] == "total_increasing"
                assert float(stats["state"]) > 0
                now = await ha.states()
                ours = {  # every entity of the gateway that has a value (buttons never do)
                    e["entity_id"] for e in regs.entities
                    if e["unique_id"].startswith(NODE)
                    and now[e["entity_id"]]["state"] not in ("unknown", "unavailable")
                }  # fmt: skip

            # 2. gateway restart (the Tasmota payload gains a sensor): nothing went unknown
            async with ha.watching() as changes:
                feeder.pressure = True
                async with running(build_gateway(config(broker))):
                    await until(await check_states(ha, expected(pressure=True)))
                    unknown = [
                        c["entity_id"] for c in changes
                        if c["entity_id"] in ours and c.get("new_state")
                        and c["new_state"]["state"] == "unknown"
                    ]  # fmt: skip
                    assert unknown == []
                    assert any(c["entity_id"] in ours for c in changes)  # it did watch

                    # 3. the hall goes silent: its entities are unavailable, the kitchen's not
                    feeder.hall = False
                    gone = expected(pressure=True)
                    for uid, (domain, _, unit, cls, name) in list(gone.items()):
                        if name == HALL:
                            gone[uid] = (domain, "unavailable", unit, cls, name)
                    await until(await check_states(ha, gone))
                    feeder.hall = True
                    await until(await check_states(ha, expected(pressure=True)))

                    # 4. Home Assistant restarts: everything comes back
                    await asyncio.to_thread(ha.stop)
                    await asyncio.to_thread(ha.start)
                    await until(await check_states(ha, expected(pressure=True)), timeout_s=60)

            # 5. the lab sensor is removed: its entities and its device are gone
            async with running(build_gateway(config(broker, without="lab"))):
                await until(await check_states(ha, expected(pressure=True, lab=False)))

                async def lab_gone() -> str | None:
                    regs = await ha.registries()
                    left = [e["unique_id"] for e in regs.entities
                            if e["unique_id"].startswith(f"{NODE}_lab_")]  # fmt: skip
                    if left:
                        return f"still in the registry: {left}"
                    if any(d["name"] == "lab" for d in regs.devices):
                        return "device lab still in the registry"
                    return None

                await until(lab_gone)

            # 6. the gateway stopped: unavailable
            down = {
                uid: (domain, "off" if uid == f"{NODE}_status" else "unavailable", unit, cls, n)
                for uid, (domain, _, unit, cls, n) in expected(pressure=True, lab=False).items()
            }
            await until(await check_states(ha, down))

        # 7. no error or warning line about edgegw in Home Assistant's log
        bad = [
            line for line in ha.log_lines()
            if (" ERROR " in line or " WARNING " in line)
            and any(word in line for word in ("edgegw", NODE, "zigbee2mqtt", "tele/"))
        ]  # fmt: skip
        assert bad == []
    finally:
        await feeder.stop()
        broker.stop()
        print(f"home assistant interop: {time.monotonic() - started:.1f} s")
