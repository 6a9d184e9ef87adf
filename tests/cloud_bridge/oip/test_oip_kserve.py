"""Interoperability: the OipClient against a real `kserve.ModelServer` (KServe 0.21.0).

The server runs in KServe's own venv (`tests.support.kserve_env`) and hosts models
written for the test (`kserve_model.py`): `judge` takes a JPEG as BYTES, `judge_pixels`
raw UINT8 pixels. The hard case is a crop of a real photograph (astronaut.png).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from cloud_bridge.http import CloudSession
from cloud_bridge.oip import (
    InferenceRequest,
    OipClient,
    RequestInput,
    UplinkHTTPError,
    build_hard_case_request,
    check_model,
    check_server,
)
from cloud_bridge.oip.protocol import BINARY_EXTENSION
from cloud_bridge.uplink import EventClient, HardCase, Outcome, classify, verdict_from_response
from tests.support.kserve_env import KSERVE_VERSION, KServeProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def crop(images: dict[str, npt.NDArray[np.uint8]]) -> bytes:
    """The astronaut's head and shoulders, as the edge would crop it: a JPEG."""
    ok, buf = cv2.imencode(".jpg", images["astronaut.png"][20:320, 130:350])
    assert ok
    return bytes(buf)


def bgr_of(jpeg: bytes) -> npt.NDArray[np.uint8]:
    pixels = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return np.asarray(pixels, dtype=np.uint8)


def grey_of(jpeg: bytes) -> npt.NDArray[np.float32]:
    return np.asarray(cv2.cvtColor(bgr_of(jpeg), cv2.COLOR_BGR2GRAY), dtype=np.float32)


async def test_server_and_model_metadata(kserve: KServeProcess) -> None:
    async with OipClient(kserve.url, timeout=10) as oip:
        assert await oip.ready()
        assert await oip.model_ready("judge")
        assert not await oip.model_ready("no-such-model")
        server = await oip.server_metadata()
        judge = await oip.model_metadata("judge")
        pixels = await oip.model_metadata("judge_pixels")
        with pytest.raises(UplinkHTTPError) as versioned:
            await oip.model_metadata("judge", "1")
    assert (server.name, server.version) == ("kserve", KSERVE_VERSION)
    assert BINARY_EXTENSION not in server.extensions  # so `auto` sends JSON to KServe
    assert [(t.name, t.datatype, t.shape) for t in judge.inputs] == [("image", "BYTES", [1])]
    assert check_model(judge, encoding="jpeg") == []
    assert check_model(pixels, encoding="uint8") == []
    datatype, shape = check_model(judge, encoding="uint8")
    assert "input 'image' is BYTES, the gateway sends UINT8" in datatype
    assert "input 'image' has shape [1], the gateway sends [H, W, 3]" in shape
    assert versioned.value.status == 501
    assert versioned.value.error == "Model versioning not supported yet."
    assert check_server(server, encoding="jpeg", binary=False) == []
    assert check_server(server, encoding="jpeg", binary=True)


@pytest.mark.parametrize(
    ("model", "encoding", "binary"),
    [("judge", "jpeg", False), ("judge_pixels", "uint8", True), ("judge_pixels", "uint8", False)],
)
async def test_a_real_hard_case_is_judged(
    kserve: KServeProcess, crop: bytes, model: str, encoding: str, binary: bool
) -> None:
    request = build_hard_case_request(
        crop,
        hard_case_id=f"hc-{model}-{binary}",
        label="person",
        score=0.62,
        encoding=encoding,  # type: ignore[arg-type]
        binary=binary,
    )
    wire = request.to_wire()
    assert (wire.json_length is not None) == binary
    async with OipClient(kserve.url, timeout=10) as oip:
        response = await oip.infer(model, request)
    assert response.model_name == model
    assert response.id == f"hc-{model}-{binary}"
    assert all(out.is_binary == binary for out in response.outputs)  # binary_data_output
    grey = grey_of(crop)
    assert response.output("shape").as_numpy().tolist() == [*grey.shape, 3]
    # JPEG decoders differ by a level here and there; the pixels path averages BGR.
    mean = float(response.output("mean").as_numpy()[0])
    expected = float(grey.mean() if encoding == "jpeg" else bgr_of(crop).mean())
    assert mean == pytest.approx(expected, abs=1.0)
    case = HardCase(request.id or "", "door", "person", 0.62, 0.75, {})
    verdict = verdict_from_response(case, response, min_score=0.5, round_trip_ms=1.0)
    assert verdict.outcome is Outcome.CONFIRMED
    assert verdict.cloud_label == "person"
    assert verdict.cloud_score == pytest.approx(min(0.99, 0.5 + grey.std() / 64), abs=0.02)
    if binary:  # one byte per channel instead of 1-3 digits and a comma
        as_json = build_hard_case_request(
            crop, hard_case_id="x", label="person", score=0.62, encoding="uint8"
        )
        assert len(wire.body) < len(as_json.to_wire().body) / 3


