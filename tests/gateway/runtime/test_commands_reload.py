"""Commands over MQTT and config reload, on a real Mosquitto, with bad input.

Each test runs a gateway in this loop and talks to it like an operator would: a JSON
request on `<prefix>/cmd/<name>`, the answer on `.../result` (or an MQTT 5 response
topic with correlation data).
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.config import load_config
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.gateway.core.test_runtime import GatewayProcess
from tests.gateway.vision.camera.test_vp_homeassistant import frame
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually


def sensor(sid: str, gateway_id: str, *, above: float = 30.0) -> dict[str, Any]:
    return {
        "id": sid,
        "topic": f"dev/{gateway_id}/{sid}",
        "decoder": "json",
        "decoder_options": {"device": sid},
        "metrics": {"temperature": {"unit": "°C"}},
        "window_s": 60,
        "rules": [{"id": "hot", "type": "threshold", "metric": "temperature", "above": above}],
    }


def config_doc(broker: Mosquitto, gateway_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "gateway": {"id": gateway_id},
        "mqtt": {
            "host": "127.0.0.1",
            "port": broker.port,
            "reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.5},
        },
        "homeassistant": {"discovery_prefix": f"ha_{gateway_id}"},
        **extra,
    }


def write(path: Path, doc: dict[str, Any]) -> str:
    text = yaml.safe_dump(doc, sort_keys=False)
    path.write_text(text)
    return text


class Operator:
    """A client that sends commands and reads their answers."""

    def __init__(self, c: aiomqtt.Client, prefix: str) -> None:
        self.c = c
        self.prefix = prefix

    async def ask(
        self, name: str, payload: bytes | dict[str, Any] = b"", *, timeout_s: float = 10
    ) -> dict[str, Any]:
        body = json.dumps(payload).encode() if isinstance(payload, dict) else payload
        await self.c.publish(f"{self.prefix}/cmd/{name}", body, qos=1)
        while True:
            message = await next_message(self.c, timeout_s=timeout_s)
            if message.topic.value == f"{self.prefix}/cmd/{name}/result":
                answer: dict[str, Any] = json.loads(message.payload)
                return answer


async def operator(c: aiomqtt.Client, prefix: str) -> Operator:
    await c.subscribe(f"{prefix}/cmd/#", qos=1)
    return Operator(c, prefix)


def count(gw: Gateway, name: str, key: str) -> float:
    value = gw.stats.snapshot().get(name, {})
    assert isinstance(value, dict)
    return value.get(key, 0.0)


async def test_reload_restarts_only_the_changed_sensor_and_loses_no_reading(
    mosquitto: Mosquitto, gateway_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    sensors = [sensor(f"s{i}", gateway_id) for i in range(5)]
    camera = {"id": "door", "source": f"mqtt:cam/{gateway_id}/door"}
    doc = config_doc(mosquitto, gateway_id, sensors=sensors, cameras=[camera])
    write(path, doc)
    gw = build_gateway(load_config(path), config_path=path)
    prefix = f"edgegw/{gateway_id}"
    async with running(gw), client(mosquitto) as c:
        op = await operator(c, prefix)
        cameras = gw.supervisor.names if gw.supervisor else []
        assert "camera:door" in cameras
        sent = 0

        async def feed(n: int) -> None:
            nonlocal sent
            for _ in range(n):
                await c.publish(f"dev/{gateway_id}/s3", b'{"temperature": 20}', qos=1)
                sent += 1

        await feed(50)
        # s1's rule changes; a reading stream to s3 runs while the reload happens.
        doc["sensors"][1]["rules"][0]["above"] = 25.0
        text = write(path, doc)
        stream = asyncio.create_task(feed(200))
        answer = await op.ask("reload", {"id": "r1"})
        await stream
        assert answer["ok"] is True, answer
        assert answer["id"] == "r1"
        assert answer["applied"]["restarted"] == ["sensor:s1"]
        assert answer["applied"]["started"] == []
        assert answer["applied"]["stopped"] == []
        assert answer["duration_ms"] < 1000
        await eventually(lambda: count(gw, "sensor_readings_total", "s3") == sent)
        # The reloaded rule is the new one: 27 alerts now, and only on s1.
        await c.subscribe(f"{prefix}/events/sensor.alert/#", qos=1)
        await c.publish(f"dev/{gateway_id}/s1", b'{"temperature": 27}', qos=1)
        alert = await next_message(c)
        assert alert.topic.value == f"{prefix}/events/sensor.alert/s1"
        # The same config again changes nothing; the payload form works too.
        again = await op.ask("reload", {"config": text})
        assert again["ok"] is True
        assert again["changed"] is False
        assert again["source"] == "payload"


async def test_invalid_reload_lists_every_issue_and_keeps_the_old_config(
    mosquitto: Mosquitto, gateway_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    doc = config_doc(mosquitto, gateway_id, sensors=[sensor("s0", gateway_id)])
    write(path, doc)
    gw = build_gateway(load_config(path), config_path=path)
    prefix = f"edgegw/{gateway_id}"
    async with running(gw), client(mosquitto) as c:
        op = await operator(c, prefix)
        bad = dict(doc, stats={"interval_s": "often", "colour": "red"})
        write(path, bad)
        answer = await op.ask("reload")
        assert answer["ok"] is False
        assert answer["error"] == "invalid config: nothing was changed"
        issues = answer["issues"]
        assert len(issues) == 2
        assert all(i.startswith(f"{path}:") for i in issues), issues
        assert any("stats.interval_s" in i for i in issues)
        assert any("stats.colour" in i for i in issues)
        # The broker session is kept: changing mqtt is refused, saying why.
        moved = dict(doc, mqtt=dict(doc["mqtt"], keepalive_s=45))
        write(path, moved)
        refused = await op.ask("reload")
        assert refused["ok"] is False
        assert "mqtt.keepalive_s" in refused["issues"][0]
        assert "restart" in refused["issues"][0]
        # A pushed config that is not text, an unknown argument: clear errors.
        assert "string" in (await op.ask("reload", {"config": 5}))["error"]
        assert "unknown argument" in (await op.ask("reload", {"force": True}))["error"]
        # Still running the old config: s0 alerts above 30.
        await c.subscribe(f"{prefix}/events/sensor.alert/#", qos=1)
        await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 31}', qos=1)
        alert = await next_message(c)
        assert json.loads(alert.payload)["data"]["rule"] == "hot"
        assert count(gw, "reloads_total", "refused") == 2
        assert count(gw, "component_restarts_total", "sensors") == 0


async def test_bad_commands_get_clear_answers_and_a_flood_is_refused(
    mosquitto: Mosquitto, gateway_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    camera = {"id": "door", "source": f"mqtt:cam/{gateway_id}/door"}
    doc = config_doc(mosquitto, gateway_id, sensors=[sensor("s0", gateway_id)], cameras=[camera])
    doc["mqtt"]["protocol"] = "5"  # response topics reach only an MQTT 5 subscriber
    write(path, doc)
    gw = build_gateway(load_config(path), config_path=path)
    prefix = f"edgegw/{gateway_id}"
    async with running(gw), client(mosquitto) as c:
        op = await operator(c, prefix)
        assert "not JSON" in (await op.ask("ping", b"{nope"))["error"]
        assert "JSON object" in (await op.ask("ping", b"[1, 2]"))["error"]
        assert "id must be" in (await op.ask("ping", {"id": [1]}))["error"]
        unknown_cam = await op.ask("camera/nope/detect", {"detect": False})
        assert unknown_cam["error"] == "unknown camera 'nope' (cameras: door)"
        assert (
            "must be true or false"
            in (await op.ask("camera/door/detect", {"detect": "maybe"}))["error"]
        )
        assert "unknown sensor" in (await op.ask("sensor/x/rule/hot", {"enabled": False}))["error"]
        assert (
            "has no rule 'cold'"
            in (await op.ask("sensor/s0/rule/cold", {"enabled": False}))["error"]
        )
        assert "no arguments" in (await op.ask("camera/door/snapshot", {"x": 1}))["error"]
        off = await op.ask("outbox/stats")
        assert "cloud link is off" in off["error"]
        unknown = await op.ask("reboot")
        assert unknown["ok"] is False
        assert "camera/+/detect" in unknown["commands"]

        # MQTT 5: the answer goes to the response topic, with the correlation data.
        async with aiomqtt.Client(
            "127.0.0.1", mosquitto.port, protocol=aiomqtt.ProtocolVersion.V5
        ) as v5:
            await v5.subscribe(f"reply/{gateway_id}", qos=1)
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = f"reply/{gateway_id}"
            props.CorrelationData = b"\x01corr"
            await v5.publish(f"{prefix}/cmd/ping", b'{"id": 7}', qos=1, properties=props)
            reply = await next_message(v5)
            assert json.loads(reply.payload)["id"] == 7
            assert reply.properties is not None
            assert getattr(reply.properties, "CorrelationData", None) == b"\x01corr"

        # A flood: 1,000 commands/s for 5 s. Answered, never obeyed past the rate; the
        # gateway keeps its work (readings in during the flood are all counted).
        restarts_before = gw.stats.snapshot().get("component_restarts_total", {})
        async with client(mosquitto) as flood:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for i in range(5000):
                await flood.publish(
                    f"{prefix}/cmd/camera/door/snapshot" if i % 2 else f"{prefix}/cmd/ping",
                    b"",
                    qos=0,
                )
                if i % 50 == 0:
                    await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 20}', qos=1)
                await asyncio.sleep(max(0.0, start + (i + 1) / 1000 - loop.time()))
        await eventually(
            lambda: count(gw, "commands_total", "ping,rate_limited") > 2000, timeout_s=20
        )
        await eventually(lambda: count(gw, "sensor_readings_total", "s0") == 100)
        assert gw.stats.snapshot().get("component_restarts_total", {}) == restarts_before
        assert (await op.ask("ping"))["ok"] is True


async def test_camera_detect_snapshot_and_rule_commands(
    mosquitto: Mosquitto, gateway_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    camera = {"id": "door", "source": f"mqtt:cam/{gateway_id}/door", "detect_fps": 100}
    doc = config_doc(mosquitto, gateway_id, sensors=[sensor("s0", gateway_id)], cameras=[camera])
    write(path, doc)
    gw = build_gateway(load_config(path), config_path=path)
    prefix = f"edgegw/{gateway_id}"
    async with running(gw), client(mosquitto) as c:
        op = await operator(c, prefix)
        assert "has not received a frame" in (await op.ask("camera/door/snapshot"))["error"]
        await eventually(lambda: count(gw, "camera_ready", "door") == 1)
        await c.publish(f"cam/{gateway_id}/door", frame(60), qos=1)
        await eventually(lambda: count(gw, "camera_frames_decoded_total", "door") == 1)
        async with client(mosquitto) as dash:
            await dash.subscribe(f"{prefix}/cameras/door/snapshot", qos=1)
            shot = await op.ask("camera/door/snapshot", {"id": "snap"})
            assert shot["ok"] is True, shot
            assert (shot["width"], shot["height"]) == (320, 240)
            picture = await next_message(dash)
            assert isinstance(picture.payload, bytes)
            assert picture.payload[:2] == b"\xff\xd8"
            assert len(picture.payload) == shot["bytes"]
            await dash.subscribe(f"{prefix}/cameras/door/detect", qos=1)
            assert (await next_message(dash)).payload == b"ON"
            off = await op.ask("camera/door/detect", {"detect": "OFF"})
            assert (off["detect"], off["changed"]) == (False, True)
            assert (await next_message(dash)).payload == b"OFF"
            # Frames still arrive but are not analysed while detection is off.
            await c.publish(f"cam/{gateway_id}/door", frame(100), qos=1)
            await eventually(lambda: count(gw, "camera_frames_in_total", "door") == 2)
            assert count(gw, "camera_frames_decoded_total", "door") == 1

        # A rule in alert, disabled: cleared at once, then readings are not judged.
        async with client(mosquitto) as ev:
            await ev.subscribe(f"{prefix}/events/+/s0", qos=1)
            await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 40}', qos=1)
            alert = json.loads((await next_message(ev)).payload)
            assert alert["kind"] == "sensor.alert"
            answer = await op.ask("sensor/s0/rule/hot", {"enabled": False})
            assert (answer["enabled"], answer["changed"]) == (False, True)
            cleared = json.loads((await next_message(ev)).payload)
            assert cleared["kind"] == "sensor.clear"
            assert cleared["data"]["reason"] == "rule disabled"
            await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 50}', qos=1)
            await eventually(lambda: count(gw, "sensor_readings_total", "s0") == 2)
            assert (await op.ask("sensor/s0/rule/hot", {"enabled": True}))["enabled"] is True
            await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 50}', qos=1)
            again = json.loads((await next_message(ev)).payload)
            assert again["kind"] == "sensor.alert"


async def test_reload_updates_home_assistant_without_duplicates(
    mosquitto: Mosquitto, gateway_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "gw.yaml"
    camera = {"id": "door", "source": f"mqtt:cam/{gateway_id}/door"}
    doc = config_doc(mosquitto, gateway_id, sensors=[sensor("s0", gateway_id)], cameras=[camera])
    write(path, doc)
    gw = build_gateway(load_config(path), config_path=path)
    prefix = f"edgegw/{gateway_id}"
    ha = f"ha_{gateway_id}"
    async with running(gw), client(mosquitto) as c, client(mosquitto) as hass:
        op = await operator(c, prefix)
        await hass.subscribe(f"{ha}/+/edgegw_{gateway_id}/+/config", qos=1)
        before: dict[str, bytes] = {}
        while len(before) < 14:  # gateway 7 (with reload), sensor 2, camera 5 (with controls)
            message = await next_message(hass, timeout_s=5)
            assert isinstance(message.payload, bytes)
            before[message.topic.value] = message.payload
        assert f"{ha}/switch/edgegw_{gateway_id}/camera_door-detect/config" in before
        # s0 goes, s1 comes; the camera is unchanged.
        doc["sensors"] = [sensor("s1", gateway_id)]
        write(path, doc)
        answer = await op.ask("reload")
        assert answer["ok"] is True
        assert answer["applied"]["stopped"] == ["sensor:s0"]
        assert answer["applied"]["started"] == ["sensor:s1"]
        changes: dict[str, bytes] = {}
        for _ in range(4):  # s0: metric + rule deleted; s1: metric + rule announced
            message = await next_message(hass, timeout_s=5)
            assert isinstance(message.payload, bytes)
            changes[message.topic.value] = message.payload
        deleted = {t for t, p in changes.items() if not p}
        added = {t for t, p in changes.items() if p}
        assert all("/s0-" in t for t in deleted)
        assert all("/s1-" in t for t in added)
        assert len(deleted) == len(added) == 2
        # Nothing else was re-announced: the camera's entities keep their ids.
        with pytest.raises(TimeoutError):
            await next_message(hass, timeout_s=0.5)


def test_an_http_endpoint_off_loopback_needs_credentials(gateway_id: str) -> None:
    from gateway.config import GatewayConfig

    with pytest.raises(ValueError, match="not loopback"):
        GatewayConfig.model_validate(
            {
                "gateway": {"id": gateway_id},
                "stats": {"http_port": free_port(), "http_host": "0.0.0.0"},
            }
        )
    ok = GatewayConfig.model_validate(
        {
            "gateway": {"id": gateway_id},
            "stats": {"http_port": 8080, "http_host": "0.0.0.0", "http_token": "s3cret-token"},
        }
    )
    assert not ok.stats.http_loopback


async def test_sighup_reloads_the_file_of_a_running_process(
    mosquitto: Mosquitto,
    gateway_id: str,
    tmp_path: Path,
    gateway_process: list[GatewayProcess],
) -> None:
    path = tmp_path / "gw.yaml"
    doc = config_doc(mosquitto, gateway_id, sensors=[sensor("s0", gateway_id)])
    write(path, doc)
    prefix = f"edgegw/{gateway_id}"
    async with client(mosquitto) as c:
        await c.subscribe(f"{prefix}/events/sensor.alert/#", qos=1)
        proc = GatewayProcess(path)
        gateway_process.append(proc)
        await asyncio.to_thread(proc.wait_for_log, "started (topics under")
        await asyncio.to_thread(proc.wait_for_log, "connected to MQTT broker")
        write(path, dict(doc, sensors=[sensor("s0", gateway_id, above=10.0)]))
        proc.proc.send_signal(signal.SIGHUP)
        await asyncio.to_thread(proc.wait_for_log, "config reloaded from")
        await c.publish(f"dev/{gateway_id}/s0", b'{"temperature": 15}', qos=1)
        alert = json.loads((await next_message(c)).payload)
        assert alert["data"]["reason"] == "15 > 10"
        # An invalid file on SIGHUP: logged with its line, the process goes on.
        path.write_text(path.read_text() + "bogus: 1\n")
        proc.proc.send_signal(signal.SIGHUP)
        await asyncio.to_thread(proc.wait_for_log, "SIGHUP reload refused")
        code, log = proc.stop()
        assert code == 0
        assert f"{path}:" in log
