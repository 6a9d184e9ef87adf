"""Camera pipelines: source -> motion -> detector on regions -> tracker -> events."""

from __future__ import annotations

from gateway.runtime.context import RuntimeContext


async def start(ctx: RuntimeContext) -> None:
    """Start one camera pipeline per `ctx.config.cameras` entry (not yet wired)."""
    del ctx  # Filled in by the vision issue.
