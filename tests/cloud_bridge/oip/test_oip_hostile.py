"""The reference server against a hostile client: every bad request a 4xx, nothing stalls.

The server is the real aiohttp app on loopback (the `server_url` fixture, bearer token
`TOKEN`); the bodies are the issue's: corrupt gzip, deep nesting, UINT8 300, a 50 MB
tensor, the wrong content type, a 0x0 image, a 629-byte JPEG claiming 30000x30000.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import resource
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from refcloud import EventSink
from tests.cloud_bridge.oip.conftest import TOKEN, jpeg_of, solid_image
from tests.support.bombs import jpeg_bomb, truncated_jpeg

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json", **AUTH}
MB = 1024 * 1024


async def post(
    url: str, path: str, body: bytes | AsyncIterator[bytes], **headers: str
) -> tuple[int, dict[str, Any]]:
    """POST `body`; return the status and the JSON error/answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, data=body, headers={**JSON, **headers}) as resp,
    ):
        answer: dict[str, Any] = await resp.json(content_type=None)
        return resp.status, answer


def infer_body(inputs: list[dict[str, Any]]) -> bytes:
    return json.dumps({"inputs": inputs}).encode()


def image_tensor(jpeg: bytes) -> dict[str, Any]:
    return {
        "name": "image",
        "shape": [1],
        "datatype": "BYTES",
        "parameters": {"content_type": "base64"},
        "data": [base64.b64encode(jpeg).decode()],
    }


INFER = "/v2/models/brightness/infer"


async def test_corrupt_gzip_is_400(server_url: str, sink: EventSink) -> None:
    not_deflate = b"\x1f\x8b\x08\x00 this is not deflate data"
    status, answer = await post(
        server_url, "/v1/events", not_deflate, **{"Content-Encoding": "gzip"}
    )
    assert (status, answer["error"]) == (
        400,
        "body cannot be read as gzip: 400, message: Can not decode content-encoding: gzip",
    )
    good = gzip.compress(b'[{"id": "a"}, {"id": "b"}]')
    for body in (good[:12] + b"\xff" * 40, good[:-12]):  # damaged, cut short
        status, answer = await post(server_url, "/v1/events", body, **{"Content-Encoding": "gzip"})
        assert status == 400, answer
    assert sink.count() == 0


async def test_deeply_nested_json_is_400_on_both_routes(server_url: str) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000  # RecursionError in json.loads, unguarded
    status, answer = await post(server_url, "/v1/events", deep)
    assert status == 400, answer
    assert "nested" in answer["error"]
    nested: Any = {"id": "x"}
    for _ in range(100):  # parses fine; refused for its depth
        nested = [nested]
    status, answer = await post(
        server_url, "/v1/events", json.dumps([{"id": "n", "d": nested}]).encode()
    )
    assert (status, answer["error"]) == (400, "body is nested deeper than 64 levels")
    status, answer = await post(server_url, INFER, b'{"inputs": ' + deep + b"}")
    assert status == 400, answer
    assert answer["error"].startswith("malformed inference request")


async def test_uint8_out_of_range_is_422(server_url: str) -> None:
    for value in (300, -1):
        tensor = {"name": "image", "shape": [1, 1, 3], "datatype": "UINT8", "data": [1, 2, value]}
        status, answer = await post(server_url, INFER, infer_body([tensor]))
        assert status == 422, answer
        assert f"element {value} is outside UINT8 [0, 255]" in answer["error"]


