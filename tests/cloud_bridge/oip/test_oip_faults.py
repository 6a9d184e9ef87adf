"""Failing servers, each mapped to the right UplinkError with the right data."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from cloud_bridge.oip import (
    OipClient,
    UplinkConnectionError,
    UplinkHTTPError,
    UplinkProtocolError,
    UplinkTimeout,
    build_hard_case_request,
    parse_retry_after,
)
from cloud_bridge.oip.protocol import InferenceRequest
from refcloud import EventSink, make_app
from tests.cloud_bridge.oip.conftest import jpeg_of, running, solid_image
from tests.support.mosquitto import free_port

INFER = "/v2/models/m/infer"


def hard_case() -> InferenceRequest:
    """A small valid infer request."""
    return build_hard_case_request(jpeg_of(solid_image(9)), hard_case_id="h", label="l", score=0.5)


def fixed(status: int, body: str = "", **headers: str) -> web.Application:
    """An app answering every infer with one canned response."""

    async def handler(_: web.Request) -> web.Response:
        return web.Response(
            status=status, text=body, headers=headers, content_type="application/json"
        )

    app = web.Application()
    app.router.add_post(INFER, handler)
    return app


async def infer_against(app: web.Application) -> None:
    """Run one infer against `app` and let its error escape."""
    async with running(app) as url, OipClient(url, timeout=5) as oip:
        await oip.infer("m", hard_case())


async def test_500_carries_status_error_and_excerpt() -> None:
    with pytest.raises(UplinkHTTPError) as info:
        await infer_against(fixed(500, '{"error": "GPU on fire"}'))
    err = info.value
    assert (err.status, err.error, err.retry_after) == (500, "GPU on fire", None)
    assert err.body_excerpt == '{"error": "GPU on fire"}'
    assert err.url.endswith(INFER)


async def test_429_retry_after_seconds() -> None:
    with pytest.raises(UplinkHTTPError) as info:
        await infer_against(fixed(429, "slow down", **{"Retry-After": "7"}))
    assert (info.value.status, info.value.retry_after) == (429, 7.0)
    assert info.value.error is None
    assert info.value.body_excerpt == "slow down"


async def test_503_retry_after_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with pytest.raises(UplinkHTTPError) as info:
        await infer_against(fixed(503, "", **{"Retry-After": when}))
    assert info.value.status == 503
    assert info.value.retry_after is not None
    assert 100 < info.value.retry_after <= 120


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(" 30 ") == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0  # past
    for bad in (None, "", "-5", "1.5", "soon", "Thu, 01 Jan 2026 00:01:00"):
        assert parse_retry_after(bad, now=now) is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("<html>gateway error</html>", "<html>"),
        ('{"model_name": "m"}', '"model_name"'),
        (
            '{"model_name": "m", "outputs": [{"name": "y", "shape": [3], '
            '"datatype": "FP32", "data": [1]}]}',
            '"outputs"',
        ),
    ],
)
async def test_garbage_or_mismatched_json_is_protocol_error(body: str, needle: str) -> None:
    with pytest.raises(UplinkProtocolError) as info:
        await infer_against(fixed(200, body))
    assert needle in info.value.body_excerpt


@pytest.fixture
async def hanging_url() -> AsyncIterator[str]:
    """A server whose infer never answers until the test ends."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def hang(_: web.Request) -> web.Response:
        entered.set()
        await release.wait()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(INFER, hang)
    async with running(app) as url:
        yield url
        assert entered.is_set()
        release.set()


async def test_hanging_server_times_out(hanging_url: str) -> None:
    async with OipClient(hanging_url, timeout=30) as oip:
        with pytest.raises(UplinkTimeout) as info:
            await oip.infer("m", hard_case(), timeout=0.3)
    assert info.value.timeout == 0.3


async def test_connection_refused() -> None:
    port = free_port()  # free a moment ago, no listener, outside the ephemeral range
    async with OipClient(f"http://127.0.0.1:{port}") as oip:
        with pytest.raises(UplinkConnectionError) as info:
            await oip.ready()
    assert not info.value.tls


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture
async def tls_url(ca: trustme.CA, tmp_path: Path) -> AsyncIterator[str]:
    """The reference server over TLS with a certificate from `ca`."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    with EventSink(tmp_path / "tls.db") as sink:
        async with running(
            make_app(models={}, sink=sink, token=None), ssl_context=server_ctx
        ) as url:
            yield url


async def test_tls_untrusted_certificate_is_a_clear_connection_error(tls_url: str) -> None:
    async with OipClient(tls_url) as oip:  # verifies against the system store by default
        with pytest.raises(UplinkConnectionError) as info:
            await oip.ready()
    assert info.value.tls
    assert "certificate verification failed" in str(info.value)
    assert "ca_file" in str(info.value)


async def test_tls_with_private_ca_file(tls_url: str, ca: trustme.CA, tmp_path: Path) -> None:
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    async with OipClient(tls_url, ca_file=ca_path) as oip:
        assert await oip.ready()
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    async with OipClient(tls_url, ssl_context=ctx) as oip:
        assert await oip.live()


def test_client_rejects_conflicting_tls_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="either"):
        OipClient("https://x", ssl_context=ssl.create_default_context(), ca_file=tmp_path)
