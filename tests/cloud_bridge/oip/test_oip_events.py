"""The reference server's event sink: dedup by id, gzip bodies, auth, bad bodies."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from refcloud import EventSink
from tests.cloud_bridge.oip.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def event(event_id: str, kind: str = "sensor.summary") -> dict[str, Any]:
    """Return a minimal event envelope."""
    return {"v": 1, "id": event_id, "kind": kind, "source": "t1", "data": {"mean": 21.5}}


async def post_events(url: str, body: bytes, **headers: str) -> tuple[int, Any]:
    """POST a raw body to /v1/events; return (status, JSON answer)."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/v1/events",
            data=body,
            headers={"Content-Type": "application/json", **AUTH, **headers},
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_same_event_twice_is_stored_once(server_url: str, sink: EventSink) -> None:
    first = json.dumps([event("e1"), event("e2", "sensor.alert")]).encode()
    assert await post_events(server_url, first) == (
        200,
        {"accepted": ["e1", "e2"], "duplicates": []},
    )
    again = json.dumps([event("e2", "sensor.alert"), event("e3")]).encode()
    assert await post_events(server_url, again) == (200, {"accepted": ["e3"], "duplicates": ["e2"]})
    assert sink.count() == 3
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.get(f"{server_url}/v1/events", params={"kind": "sensor.alert"}) as resp,
    ):
        assert resp.status == 200
        assert await resp.json() == [event("e2", "sensor.alert")]


async def test_duplicate_within_one_batch(server_url: str) -> None:
    body = json.dumps([event("d1"), event("d1")]).encode()
    assert await post_events(server_url, body) == (200, {"accepted": ["d1"], "duplicates": ["d1"]})


async def test_gzip_body_is_accepted(server_url: str, sink: EventSink) -> None:
    body = gzip.compress(json.dumps([event(f"g{i}") for i in range(50)]).encode())
    status, answer = await post_events(server_url, body, **{"Content-Encoding": "gzip"})
    assert status == 200
    assert answer["accepted"] == [f"g{i}" for i in range(50)]
    assert [e["id"] for e in sink.query()] == [f"g{i}" for i in range(50)]


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"id": "x"}', b'[{"kind": "no id"}]', b'[{"id": ""}]', b"[1, 2]"],
)
async def test_bad_bodies_are_400_and_store_nothing(
    server_url: str, sink: EventSink, body: bytes
) -> None:
    status, answer = await post_events(server_url, body)
    assert status == 400
    assert "error" in answer
    assert sink.count() == 0


async def test_events_need_the_token(server_url: str, sink: EventSink) -> None:
    body = json.dumps([event("t1")]).encode()
    status, answer = await post_events(server_url, body, Authorization="Bearer nope")
    assert status == 401
    assert "error" in answer
    assert sink.count() == 0


def test_sink_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "persist.db"
    with EventSink(path) as first:
        first.store([event("p1")])
    with EventSink(path) as second:
        assert second.store([event("p1"), event("p2")]).duplicates == ["p1"]
        assert second.count() == 2
