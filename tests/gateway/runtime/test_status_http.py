"""The HTTP endpoint's credentials and what its answers never contain (secrets)."""

from __future__ import annotations

import asyncio
import base64

import aiohttp

from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import running
from tests.support.waits import eventually

TOKEN = "tok-9f2c51e7a4d8"
PASSWORD = "pw-7be1c0de55aa"
CLOUD_TOKEN = "cloud-3a8e0f6b2c71"


def failures(gw: Gateway, label: str) -> float:
    """One labelled value of `cloud_failures_total` (0 when absent)."""
    values = gw.stats.snapshot().get("cloud_failures_total", {})
    assert isinstance(values, dict)
    return values.get(label, 0.0)


async def read_stream_start(session: aiohttp.ClientSession, url: str) -> str:
    """The first Server-Sent Event of `/api/stream` (the whole status)."""
    async with session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        text = ""
        async with asyncio.timeout(10):
            while "\n\n" not in text:
                text += (await response.content.readany()).decode()
        return text


async def test_credentials_are_required_and_secrets_never_served(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    port = free_port()
    cfg = make_config(
        mosquitto,
        stats={
            "http_port": port,
            "http_token": TOKEN,
            "http_username": "op",
            "http_password": PASSWORD,
        },
        cloud={
            "enabled": True,
            "url": f"http://user:{PASSWORD}@127.0.0.1:{free_port()}",
            "token": CLOUD_TOKEN,
        },
    )
    base = f"http://127.0.0.1:{port}"
    gw = build_gateway(cfg)
    async with running(gw), aiohttp.ClientSession() as session:
        assert gw.http is not None
        await gw.http.ready.wait()
        for path in ("/", "/api/status", "/api/stream", "/metrics", "/static/status.js"):
            async with session.get(base + path) as r:
                assert r.status == 401, path
                assert "Basic" in r.headers["WWW-Authenticate"]
        # Health needs no credential and holds no secret. The cloud is unreachable: once
        # the hard-case sender has failed, /healthz says so (503) and names the endpoint.
        await eventually(lambda: failures(gw, "hard_cases,connection") >= 1)
        async with session.get(base + "/healthz") as r:
            assert r.status == 503
            health = await r.text()
            assert "OIP server (cloud.oip_url)" in health
        async with session.get(
            base + "/api/status", headers={"Authorization": "Bearer wrong"}
        ) as r:
            assert r.status == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        basic = {"Authorization": "Basic " + base64.b64encode(f"op:{PASSWORD}".encode()).decode()}
        bodies = [health]
        for headers in (bearer, basic):
            for path in ("/", "/api/status", "/static/status.js", "/metrics"):
                async with session.get(base + path, headers=headers) as r:
                    assert r.status == 200, path
                    bodies.append(await r.text())
        status = await (await session.get(base + "/api/status", headers=bearer)).json()
        assert status["cloud"]["url"].startswith("http://user:***@127.0.0.1")
        async with aiohttp.ClientSession(headers=bearer) as authed:
            bodies.append(await read_stream_start(authed, base + "/api/stream"))
        # A browser signs in with the token once; the session cookie does the rest.
        # (unsafe: the jar keeps cookies of an IP address host, as browsers do)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.get(base + "/", headers={"Accept": "text/html"}) as r:
                assert r.status == 401
                assert "<form" in await r.text()
            async with browser.post(
                base + "/login", data={"token": "nope"}, allow_redirects=False
            ) as r:
                assert r.status == 401
            async with browser.post(
                base + "/login", data={"token": TOKEN}, allow_redirects=False
            ) as r:
                assert r.status == 303
                cookie = r.cookies["edgegw_session"]
                assert cookie["httponly"]
                assert cookie["samesite"] == "Strict"
                assert TOKEN not in cookie.value
            async with browser.get(base + "/api/status") as r:
                assert r.status == 200
                bodies.append(await r.text())
        for body in bodies:
            for secret in (TOKEN, PASSWORD, CLOUD_TOKEN):
                assert secret not in body
