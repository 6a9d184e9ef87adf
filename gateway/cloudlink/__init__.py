"""The gateway side of the cloud bridge: outbox sink, uplink, verdicts."""

from __future__ import annotations

from gateway.runtime.context import RuntimeContext


async def start(ctx: RuntimeContext) -> None:
    """Start the outbox and uplink when `ctx.config.cloud.enabled` (not yet wired)."""
    del ctx  # Filled in by the cloud-bridge issue.
