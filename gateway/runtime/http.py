"""Optional local HTTP endpoint: `/metrics` (Prometheus text) and `/healthz`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.errors import ComponentError
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)

HealthCheck = Callable[[], list[str]]
"""Returns the reasons the gateway is unhealthy; empty when healthy."""


class HealthChecks:
    """The checks pipelines add at start (the cloud link: a failing uplink)."""

    def __init__(self) -> None:
        self._checks: list[HealthCheck] = []

    def add(self, check: HealthCheck) -> Callable[[], None]:
        """Add `check`; return the function that removes it."""
        self._checks.append(check)
        return lambda: self._checks.remove(check) if check in self._checks else None

    def problems(self) -> list[str]:
        """Every check's problems, in the order the checks were added."""
        return [problem for check in self._checks for problem in check()]


class HttpEndpoint:
    """Component `http`: serves the stats registry and health on host:port."""

    name = "http"

    def __init__(self, *, stats: Stats, health: HealthCheck, host: str, port: int) -> None:
        self._stats = stats
        self._health = health
        self.host = host
        self.port = port

    def app(self) -> web.Application:
        """The aiohttp application (also used by tests directly)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self._stats.prometheus_text()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        problems = self._health()
        status = 503 if problems else 200
        return web.json_response({"healthy": not problems, "problems": problems}, status=status)

    async def run(self) -> None:
        """Serve until cancelled."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                msg = f"cannot serve /metrics on {self.host}:{self.port}: {exc.strerror or exc}"
                raise ComponentError(msg) from exc
            log.info("serving /metrics and /healthz on http://%s:%d", self.host, self.port)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
