"""OipClient against the reference server: infer round trips, readiness, auth, errors."""

from __future__ import annotations

import asyncio

import aiohttp
import numpy as np
import pytest

from cloud_bridge.oip import (
    InferenceRequest,
    OipClient,
    RequestInput,
    UplinkConnectionError,
    UplinkHTTPError,
    build_hard_case_request,
)
from refcloud import EventSink, serve
from tests.cloud_bridge.oip.conftest import TOKEN, jpeg_of, solid_image


@pytest.mark.parametrize("encoding", ["jpeg", "uint8"])
@pytest.mark.parametrize(("grey", "label"), [(220, "bright"), (30, "dark")])
async def test_infer_hard_case_round_trip(
    server_url: str, encoding: str, grey: int, label: str
) -> None:
    jpeg = jpeg_of(solid_image(grey))
    request = build_hard_case_request(
        jpeg,
        hard_case_id="hc-1",
        label="person",
        score=0.6,
        encoding=encoding,  # type: ignore[arg-type]
    )
    async with OipClient(server_url, token=TOKEN, timeout=5) as oip:
        response = await oip.infer("brightness", request)
    assert response.model_name == "brightness"
    assert response.id == "hc-1"  # the server echoes the request id
    assert response.output("label").as_strings() == [label]
    assert response.output("mean").as_numpy()[0] == pytest.approx(grey, abs=2)
    assert response.output("edge_label").as_strings() == ["person"]
    assert response.output("shape").as_numpy().tolist() == [48, 64, 3]


async def test_request_wire_format_matches_encoding() -> None:
    pixels = solid_image(100, height=4, width=5)
    jpeg_req = build_hard_case_request(pixels, hard_case_id="a", label="x", score=0.5)
    tensor = jpeg_req.inputs[0]
    assert (tensor.datatype, tensor.shape, tensor.content_type) == ("BYTES", [1], "base64")
    assert tensor.as_bytes()[0][:2] == b"\xff\xd8"  # JPEG SOI marker
    raw_req = build_hard_case_request(
        pixels, hard_case_id="a", label="x", score=0.5, encoding="uint8"
    )
    assert (raw_req.inputs[0].datatype, raw_req.inputs[0].shape) == ("UINT8", [4, 5, 3])
    assert jpeg_req.parameters == {"hard_case_id": "a", "edge_label": "x", "edge_score": 0.5}


async def test_async_model_and_version_path(server_url: str) -> None:
    request = InferenceRequest(
        id="r1", inputs=[RequestInput.from_numpy("x", np.arange(6, dtype=np.float32).reshape(2, 3))]
    )
    async with OipClient(server_url, token=TOKEN) as oip:
        response = await oip.infer("echo", request, version="7")
        assert await oip.model_ready("echo", version="7")
    assert response.model_version == "7"
    assert response.output("x").as_numpy().tolist() == [[0, 1, 2], [3, 4, 5]]


async def test_readiness_and_unknown_model(server_url: str) -> None:
    async with OipClient(server_url, token=TOKEN) as oip:
        assert await oip.live()
        assert await oip.ready()
        assert await oip.model_ready("brightness")
        assert not await oip.model_ready("nope")
        request = build_hard_case_request(
            jpeg_of(solid_image(1)), hard_case_id="h", label="l", score=0
        )
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("nope", request)
    assert info.value.status == 404
    assert info.value.error == "model 'nope' not found"
    assert info.value.retry_after is None


async def test_missing_or_wrong_token_is_401(server_url: str) -> None:
    request = build_hard_case_request(jpeg_of(solid_image(1)), hard_case_id="h", label="l", score=0)
    for token in (None, "wrong"):
        async with OipClient(server_url, token=token) as oip:
            assert await oip.ready()  # health probes stay open for load balancers
            with pytest.raises(UplinkHTTPError) as info:
                await oip.model_ready("brightness")
            assert info.value.status == 401
            with pytest.raises(UplinkHTTPError) as info:
                await oip.infer("brightness", request)
            assert info.value.status == 401


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"inputs": []}',
        b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0]}]}',
        b'{"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": ["a"]}]}',
    ],
)
async def test_malformed_request_is_400_with_error_body(server_url: str, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server_url}/v2/models/echo/infer", data=body, headers=headers) as resp,
    ):
        assert resp.status == 400
        payload = await resp.json()
    assert set(payload) == {"error"}
    assert payload["error"].startswith("malformed inference request")


async def test_undecodable_image_is_422_and_model_crash_is_500(server_url: str) -> None:
    bad = InferenceRequest(inputs=[RequestInput.from_bytes("image", [b"not a jpeg"])])
    async with OipClient(server_url, token=TOKEN) as oip:
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("brightness", bad)
        assert info.value.status == 422
        assert info.value.error is not None
        assert "image refused (not_image)" in info.value.error
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("broken", bad)
        assert info.value.status == 500
        assert info.value.error == "model 'broken' failed: ZeroDivisionError"


async def test_serve_runs_until_cancelled(sink: EventSink) -> None:
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve("127.0.0.1", 0, models={}, sink=sink, no_auth=True, on_started=bound.set_result),
        name="serve",
    )
    async with asyncio.timeout(10):
        port = await bound
    async with OipClient(f"http://127.0.0.1:{port}") as oip:
        assert await oip.ready()
        assert not await oip.model_ready("brightness")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with OipClient(f"http://127.0.0.1:{port}") as oip:
        with pytest.raises(UplinkConnectionError):
            await oip.ready()
