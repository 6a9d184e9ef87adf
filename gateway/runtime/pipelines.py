"""The pipelines the runtime starts, in order: the cloud sink first, so no event misses it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from gateway import cloudlink, sensors
from gateway.runtime.context import RuntimeContext
from gateway.vision import pipeline as vision

PipelineStart = Callable[[RuntimeContext], Awaitable[None]]

PIPELINES: tuple[PipelineStart, ...] = (cloudlink.start, sensors.start, vision.start)
