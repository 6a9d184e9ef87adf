"""The Event envelope: ids, JSON form, local publication and sinks."""

from __future__ import annotations

import json

from gateway.events import Event, Priority, new_event_id
from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 32 for i in ids)


def test_json_is_versioned_and_never_inlines_media() -> None:
    event = Event(
        gateway="gw1",
        source="cam1",
        kind="vision.hard_case",
        priority=Priority.HIGH,
        data={"label": "person", "score": 0.62},
        media=b"\xff\xd8jpeg",
        media_type="image/jpeg",
    )
    body = json.loads(event.to_json())
    assert body["v"] == 1
    assert body["priority"] == 2
    assert body["media_type"] == "image/jpeg"
    assert "media" not in body
    assert Event.model_validate_json(event.to_json()).id == event.id


async def test_emit_publishes_on_the_kind_topic_and_feeds_sinks(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    cfg = make_config(mosquitto)
    gw = build_gateway(cfg)
    sunk: list[Event] = []
    async with running(gw), client(mosquitto) as c:
        assert gw.events is not None
        gw.events.add_sink(sunk.append)
        await c.subscribe(f"{cfg.topic_prefix}/events/#", qos=1)
        event = gw.events.make(
            source="t1",
            kind="sensor.alert",
            priority=Priority.HIGH,
            data={"metric": "temperature", "value": 41.5},
        )
        gw.events.emit(event)
        message = await next_message(c)
    assert message.topic.value == f"{cfg.topic_prefix}/events/sensor.alert/t1"
    body = json.loads(message.payload)
    assert body["id"] == event.id
    assert body["data"] == {"metric": "temperature", "value": 41.5}
    assert sunk == [event]
    assert gw.stats.snapshot()["events_total"] == {"sensor.alert": 1.0}