async def test_a_plain_image_is_rejected(kserve: KServeProcess, crop: bytes) -> None:
    flat = cv2.imencode(".jpg", np.full((120, 80, 3), 90, np.uint8))[1].tobytes()
    request = build_hard_case_request(flat, hard_case_id="hc-flat", label="person", score=0.6)
    async with OipClient(kserve.url, timeout=10) as oip:
        response = await oip.infer("judge", request)
    case = HardCase("hc-flat", "door", "person", 0.6, 0.75, {})
    verdict = verdict_from_response(case, response, min_score=0.5, round_trip_ms=1.0)
    assert (verdict.outcome, verdict.cloud_label) == (Outcome.REJECTED, "background")


async def test_binary_bytes_fail_in_kserve_and_the_check_says_so(
    kserve: KServeProcess, crop: bytes
) -> None:
    """KServe 0.21.0 turns binary BYTES into UTF-8 text: a JPEG cannot pass that way."""
    request = build_hard_case_request(
        crop, hard_case_id="hc-bin-jpeg", label="person", score=0.6, binary=True
    )
    async with OipClient(kserve.url, timeout=10) as oip:
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("judge", request)
        server = await oip.server_metadata()
    assert info.value.status == 500
    assert info.value.error is not None
    assert "using UTF-8" in info.value.error
    (problem,) = check_server(server, encoding="jpeg", binary=True)
    assert "binary_data: never" in problem


async def test_versioned_model_is_501_and_permanent(kserve: KServeProcess, crop: bytes) -> None:
    request = build_hard_case_request(crop, hard_case_id="hc-v", label="person", score=0.6)
    async with OipClient(kserve.url, timeout=10, endpoint="OIP server (cloud.oip_url)") as oip:
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("judge", request, version="1")
    assert info.value.status == 501
    assert str(info.value).startswith("OIP server (cloud.oip_url): HTTP 501 from ")
    assert str(info.value).endswith("/versions/1/infer: Model versioning not supported yet.")
    failure = classify(info.value)
    assert failure.permanent
    assert not failure.counts_against_breaker


async def test_model_exception_is_500_and_the_retry_gets_a_fresh_connection(
    kserve: KServeProcess, crop: bytes
) -> None:
    """uvicorn closes the connection after a 500; the immediate retry must not use it."""
    warm = build_hard_case_request(crop, hard_case_id="warm", label="person", score=0.6)
    failing = build_hard_case_request(crop, hard_case_id="hc-500", label="fail-once", score=0.6)
    async with OipClient(kserve.url, timeout=10) as oip:
        await oip.infer("judge", warm)  # a keep-alive connection in the pool
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("judge", failing)  # the model raises the first time
        # No sleep, same client: the retry goes out and through (not ECONNRESET).
        response = await oip.infer("judge", failing)
    assert info.value.status == 500
    assert info.value.error == "RuntimeError : model crashed on hc-500"
    assert not classify(info.value).permanent
    assert response.output("label").as_strings() == ["fail-once"]


async def test_error_detail_and_scalar_parameters(kserve: KServeProcess) -> None:
    """FastAPI's `{"detail": [...]}` is read; nested parameters never leave the gateway."""
    with pytest.raises(ValidationError):
        InferenceRequest(
            inputs=[RequestInput.from_strings("image", ["x"])],
            parameters={"edge": {"label": "person"}},
        )
    body = {
        "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["x"]}],
        "parameters": {"edge": {"label": "person"}},
    }
    async with CloudSession(kserve.url, endpoint="OIP server") as http:
        with pytest.raises(UplinkHTTPError) as info:
            await http.request(
                "POST",
                "/v2/models/judge/infer",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
    assert info.value.status == 422
    assert info.value.error is not None
    assert "parameters.edge" in info.value.error
    assert "Input should be a valid" in info.value.error


async def test_events_sent_to_kserve_say_which_endpoint_failed(kserve: KServeProcess) -> None:
    """KServe has no event sink: the 404 names the event sink and says what to set."""
    sink = EventClient(kserve.url + "/v1/events", endpoint="event sink (cloud.events_url)")
    async with sink:
        with pytest.raises(UplinkHTTPError) as info:
            await sink.post([b'{"id": "e1"}'])
    message = str(info.value)
    assert info.value.status == 404
    assert message.startswith("event sink (cloud.events_url): HTTP 404 from ")
    assert "no event sink there" in message
    assert "forward_kinds: [vision.hard_case]" in message
