"""A camera's `vision.detection` lifecycle, counts and occupancy, on a real Mosquitto.

Tracks are given to the publisher directly (a tracker's output), with frame times chosen
by the test, so the update rules (what counts as a change, the rate limit) are checked
exactly; `test_vp_homeassistant.py` runs the same path from JPEG frames in a gateway.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiomqtt
import pytest

from gateway.config import GatewayConfig
from gateway.config.vision import CameraConfig
from gateway.events import Events
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.stats_registry import Stats
from gateway.vision.analyzer import FrameOutcome, TrackReport
from gateway.vision.camera_stats import CameraStats
from gateway.vision.publisher import CameraPublisher
from gateway.vision.tracker import Track, TrackState
from tests.conftest import ConfigFactory
from tests.gateway.vision.camera.conftest import frame_outcome
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message

CAM = "porch"
JPEG_A = b"\xff\xd8first\xff\xd9"
JPEG_B = b"\xff\xd8better\xff\xd9"


def track(
    track_id: int = 1,
    *,
    label: str = "person",
    best: float = 0.6,
    zones: frozenset[str] = frozenset(),
    t0: float = 0.0,
    t: float = 0.0,
) -> Track:
    box = Box(10.0 + t, 20.0, 50.0 + t, 120.0)
    return Track(
        id=track_id,
        label=label,
        state=TrackState.ACTIVE,
        first_seen=t0,
        last_seen=t,
        box=box,
        score=best,
        best_score=best,
        best_box=box,
        best_frame_index=0,
        hits=3,
        misses=0,
        zones=zones,
        zones_entered=zones,
    )


def outcome(
    ts: float,
    *,
    started: tuple[TrackReport, ...] = (),
    updated: tuple[Track, ...] = (),
    ended: tuple[TrackReport, ...] = (),
) -> FrameOutcome:
    return frame_outcome(ts, width=320, height=240, started=started, updated=updated, ended=ended)


class Rig:
    """A publisher on a real bus, and a client watching what it publishes."""

    def __init__(self, cfg: GatewayConfig, bus: MqttBus, watcher: aiomqtt.Client) -> None:
        self.topics = Topics(cfg.topic_prefix)
        self.watcher = watcher
        stats = Stats()
        events = Events(bus=bus, topics=self.topics, stats=stats, gateway_id=cfg.gateway.id)
        camera = CameraConfig.model_validate(
            {
                "id": CAM,
                "source": "mqtt:unused",
                "events": {"update_interval_s": 1.0, "update_score_step": 0.1},
                "escalation": {"low": 0.5, "high": 0.99},
            }
        )
        self.publisher = CameraPublisher(
            camera=camera,
            events=events,
            bus=bus,
            topics=self.topics,
            stats=CameraStats(stats, CAM),
            labels=("person", "car"),
        )

    async def next(self) -> tuple[str, Any]:
        """The next message: (topic, JSON event or text or raw bytes)."""
        message = await next_message(self.watcher)
        payload = message.payload
        assert isinstance(payload, bytes)
        topic = message.topic.value
        if "/events/" in topic:
            return topic, json.loads(payload)
        if topic.endswith("/snapshot"):
            return topic, payload
        return topic, payload.decode()


@pytest.fixture
async def rig(mosquitto: Mosquitto, make_config: ConfigFactory) -> AsyncIterator[Rig]:
    cfg = make_config(mosquitto)
    bus = MqttBus(
        cfg.mqtt, client_id=cfg.client_id, status_topic=f"{cfg.topic_prefix}/status", stats=Stats()
    )
    async with bus, client(mosquitto) as watcher:
        async with asyncio.timeout(10):
            await bus.connected.wait()
        await watcher.subscribe(f"{cfg.topic_prefix}/events/vision.detection/{CAM}", qos=1)
        await watcher.subscribe(f"{cfg.topic_prefix}/cameras/{CAM}/#", qos=1)
        yield Rig(cfg, bus, watcher)


async def test_start_updates_on_change_only_rate_limited_then_end(rig: Rig) -> None:
    pub, topics = rig.publisher, rig.topics
    # The publisher was made after the watcher subscribed: 0 / OFF for each known label.
    initial = {await rig.next() for _ in range(4)}
    assert initial == {
        (topics.camera_count(CAM, "person"), "0"),
        (topics.camera_occupancy(CAM, "person"), "OFF"),
        (topics.camera_count(CAM, "car"), "0"),
        (topics.camera_occupancy(CAM, "car"), "OFF"),
    }
    pub.handle(outcome(0.0, started=(TrackReport(track(), JPEG_A, None),)))
    hall = frozenset({"hall"})
    pub.handle(outcome(0.5, updated=(track(zones=hall, t=0.5),)))  # held back: 0.5 s < 1 s
    pub.handle(outcome(1.2, updated=(track(zones=hall, t=1.2),)))  # the held change goes out
    pub.handle(outcome(2.5, updated=(track(zones=hall, best=0.65, t=2.5),)))  # rise < step
    pub.handle(outcome(3.0, updated=(track(zones=hall, best=0.75, t=3.0),)))  # rise >= step
    pub.handle(outcome(4.5, updated=(track(zones=hall, best=0.75, t=4.5),)))  # still: nothing
    last = replace(track(zones=hall, best=0.8, t=5.0), state=TrackState.ENDED)
    pub.handle(outcome(5.0, ended=(TrackReport(last, JPEG_B, None),)))

    seen: list[tuple[str, Any]] = []
    while not (seen and isinstance(seen[-1][1], dict) and seen[-1][1]["data"]["phase"] == "end"):
        seen.append(await rig.next())
    snapshot_topic = topics.camera_snapshot(CAM)
    events = [doc["data"] for _, doc in seen if isinstance(doc, dict)]
    assert [(e["phase"], e.get("changed")) for e in events] == [
        ("start", None),
        ("update", ["zones"]),
        ("update", ["score"]),
        ("end", None),
    ]
    start, zones, score, end = events
    assert {e["track_id"] for e in events} == {1}
    assert start["snapshot"]["topic"] == snapshot_topic
    assert start["snapshot"]["score"] == 0.6
    assert zones["zones"] == ["hall"]
    # Each update is the frame it was sent on (the box moves with t): 1.2 s, not 0.5 s.
    assert (zones["box"]["x1"], score["box"]["x1"]) == (11.2, 13.0)
    assert zones["snapshot"] == start["snapshot"]
    assert score["best_score"] == 0.75
    # The end's picture is better: published before the end, which points at it.
    assert end["snapshot"]["score"] == 0.8
    assert end["snapshot"]["ts"] >= start["snapshot"]["ts"]
    assert end["decision"] == "hard_case"
    assert end["duration_s"] == 5.0
    assert end["zones_entered"] == ["hall"]
    assert end["best_box"] == {"x1": 15.0, "y1": 20.0, "x2": 55.0, "y2": 120.0}
    others = [(topic, value) for topic, value in seen if not isinstance(value, dict)]
    assert others == [
        (snapshot_topic, JPEG_A),
        (topics.camera_count(CAM, "person"), "1"),
        (topics.camera_occupancy(CAM, "person"), "ON"),
        (snapshot_topic, JPEG_B),
    ]
    # Then the count and occupancy fall back, and nothing else was sent.
    assert [await rig.next() for _ in range(2)] == [
        (topics.camera_count(CAM, "person"), "0"),
        (topics.camera_occupancy(CAM, "person"), "OFF"),
    ]


async def test_counts_relabels_and_dropped_tracks(rig: Rig) -> None:
    pub, topics = rig.publisher, rig.topics
    for _ in range(4):
        await rig.next()  # the initial 0 / OFF
    low = track(9, best=0.2)  # below the band's `low`: never announced
    pub.handle(
        outcome(
            0.0,
            started=(
                TrackReport(track(1), None, None),
                TrackReport(track(2), None, None),
                TrackReport(low, None, None),
            ),
        )
    )
    pub.handle(outcome(2.0, updated=(track(2, label="car", t=2.0), track(9, best=0.2, t=2.0))))
    ended = tuple(
        TrackReport(replace(t, state=TrackState.ENDED), None, None)
        for t in (track(1, t=3.0), track(2, label="car", t=3.0), track(9, best=0.2, t=3.0))
    )
    pub.handle(outcome(3.0, ended=ended))
    got = [await rig.next() for _ in range(13)]
    events = [
        (doc["data"]["track_id"], doc["data"]["phase"]) for _, doc in got if isinstance(doc, dict)
    ]
    assert events == [(1, "start"), (2, "start"), (2, "update"), (1, "end"), (2, "end")]
    relabelled = next(
        doc["data"] for _, doc in got if isinstance(doc, dict) and doc["data"]["phase"] == "update"
    )
    assert relabelled["changed"] == ["label"]
    assert relabelled["label"] == "car"
    assert relabelled["snapshot"] is None  # snapshots were off for these tracks
    states = [(topic, value) for topic, value in got if not isinstance(value, dict)]
    person_n, person_on = topics.camera_count(CAM, "person"), topics.camera_occupancy(CAM, "person")
    car_n, car_on = topics.camera_count(CAM, "car"), topics.camera_occupancy(CAM, "car")
    assert states == [
        (person_n, "2"),
        (person_on, "ON"),
        (person_n, "1"),  # track 2 is a car now: occupancy of people stays ON
        (car_n, "1"),
        (car_on, "ON"),
        (person_n, "0"),
        (person_on, "OFF"),
        (car_n, "0"),
    ]
    assert await rig.next() == (car_on, "OFF")
