"""The local HTTP endpoint: `/metrics`, `/healthz` and the status page.

- `/metrics`: Prometheus text; `/healthz`: 200 or 503 with the problems (always open:
  container health checks call it; it holds no secret).
- `/`: the status page, plain HTML/CSS/JS shipped in the package (`gateway/runtime/web`),
  no build step, no CDN. `/api/status` is its JSON, `/api/stream` its live feed
  (Server-Sent Events), `/api/cameras/<id>/snapshot.jpg` the latest annotated snapshot.
- Credentials: with `stats.http_token` every route but `/healthz` wants
  `Authorization: Bearer <token>` (or the session cookie that `POST /login` with the
  token sets, for browsers, which cannot send a bearer header on navigation); with
  `http_username`/`http_password`, HTTP basic auth. Bound to anything but loopback,
  the config refuses to load without one of them. Compared in constant time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

from gateway.errors import ComponentError
from gateway.runtime.status import StatusBoard
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)

HealthCheck = Callable[[], list[str]]
"""Returns the reasons the gateway is unhealthy; empty when healthy."""

SESSION_COOKIE = "edgegw_session"
STATUS_INTERVAL_S = 1.0
"""How often a live client gets the whole status (numbers, charts) again."""
_WEB = "web"
_STATIC = {
    "status.css": "text/css",
    "status.js": "text/javascript",
}
_LOGIN_FORM = """<!doctype html><meta charset="utf-8"><title>edgegw: sign in</title>
<form method="post" action="/login" style="font:16px sans-serif;margin:4em auto;width:20em">
<p>This gateway's page needs its token (<code>stats.http_token</code>).</p>
<input type="password" name="token" autofocus style="width:100%">
<p><button type="submit">Sign in</button></p></form>"""


def _web_file(name: str) -> bytes:
    return resources.files("gateway.runtime").joinpath(_WEB, name).read_bytes()


class Credentials:
    """What the endpoint accepts: a bearer token and/or a basic-auth user and password."""

    def __init__(
        self,
        *,
        token: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
    ) -> None:
        self._token = token.get_secret_value().encode() if token is not None else None
        self._basic = None
        if username is not None and password is not None:
            pair = f"{username}:{password.get_secret_value()}".encode()
            self._basic = base64.b64encode(pair)
        self.session = (
            hmac.new(self._token, b"edgegw status page session", hashlib.sha256).hexdigest()
            if self._token is not None
            else None
        )

    @property
    def required(self) -> bool:
        """Whether any credential is configured (then every request needs one)."""
        return self._token is not None or self._basic is not None

    def token_ok(self, token: str) -> bool:
        """Whether `token` is the configured token (constant time)."""
        return self._token is not None and hmac.compare_digest(token.encode(), self._token)

    def allows(self, request: web.Request) -> bool:
        """Whether `request` carries a valid credential."""
        if not self.required:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token_ok(value):
            return True
        if (
            scheme.lower() == "basic"
            and self._basic is not None
            and hmac.compare_digest(value.encode(), self._basic)
        ):
            return True
        cookie = request.cookies.get(SESSION_COOKIE)
        return (
            self.session is not None
            and cookie is not None
            and hmac.compare_digest(cookie.encode(), self.session.encode())
        )

    def challenge(self, request: web.Request) -> web.Response:
        """The 401 answer: a sign-in form for browsers when a token is configured."""
        headers = {}
        if self._basic is not None:
            headers["WWW-Authenticate"] = 'Basic realm="edgegw", charset="UTF-8"'
        elif self._token is not None:
            headers["WWW-Authenticate"] = 'Bearer realm="edgegw"'
        if self._token is not None and "text/html" in request.headers.get("Accept", ""):
            return web.Response(
                status=401, text=_LOGIN_FORM, content_type="text/html", headers=headers
            )
        return web.json_response({"error": "unauthorized"}, status=401, headers=headers)


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
    """Component `http`: serves the stats, health and (optionally) the status page."""

    name = "http"

    def __init__(
        self,
        *,
        stats: Stats,
        health: HealthCheck,
        host: str,
        port: int,
        board: StatusBoard | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self._stats = stats
        self._health = health
        self.host = host
        self.port = port
        self._board = board
        self._credentials = credentials or Credentials()
        self.ready = asyncio.Event()

    def app(self) -> web.Application:
        """The aiohttp application (also used by tests directly)."""
        app = web.Application(middlewares=[self._auth], client_max_size=64 * 1024)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        if self._credentials.session is not None:
            app.router.add_post("/login", self._login)
        if self._board is not None:
            app.router.add_get("/", self._page)
            app.router.add_get("/static/{name}", self._static)
            app.router.add_get("/api/status", self._status)
            app.router.add_get("/api/stream", self._stream)
            app.router.add_get("/api/cameras/{camera}/snapshot.jpg", self._snapshot)
        return app

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in ("/healthz", "/login") or self._credentials.allows(request):
            response = await handler(request)
        else:
            response = self._credentials.challenge(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def _login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = form.get("token")
        if not isinstance(token, str) or not self._credentials.token_ok(token):
            return web.Response(status=401, text=_LOGIN_FORM, content_type="text/html")
        assert self._credentials.session is not None
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            SESSION_COOKIE,
            self._credentials.session,
            httponly=True,
            samesite="Strict",
            path="/",
        )
        return response

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = self._stats.prometheus_text()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        problems = self._health()
        status = 503 if problems else 200
        return web.json_response({"healthy": not problems, "problems": problems}, status=status)

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=_web_file("index.html"),
            content_type="text/html",
            charset="utf-8",
            headers={
                # Everything comes from this gateway: no CDN, no inline script.
                "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                "style-src 'self'; script-src 'self'; connect-src 'self'"
            },
        )

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = _STATIC.get(name)
        if kind is None:
            raise web.HTTPNotFound
        return web.Response(body=_web_file(name), content_type=kind, charset="utf-8")

    async def _status(self, _request: web.Request) -> web.Response:
        assert self._board is not None
        return web.json_response(self._board.status())

    async def _snapshot(self, request: web.Request) -> web.Response:
        assert self._board is not None
        jpeg = self._board.snapshot_jpeg(request.match_info["camera"])
        if jpeg is None:
            raise web.HTTPNotFound(text="no snapshot yet")
        return web.Response(body=jpeg, content_type="image/jpeg")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        board = self._board
        assert board is not None
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        queue = board.listen()
        loop = asyncio.get_running_loop()
        try:
            await _send(response, "status", _json(board.status()))
            next_status = loop.time() + STATUS_INTERVAL_S
            while True:
                try:
                    async with asyncio.timeout(max(0.0, next_status - loop.time())):
                        message = await queue.get()
                except TimeoutError:
                    await _send(response, "status", _json(board.status()))
                    next_status = loop.time() + STATUS_INTERVAL_S
                    continue
                await _send(response, message.name, message.data)
        except ConnectionResetError:
            pass  # the client left
        finally:
            board.forget(queue)
        return response

    async def run(self) -> None:
        """Serve until cancelled."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            try:
                await site.start()
            except OSError as exc:
                msg = f"cannot serve HTTP on {self.host}:{self.port}: {exc.strerror or exc}"
                raise ComponentError(msg) from exc
            log.info(
                "serving %s/metrics and /healthz on http://%s:%d",
                "the status page, " if self._board is not None else "",
                self.host,
                self.port,
            )
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            with contextlib.suppress(Exception):
                await runner.cleanup()


def _json(doc: object) -> str:
    return json.dumps(doc, separators=(",", ":"), default=str)


async def _send(response: web.StreamResponse, name: str, data: str) -> None:
    await response.write(f"event: {name}\ndata: {data}\n\n".encode())
