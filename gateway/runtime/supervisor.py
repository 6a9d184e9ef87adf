"""Run components as named tasks; restart a crashed one with backoff, not the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from gateway.backoff import Backoff
from gateway.errors import EdgegwError
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)


class Component(Protocol):
    """A long-lived part of the gateway: `run()` works until cancelled."""

    @property
    def name(self) -> str:
        """Short unique name, used for the task and in logs."""
        ...

    async def run(self) -> None:
        """Do the work; return only when done for good; raise to be restarted."""
        ...


@dataclass(slots=True)
class _Supervised:
    component: Component
    task: asyncio.Task[None] | None = None
    failing: bool = False


class Supervisor:
    """Async context manager: starts components, restarts crashes, stops them in reverse."""

    def __init__(
        self,
        *,
        stats: Stats,
        min_restart_s: float = 1.0,
        max_restart_s: float = 60.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self._min = min_restart_s
        self._max = max_restart_s
        self._healthy_after_s = healthy_after_s
        self._children: list[_Supervised] = []
        self._restarts = stats.counter(
            "component_restarts", "Component crashes followed by a restart.", ["component"]
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start(self, component: Component) -> None:
        """Start `component` under supervision."""
        child = _Supervised(component)
        child.task = asyncio.create_task(self._supervise(child), name=f"component:{component.name}")
        self._children.append(child)

    @property
    def names(self) -> list[str]:
        """Names of the components running (or waiting to restart), in start order."""
        return [c.component.name for c in self._children]

    def get(self, name: str) -> Component | None:
        """The component `name` (running or waiting to restart), or None."""
        return next((c.component for c in self._children if c.component.name == name), None)

    async def remove(self, name: str) -> bool:
        """Stop the component `name` (cancel and await it); False when there is none."""
        child = next((c for c in self._children if c.component.name == name), None)
        if child is None:
            return False
        self._children.remove(child)
        if child.task is not None:
            child.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await child.task
        log.debug("removed %s", name)
        return True

    @property
    def failing(self) -> list[str]:
        """Names of components that crashed and wait to be restarted."""
        return [c.component.name for c in self._children if c.failing]

    async def stop(self) -> None:
        """Stop components in reverse start order, each awaited before the next."""
        while self._children:
            child = self._children.pop()
            if child.task is None:
                continue
            child.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await child.task
            log.debug("stopped %s", child.component.name)

    async def _supervise(self, child: _Supervised) -> None:
        name = child.component.name
        backoff = Backoff(self._min, self._max)
        while True:
            started = time.monotonic()
            try:
                await child.component.run()
            except Exception as exc:
                if time.monotonic() - started > self._healthy_after_s:
                    backoff.reset()
                delay = backoff.next_delay()
                child.failing = True
                self._restarts.labels(name).inc()
                if isinstance(exc, EdgegwError):  # a known failure: its message says it all
                    log.error("component %s failed: %s; restarting in %.1fs", name, exc, delay)
                else:
                    log.exception("component %s crashed; restarting in %.1fs", name, delay)
                await asyncio.sleep(delay)
                child.failing = False
            else:
                log.info("component %s finished", name)
                return
