"""Wait for a condition that has no event of its own (a counter, a state), with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], object], *, timeout_s: float = 10.0) -> None:
    """Return once `predicate()` is truthy; fail after `timeout_s`."""
    async with asyncio.timeout(timeout_s):
        # Counters and connection states have no event to await: poll them briefly.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
