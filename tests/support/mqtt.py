"""Helpers for tests on a real broker: run a gateway in the loop, a test client, waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt

from gateway.runtime import Gateway
from tests.support.mosquitto import Mosquitto


@contextlib.asynccontextmanager
async def running(gateway: Gateway, *, connected: bool = True) -> AsyncIterator[Gateway]:
    """Run a Gateway in this loop; wait until started (and connected); stop it after."""
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop), name="test-gateway")
    async with asyncio.timeout(10):
        started = asyncio.create_task(gateway.started.wait())
        await asyncio.wait({started, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        if connected:
            assert gateway.bus is not None
            await gateway.bus.connected.wait()
    try:
        yield gateway
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


@contextlib.asynccontextmanager
async def client(broker: Mosquitto, **kwargs: Any) -> AsyncIterator[aiomqtt.Client]:
    """A plain aiomqtt client of the test's own, connected to `broker`."""
    async with aiomqtt.Client("127.0.0.1", broker.port, **kwargs) as c:
        yield c


async def next_message(c: aiomqtt.Client, *, timeout_s: float = 10.0) -> aiomqtt.Message:
    """The next message on `c`, within a deadline."""
    async with asyncio.timeout(timeout_s):
        async for message in c.messages:
            return message
    raise AssertionError("message stream ended")
