"""The binary tensor data extension: the wire format, and both ends against the reference server."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from pydantic import ValidationError

from cloud_bridge.http import CloudSession
from cloud_bridge.oip import (
    InferenceRequest,
    InferenceResponse,
    OipClient,
    RequestInput,
    ResponseOutput,
    UplinkHTTPError,
    build_hard_case_request,
)
from cloud_bridge.oip.protocol import BINARY_EXTENSION, INFERENCE_HEADER
from tests.cloud_bridge.oip.conftest import TOKEN, jpeg_of, solid_image


def test_wire_format_is_the_spec_s() -> None:
    """JSON header, then each binary tensor's bytes in order; BYTES elements length-prefixed."""
    pixels = np.arange(12, dtype=np.uint16).reshape(2, 2, 3)
    request = InferenceRequest(
        id="w",
        inputs=[
            RequestInput.from_bytes("blob", [b"\xff\xd8", b"abc"], binary=True),
            RequestInput.from_strings("note", ["hi"]),
            RequestInput.from_numpy("px", pixels, binary=True),
        ],
    )
    wire = request.to_wire()
    assert wire.json_length is not None
    assert wire.headers[INFERENCE_HEADER] == str(wire.json_length)
    header = json.loads(wire.body[: wire.json_length])
    assert [i.get("parameters", {}).get("binary_data_size") for i in header["inputs"]] == [
        13,
        None,
        24,
    ]
    assert "data" not in header["inputs"][0]
    tail = wire.body[wire.json_length :]
    assert tail[:13] == struct.pack("<I", 2) + b"\xff\xd8" + struct.pack("<I", 3) + b"abc"
    assert tail[13:] == pixels.astype("<u2").tobytes()
    back = InferenceRequest.from_wire(wire.body, wire.json_length)
    assert back.input("blob").as_bytes() == [b"\xff\xd8", b"abc"]
    assert back.input("note").as_strings() == ["hi"]
    assert back.input("px").as_numpy().tolist() == pixels.tolist()


def test_malformed_binary_bodies_are_refused() -> None:
    response = InferenceResponse(
        model_name="m", outputs=[ResponseOutput.from_strings("label", ["person"], binary=True)]
    )
    wire = response.to_wire()
    n = wire.json_length
    assert n is not None
    header = wire.body[:n]
    cases = [
        (wire.body[:-1], n, "overruns"),  # the tensor is short
        (wire.body, len(wire.body) + 1, "does not fit"),  # header length past the body
        (header, None, "no binary part"),  # binary_data_size, no binary part
        (wire.body + b"\0\0\0\0", n, "the tensors claim"),  # bytes left over
        (header + b"\x09\0\0\0person", n, "overruns the data"),  # element past the end
    ]
    for body, length, why in cases:
        with pytest.raises(ValueError, match=why):
            InferenceResponse.from_wire(body, length)


def test_parameters_are_scalars() -> None:
    tensor = RequestInput.from_strings("t", ["x"])
    InferenceRequest(inputs=[tensor], parameters={"s": "a", "i": 1, "f": 0.5, "b": True})
    for nested in ({"l": [1]}, {"d": {"k": 1}}, {"n": None}):
        with pytest.raises(ValidationError):
            InferenceRequest(inputs=[tensor], parameters=nested)


async def test_reference_server_lists_the_extension(server_url: str) -> None:
    async with OipClient(server_url, token=TOKEN, timeout=5) as oip:
        server = await oip.server_metadata()
        metadata = await oip.model_metadata("brightness")
        with pytest.raises(UplinkHTTPError) as missing:
            await oip.model_metadata("no-such-model")
    assert BINARY_EXTENSION in server.extensions
    assert metadata.name == "brightness"
    assert missing.value.status == 404


@pytest.mark.parametrize("encoding", ["jpeg", "uint8"])
async def test_binary_round_trip_with_the_reference_server(server_url: str, encoding: str) -> None:
    jpeg = jpeg_of(solid_image(220))
    request = build_hard_case_request(
        jpeg,
        hard_case_id="hc-b",
        label="person",
        score=0.6,
        encoding=encoding,  # type: ignore[arg-type]
        binary=True,
    )
    async with OipClient(server_url, token=TOKEN, timeout=5) as oip:
        response = await oip.infer("brightness", request)
    assert all(out.is_binary for out in response.outputs)
    assert response.output("label").as_strings() == ["bright"]
    assert response.output("mean").as_numpy()[0] == pytest.approx(220, abs=2)
    assert response.output("shape").as_numpy().tolist() == [48, 64, 3]
    json_size = len(
        build_hard_case_request(
            jpeg,
            hard_case_id="hc-b",
            label="person",
            score=0.6,
            encoding=encoding,  # type: ignore[arg-type]
        )
        .to_wire()
        .body
    )
    assert len(request.to_wire().body) < json_size  # no base64, no decimal digits


async def test_reference_server_refuses_a_binary_body_that_lies(server_url: str) -> None:
    request = build_hard_case_request(
        jpeg_of(solid_image(20)), hard_case_id="x", label="person", score=0.6, binary=True
    )
    wire = request.to_wire()
    assert wire.json_length is not None
    async with CloudSession(server_url, token=TOKEN) as http:
        for length in ("12x", str(len(wire.body) + 1), str(wire.json_length - 1)):
            with pytest.raises(UplinkHTTPError) as info:
                await http.request(
                    "POST",
                    "/v2/models/brightness/infer",
                    data=wire.body[:-3],
                    headers={**wire.headers, INFERENCE_HEADER: length},
                )
            assert info.value.status == 400
            assert info.value.error is not None
            assert info.value.error.startswith(INFERENCE_HEADER) or "malformed" in info.value.error
