"""Cameras in Home Assistant, on a real Mosquitto: discovery, and what its topics carry.

A motion-only camera fed JPEG frames over MQTT sees one block walk into a zone and
leave: its discovered occupancy, count and image topics get payloads, and its
`vision.detection` lifecycle arrives start -> update (zone entered) -> end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np

from devices.cameras import encode_jpeg
from gateway.config import GatewayConfig
from gateway.config.vision import CameraConfig, ModelConfig, tracked_labels
from gateway.homeassistant.discovery import discovery_configs
from gateway.mqtt.topics import Topics
from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.sensors.test_sensor_homeassistant import DEVICE_KEYS, ENTITY_KEYS, collect
from tests.gateway.vision.camera.test_vp_gateway import at_least, metric
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually

IMAGE_KEYS = {"image_topic", "content_type"}
WIDTH, HEIGHT = 320, 240
RIGHT_HALF = [(160, 0), (320, 0), (320, 240), (160, 240)]


def frame(x: int | None) -> bytes:
    """A grey frame, with a light block (someone) whose left edge is at `x`."""
    image = np.full((HEIGHT, WIDTH, 3), 100, np.uint8)
    if x is not None:
        cv2.rectangle(image, (x, 80), (x + 40, 200), (240, 240, 240), -1)
    return encode_jpeg(image, 80)


def cameras(gateway_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "door",
            "source": f"mqtt:cam/{gateway_id}/door",
            "detect_fps": 100,
            "tracker": {
                "min_hits": 2,
                "max_misses": 2,
                "lost_s": 0,
                "zones": [{"name": "right", "points": RIGHT_HALF}],
            },
            "events": {"update_interval_s": 0.01},
        },
        {
            "id": "yard",
            "source": f"mqtt:cam/{gateway_id}/yard",
            "tracker": {"labels": ["person", "traffic light"]},
        },
        {"id": "off", "source": f"mqtt:cam/{gateway_id}/off", "enabled": False},
    ]


async def json_events(c: aiomqtt.Client, until_phase: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not out or out[-1]["phase"] != until_phase:
        out.append(json.loads((await next_message(c)).payload)["data"])
    return out


def check_entity(doc: dict[str, Any], cfg: GatewayConfig, node: str) -> None:
    assert set(doc) <= ENTITY_KEYS | IMAGE_KEYS
    assert set(doc["device"]) <= DEVICE_KEYS
    assert doc["origin"]["name"] == "edgegw"
    assert doc["unique_id"].startswith(node)
    assert doc["availability"] == [
        {"topic": f"{cfg.topic_prefix}/status", "payload_available": "online",
         "payload_not_available": "offline"}
    ]  # fmt: skip


async def test_camera_entities_are_discovered_and_their_topics_carry_state(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    ha = f"ha_{gateway_id}"
    node = f"edgegw_{gateway_id}"
    cfg = make_config(
        mosquitto, cameras=cameras(gateway_id), homeassistant={"discovery_prefix": ha}
    )
    topics = Topics(cfg.topic_prefix)
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as c:
        await c.subscribe(f"{ha}/+/{node}/+/config", qos=1)
        # gateway status + 5 stats + reload; door: image + motion (2) + detect switch +
        # snapshot button; yard: image + 2 labels (4) + switch + button
        configs = await collect(c, 19)
        camera_docs = {t: d for t, d in configs.items() if "/camera_" in t}
        assert len(camera_docs) == 12
        for doc in camera_docs.values():
            check_entity(doc, cfg, node)
            assert doc["device"]["via_device"] == node
        assert len({d["unique_id"] for d in configs.values()}) == 19
        switch = configs[f"{ha}/switch/{node}/camera_door-detect/config"]
        assert switch["command_topic"] == f"{cfg.topic_prefix}/cmd/camera/door/detect"
        assert switch["state_topic"] == topics.camera_detect("door")
        button = configs[f"{ha}/button/{node}/camera_door-snapshot_now/config"]
        assert button["command_topic"] == f"{cfg.topic_prefix}/cmd/camera/door/snapshot"
        assert {d["device"]["name"] for d in camera_docs.values()} == {"door", "yard"}
        image = configs[f"{ha}/image/{node}/camera_door-snapshot/config"]
        occupancy = configs[f"{ha}/binary_sensor/{node}/camera_door-motion-occupancy/config"]
        count = configs[f"{ha}/sensor/{node}/camera_door-motion-count/config"]
        assert image["image_topic"] == topics.camera_snapshot("door")
        assert image["content_type"] == "image/jpeg"
        assert occupancy["device_class"] == "occupancy"
        assert (occupancy["payload_on"], occupancy["payload_off"]) == ("ON", "OFF")
        assert count["state_class"] == "measurement"
        assert image["device"] == occupancy["device"] == count["device"]
        lamp = configs[f"{ha}/sensor/{node}/camera_yard-traffic_light-count/config"]
        assert lamp["state_topic"] == topics.camera_count("yard", "traffic light")

        # The state topics exist: their retained values are there before anything moved.
        async with client(mosquitto) as dash:
            await dash.subscribe(occupancy["state_topic"], qos=1)
            await dash.subscribe(count["state_topic"], qos=1)
            first = {(await next_message(dash)).payload for _ in range(2)}
            assert first == {b"OFF", b"0"}
            await dash.subscribe(f"{cfg.topic_prefix}/events/vision.detection/door", qos=1)

            # Someone walks in from the left, into the right half, and leaves.
            await eventually(lambda: metric(gw, "camera_ready", "door") == 1)
            steps = [None] * 5 + list(range(40, 250, 8)) + [None] * 8
            for i, x in enumerate(steps):
                await c.publish(f"cam/{gateway_id}/door", frame(x), qos=1)
                await eventually(at_least(gw, "camera_frames_decoded_total", "door", i + 1))
            seen: list[tuple[str, bytes]] = []
            while not seen or b'"end"' not in seen[-1][1]:
                message = await next_message(dash)
                assert isinstance(message.payload, bytes)
                seen.append((message.topic.value, message.payload))
            for _ in range(2):  # the count and occupancy that follow the end
                message = await next_message(dash)
                assert isinstance(message.payload, bytes)
                seen.append((message.topic.value, message.payload))

        events = [json.loads(p)["data"] for t, p in seen if "/events/" in t]
        assert [e["phase"] for e in events] == ["start", "update", "end"]
        start, update, end = events
        assert {e["track_id"] for e in events} == {start["track_id"]}
        assert {e["label"] for e in events} == {"motion"}
        assert start["zones"] == []
        assert update["changed"] == ["zones"]
        assert update["zones"] == ["right"]
        assert end["zones_entered"] == ["right"]
        assert end["duration_s"] > 0
        assert end["decision"] == "settled"
        assert end["snapshot"]["topic"] == image["image_topic"]
        states = [(t, p) for t, p in seen if "/events/" not in t]
        assert states == [
            (count["state_topic"], b"1"),
            (occupancy["state_topic"], b"ON"),
            (count["state_topic"], b"0"),
            (occupancy["state_topic"], b"OFF"),
        ]

        # The image entity's topic holds the track's JPEG for anyone who looks later.
        async with client(mosquitto) as late:
            await late.subscribe(image["image_topic"], qos=1)
            snap = await next_message(late)
        assert snap.retain
        assert isinstance(snap.payload, bytes)
        assert snap.payload[:2] == b"\xff\xd8"
        picture = cv2.imdecode(np.frombuffer(snap.payload, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None
        assert picture.shape == (HEIGHT, WIDTH, 3)

        # Home Assistant restarted: its birth message brings every config again.
        async with client(mosquitto) as ha_client:
            await ha_client.publish(f"{ha}/status", b"online", qos=1)
        assert await collect(c, 19) == configs


def test_camera_ids_do_not_depend_on_order_or_runs(
    mosquitto: Mosquitto, make_config: ConfigFactory, gateway_id: str
) -> None:
    cfg = make_config(mosquitto, cameras=cameras(gateway_id))
    reordered = make_config(mosquitto, cameras=cameras(gateway_id)[::-1])
    topics = Topics(cfg.topic_prefix)
    assert discovery_configs(cfg, topics) == discovery_configs(reordered, topics)


def test_tracked_labels_come_from_the_tracker_then_the_model(tmp_path: Path) -> None:
    def camera(**extra: Any) -> CameraConfig:
        return CameraConfig.model_validate({"id": "c", "source": "mqtt:x", **extra})

    def model(**extra: Any) -> ModelConfig:
        return ModelConfig.model_validate({"id": "m", **extra})

    labels_file = tmp_path / "labels.txt"
    labels_file.write_text("person\ncar\n")
    own = {"path": str(tmp_path / "own.tflite"), "decoder": "yolo"}
    picked = camera(tracker={"labels": ["person", "car", "person"]})
    assert tracked_labels(picked, model(name="person_ssdlite")) == ("person", "car")
    assert tracked_labels(camera(), None) == ("motion",)
    assert tracked_labels(camera(), model(name="person_ssdlite")) == ("person",)
    assert tracked_labels(camera(), model(**own, labels=["dog", "cat"])) == ("dog", "cat")
    # A labels file is not read for this (a COCO file would make 160 entities): none known.
    assert tracked_labels(camera(), model(**own, labels=str(labels_file))) == ()
    assert tracked_labels(camera(), model(name="efficientnet_lite0")) == ()
