"""The registry at the top of the device package: the pipelines the runtime is handed.

The runtime (`gateway.runtime`) never imports a pipeline; it runs the `start(ctx)`
callables it is given, in order. The cloud link starts first, so its sink is registered
before any other pipeline emits. A new pipeline is one `start(ctx)` function and one
line here.
"""

from __future__ import annotations

from pathlib import Path

from gateway import cloudlink, costs, sensors
from gateway.config import GatewayConfig
from gateway.runtime import Gateway, PipelineStart
from gateway.stats_registry import Stats
from gateway.vision import pipeline as vision

__all__ = ["PIPELINES", "build_gateway"]

PIPELINES: tuple[PipelineStart, ...] = (cloudlink.start, sensors.start, vision.start, costs.start)


def build_gateway(
    config: GatewayConfig, *, stats: Stats | None = None, config_path: Path | None = None
) -> Gateway:
    """A gateway that runs every registered pipeline (`config_path`: what `reload` reads)."""
    return Gateway(config, pipelines=PIPELINES, stats=stats, config_path=config_path)
