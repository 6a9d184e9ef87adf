"""Fixtures: real aiohttp servers on loopback, free ports, and a toy brightness model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from ssl import SSLContext

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from aiohttp import web

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from cloud_bridge.oip.hard_case import read_edge_guess
from refcloud import EventSink, InferenceInputError, ModelFn, make_app
from refcloud.images import read_image

TOKEN = "s3cret-token"


@asynccontextmanager
async def running(
    app: web.Application, *, ssl_context: SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port; yield its base URL once it is listening."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()  # returns once the socket listens: no readiness polling needed
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def solid_image(value: int, *, height: int = 48, width: int = 64) -> npt.NDArray[np.uint8]:
    """Return a BGR image of one grey level."""
    return np.full((height, width, 3), value, dtype=np.uint8)


def jpeg_of(pixels: npt.NDArray[np.uint8]) -> bytes:
    """Return `pixels` as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", pixels)
    assert ok
    return bytes(buf)


def brightness_model(request: InferenceRequest) -> InferenceResponse:
    """Label an image bright or dark by its mean grey level (a sync toy model)."""
    try:
        pixels = read_image(request)
    except ValueError as exc:
        raise InferenceInputError.from_error(exc) from exc
    mean = float(pixels.mean())
    guess = read_edge_guess(request)
    return InferenceResponse(
        model_name="brightness",
        outputs=[
            ResponseOutput.from_strings("label", ["bright" if mean >= 128 else "dark"]),
            ResponseOutput.from_numpy("mean", np.asarray([mean], dtype=np.float32)),
            ResponseOutput.from_strings("edge_label", [guess.label if guess else ""]),
            ResponseOutput.from_numpy("shape", np.asarray(pixels.shape, dtype=np.int64)),
        ],
    )


async def async_echo_model(request: InferenceRequest) -> InferenceResponse:
    """Echo the first input back (an async toy model)."""
    first = request.inputs[0]
    return InferenceResponse(
        model_name="echo",
        outputs=[ResponseOutput.model_validate(first.model_dump())],
    )


def broken_model(request: InferenceRequest) -> InferenceResponse:
    """Fail the way buggy model code does."""
    raise ZeroDivisionError("division by zero")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[EventSink]:
    """An open event sink in the test's temp dir."""
    with EventSink(tmp_path / "events.db") as s:
        yield s


@pytest.fixture
async def server_url(sink: EventSink) -> AsyncIterator[str]:
    """The reference server with the toy models, bearer token `TOKEN`."""
    models: dict[str, ModelFn] = {
        "brightness": brightness_model,
        "echo": async_echo_model,
        "broken": broken_model,
    }
    async with running(make_app(models=models, sink=sink, token=TOKEN)) as url:
        yield url
