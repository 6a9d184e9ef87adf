"""Interoperability: the same OipClient against a real Seldon MLServer 1.7.1."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from cloud_bridge.oip import (
    InferenceRequest,
    OipClient,
    RequestInput,
    UplinkConnectionError,
    UplinkHTTPError,
    UplinkTimeout,
    build_hard_case_request,
)
from tests.cloud_bridge.oip.conftest import jpeg_of, solid_image
from tests.support.mosquitto import free_port

# MLServer (the test extra installs it) runs in a subprocess. One MLServer for the
# module, so the module shares one event loop.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
]

MODEL = "brightness"
START_DEADLINE_S = 60.0


def free_ports(n: int) -> list[int]:
    """Return `n` distinct free ports, outside the ephemeral range (see `free_port`)."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


async def wait_ready(url: str, proc: asyncio.subprocess.Process, log: Path) -> None:
    """Poll `/v2/health/ready` until it answers 200, the process dies, or the deadline."""
    async with asyncio.timeout(START_DEADLINE_S), OipClient(url, timeout=2) as oip:
        while True:
            if proc.returncode is not None:
                output = await asyncio.to_thread(log.read_text)
                pytest.fail(f"mlserver exited {proc.returncode}:\n{output[-3000:]}")
            try:
                if await oip.ready() and await oip.model_ready(MODEL):
                    return
            except (UplinkConnectionError, UplinkTimeout):
                pass  # not listening yet
            await asyncio.sleep(0.2)  # poll interval, bounded by the deadline above


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mlserver_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Start `mlserver start DIR` on free loopback ports; yield its URL once ready."""
    root = tmp_path_factory.mktemp("mlserver")
    http_port, grpc_port, metrics_port = free_ports(3)
    settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": grpc_port,
        "metrics_port": metrics_port,
        # The default parallel workers die at start ("no current event loop").
        "parallel_workers": 0,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    model_dir = root / MODEL
    model_dir.mkdir()
    shutil.copy(Path(__file__).with_name("mlserver_model.py"), model_dir / "mlserver_model.py")
    model_settings = {"name": MODEL, "implementation": "mlserver_model.BrightnessRuntime"}
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
    log = root / "mlserver.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("mlserver")),
            "start",
            str(root),
            cwd=root,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{http_port}"
    try:
        await wait_ready(url, proc, log)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.mark.parametrize("encoding", ["jpeg", "uint8"])
async def test_client_against_mlserver(mlserver_url: str, encoding: str) -> None:
    request = build_hard_case_request(
        jpeg_of(solid_image(220)),
        hard_case_id="hc-42",
        label="person",
        score=0.7,
        encoding=encoding,  # type: ignore[arg-type]
    )
    async with OipClient(mlserver_url, timeout=10) as oip:
        assert await oip.ready()
        assert await oip.model_ready(MODEL)
        assert not await oip.model_ready("no-such-model")
        response = await oip.infer(MODEL, request)
    assert response.model_name == MODEL
    assert response.id == "hc-42"
    assert response.output("label").as_strings() == ["bright"]
    assert response.output("mean").as_numpy().reshape(-1)[0] == pytest.approx(220, abs=2)
    assert response.output("edge_label").as_strings() == ["person"]
    assert response.output("shape").as_numpy().reshape(-1).tolist() == [48, 64, 3]


async def test_mlserver_errors_map_to_http_errors(mlserver_url: str) -> None:
    bad = InferenceRequest(inputs=[RequestInput.from_bytes("image", [b"not a jpeg"])])
    async with OipClient(mlserver_url, timeout=10) as oip:
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer(MODEL, bad)
        assert info.value.status == 400
        assert info.value.error == "image is not a decodable JPEG"
        with pytest.raises(UplinkHTTPError) as info:
            await oip.infer("no-such-model", bad)
        assert info.value.status == 404
