"""A misbehaving cloud: 500, 429 + Retry-After, garbage JSON, a hang; then it recovers.

The cloud is a real HTTP server on loopback whose answers follow a script; the gateway
(real Mosquitto) keeps publishing locally while its uplink retries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from gateway.plugins import build_gateway
from refcloud import EventSink, make_app
from tests.cloud_bridge.oip.conftest import running as serving
from tests.conftest import ConfigFactory
from tests.gateway.cloudlink.conftest import TOKEN, cloud_section
from tests.gateway.cloudlink.test_cloudlink_outage import metric
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running
from tests.support.payloads import hard_case_data
from tests.support.waits import eventually

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ScriptedCloud:
    """Answer the first requests of each route from a script, then like the real server."""

    def __init__(self, sink: EventSink, script: list[str]) -> None:
        self.script = list(script)
        self.seen: list[tuple[float, str]] = []  # (monotonic time, what we answered)
        self.release = asyncio.Event()
        self.app = make_app(models={"person": self._model}, sink=sink, token=TOKEN)
        # Ahead of the server's own auth middleware: faults come before anything real.
        self.app.middlewares.insert(0, self._fault)

    @staticmethod
    def _model(request: InferenceRequest) -> InferenceResponse:
        del request
        return InferenceResponse(
            model_name="person",
            outputs=[
                ResponseOutput.from_strings("label", ["person"]),
                ResponseOutput.from_strings("note", ["scripted"]),
            ],
        )

    @web.middleware
    async def _fault(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != "/v1/events":
            return await handler(request)
        what = self.script.pop(0) if self.script else "ok"
        self.seen.append((time.monotonic(), what))
        if what == "500":
            return web.json_response({"error": "database on fire"}, status=500)
        if what == "429":
            return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
        if what == "garbage":
            return web.Response(text="{not json", content_type="application/json")
        if what == "hang":
            await self.release.wait()
        return await handler(request)


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[ScriptedCloud, str, EventSink]]:
    """A scripted cloud on loopback."""
    with EventSink(tmp_path / "events.db") as sink:
        cloud = ScriptedCloud(sink, ["500", "429", "garbage", "hang", "500"])
        async with serving(cloud.app) as url:
            yield cloud, url, sink
            cloud.release.set()


async def test_faults_are_retried_and_the_bus_keeps_going(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    scripted: tuple[ScriptedCloud, str, EventSink],
    tmp_path: Path,
) -> None:
    cloud, url, sink = scripted
    section = cloud_section(url, tmp_path, request_timeout_s=0.5, breaker={"open_s": 0.2})
    cfg = make_config(mosquitto, cloud=section)
    gateway = build_gateway(cfg)
    async with running(gateway), client(mosquitto) as watcher:
        events = gateway.events
        assert events is not None
        await watcher.subscribe(f"{cfg.topic_prefix}/events/#", qos=1)
        first = events.make(source="s1", kind="sensor.summary", data={"n": 0})
        events.emit(first)
        await eventually(lambda: any(w == "hang" for _, w in cloud.seen))
        # The uplink hangs on the cloud; local publishing does not wait for it.
        started = time.monotonic()
        local = events.make(source="s1", kind="sensor.alert", data={"n": 1})
        events.emit(local)
        while True:
            message = await next_message(watcher, timeout_s=2)
            if json.loads(message.payload)["id"] == local.id:
                break
        assert time.monotonic() - started < 0.5
        await eventually(lambda: sink.count() == 2, timeout_s=15)

    answers = [w for _, w in cloud.seen]
    assert answers[:6] == ["500", "429", "garbage", "hang", "500", "ok"]
    after_429 = cloud.seen[2][0] - cloud.seen[1][0]
    assert after_429 >= 0.95, after_429  # Retry-After: 1 honoured
    assert sink.count() == 2  # each once, though some were sent more than once
    failures = {
        reason: metric(gateway, "cloud_failures_total", f"events,{reason}")
        for reason in ("http_5xx", "http_429", "protocol", "timeout")
    }
    assert failures == {"http_5xx": 2, "http_429": 1, "protocol": 1, "timeout": 1}
    assert metric(gateway, "cloud_attempts_total", "events") >= 6


async def test_infer_without_a_verdict_is_retried_not_lost(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    scripted: tuple[ScriptedCloud, str, EventSink],
    tmp_path: Path,
    crops: dict[str, bytes],
) -> None:
    # The scripted model answers without a `score` output: a protocol error, retried.
    _, url, _ = scripted
    cfg = make_config(mosquitto, cloud=cloud_section(url, tmp_path))
    gateway = build_gateway(cfg)
    async with running(gateway):
        events = gateway.events
        assert events is not None
        events.emit(
            events.make(
                source="door", kind="vision.hard_case",
                data=hard_case_data("person", 0.6), media=crops["coffee.png"],
            )
        )  # fmt: skip
        await eventually(
            lambda: metric(gateway, "cloud_failures_total", "hard_cases,protocol") >= 3
        )
        await eventually(lambda: metric(gateway, "cloud_outbox_depth", "hard_cases") == 1)
        assert metric(gateway, "cloud_verdicts_total", "confirmed") == 0