async def test_a_50_mb_tensor_is_413_with_or_without_content_length(server_url: str) -> None:
    values = b",".join([b"7"] * (25 * MB))  # 50 MB of JSON
    body = (
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [' + values + b"]}]}"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status, answer = await post(server_url, INFER, body)
    assert status == 413, answer
    assert "over this route's" in answer["error"]

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(body), 4 * MB):
            yield body[start : start + 4 * MB]

    status, answer = await post(server_url, INFER, chunked())
    assert status == 413, answer
    # Both bodies were built here (50 MB each); the server held at most its 32 MB limit.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 250


async def test_a_gzip_bomb_stops_at_the_events_limit(server_url: str) -> None:
    bomb = gzip.compress(b"[" + b" " * (512 * MB) + b"]", 9)  # 0.5 MB that inflates to 512 MB
    assert len(bomb) < MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status, answer = await post(server_url, "/v1/events", bomb, **{"Content-Encoding": "gzip"})
    assert status == 413, answer
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 100


@pytest.mark.parametrize("path", ["/v1/events", INFER])
async def test_wrong_content_type_is_415(server_url: str, path: str) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        status, answer = await post(server_url, path, b"[]", **{"Content-Type": content_type})
        assert status == 415, answer
        assert "must be application/json" in answer["error"]


async def test_unusable_images_are_422(server_url: str) -> None:
    empty = {"name": "image", "shape": [0, 0, 3], "datatype": "UINT8", "data": []}
    cases = {
        "zero_size": infer_body([empty]),
        "too_many_pixels": infer_body([image_tensor(jpeg_bomb())]),
        "truncated": infer_body([image_tensor(truncated_jpeg(jpeg_of(solid_image(90))))]),
    }
    for reason, body in cases.items():
        t0 = time.monotonic()
        status, answer = await post(server_url, INFER, body)
        assert status == 422, (reason, answer)
        assert f"image refused ({reason})" in answer["error"]
        assert time.monotonic() - t0 < 2.0  # the bomb decoded: 11 s, 2.7 GB
    status, answer = await post(
        server_url, INFER, infer_body([image_tensor(jpeg_of(solid_image(200)))])
    )
    assert status == 200, answer


async def test_missing_input_is_422_and_tokens_are_compared_whole(server_url: str) -> None:
    other = {"name": "other", "shape": [1], "datatype": "UINT8", "data": [1]}
    status, answer = await post(server_url, INFER, infer_body([other]))
    assert status == 422, answer
    assert "no input named 'image'" in answer["error"]
    for wrong in (f"Bearer {TOKEN[:-1]}x", f"Bearer {TOKEN}x", "Bearer", f"bearer {TOKEN}"):
        status, answer = await post(server_url, INFER, infer_body([other]), Authorization=wrong)
        assert status == 401, (wrong, answer)


async def test_a_slow_large_body_does_not_stall_other_requests(server_url: str) -> None:
    """A 1080p UINT8 frame (22 MB of JSON) trickles in and is parsed; pings stay fast."""
    count = 1080 * 1920 * 3
    values = b",".join([b"181"] * count)
    body = b'{"inputs": [{"name": "image", "shape": [1080, 1920, 3], "datatype": "UINT8", "data": ['
    body += values + b"]}]}"

    async def trickle() -> AsyncIterator[bytes]:
        step = MB
        for start in range(0, len(body), step):
            yield body[start : start + step]
            await asyncio.sleep(0.02)  # ~0.5 s on the wire

    done = asyncio.Event()
    worst = 0.0
    pings = 0

    async def ping() -> None:
        nonlocal worst, pings
        async with aiohttp.ClientSession(headers=AUTH) as session:
            while not done.is_set():
                t0 = time.perf_counter()
                async with session.get(f"{server_url}/v2/models/brightness/ready") as resp:
                    assert resp.status == 200
                worst = max(worst, time.perf_counter() - t0)
                pings += 1
                await asyncio.sleep(0.01)

    pinger = asyncio.create_task(ping())
    t0 = time.perf_counter()
    try:
        status, answer = await post(server_url, INFER, trickle())
    finally:
        done.set()
        await pinger
    elapsed = time.perf_counter() - t0
    assert status == 200, answer
    assert answer["outputs"][0]["data"] == ["bright"]
    # Parsing this body takes ~3 s of CPU (on the loop, every ping would wait that long).
    assert elapsed > 1.0
    assert pings >= 10
    assert worst < 1.0, f"a ping waited {worst:.2f}s while the large body was handled"
