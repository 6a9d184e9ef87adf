"""Sensor pipeline: decode readings, windows, report by exception, rules, liveness."""

from __future__ import annotations

from gateway.runtime.context import RuntimeContext


async def start(ctx: RuntimeContext) -> None:
    """Start the sensor pipeline's components for `ctx.config.sensors` (none yet)."""
    del ctx  # Filled in by the sensor-pipeline issue.
