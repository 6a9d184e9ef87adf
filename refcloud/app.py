"""Reference cloud server: Open Inference Protocol (KServe V2 REST) plus an event sink.

Routes (bearer token checked on all but the health probes, when one is configured):

    GET  /v2/health/live, /v2/health/ready          200
    GET  /v2/models/{name}[/versions/{v}]/ready     200, or 404 for an unknown model
    POST /v2/models/{name}[/versions/{v}]/infer     InferenceResponse; 400/404/500 {"error"}
    POST /v1/events     JSON array of events (gzip Content-Encoding accepted), each with
                        an `id`; answers {"accepted": [ids], "duplicates": [ids]}
    GET  /v1/events?kind=...&limit=...              stored events, for tests and demos

Models are callables passed in, so this package never imports `gateway`. The server
does not keep versions apart: `/versions/{v}` reaches the same callable, and `v` is
echoed as `model_version` unless the model sets one.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web
from pydantic import ValidationError

from cloud_bridge.oip.protocol import InferenceRequest, InferenceResponse
from refcloud.event_sink import EventSink

__all__ = ["InferenceInputError", "ModelFn", "make_app", "serve"]

log = logging.getLogger(__name__)

ModelFn = Callable[[InferenceRequest], InferenceResponse | Awaitable[InferenceResponse]]
"""A model: sync callables run in a worker thread, async ones on the loop."""

MODELS_KEY: Final = web.AppKey("models", Mapping[str, ModelFn])
SINK_KEY: Final = web.AppKey("sink", EventSink)
TOKEN_KEY: Final = web.AppKey("token", str)
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024  # a UINT8 1080p frame is ~20 MB of JSON


class InferenceInputError(ValueError):
    """Raised by a model when the request is well-formed but its inputs are unusable (400)."""


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def _auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = request.app.get(TOKEN_KEY)
    if token is None or request.path.startswith("/v2/health/"):
        return await handler(request)
    if request.headers.get("Authorization", "") != f"Bearer {token}":
        return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
    return await handler(request)


async def _live(_: web.Request) -> web.Response:
    return web.Response(status=200)


async def _model_ready(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in request.app[MODELS_KEY]:
        return _error(404, f"model {name!r} not found")
    return web.Response(status=200)


async def _infer(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    version = request.match_info.get("version")
    model = request.app[MODELS_KEY].get(name)
    if model is None:
        return _error(404, f"model {name!r} not found")
    try:
        infer_request = InferenceRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _error(400, f"malformed inference request: {where}: {first['msg']}")
    try:
        response = await _call(model, infer_request)
    except (InferenceInputError, KeyError) as exc:
        return _error(400, f"model {name!r} cannot use the inputs: {exc}")
    except Exception as exc:  # the model is foreign code: answer 500, keep serving
        log.exception("model %s failed on request %s", name, infer_request.id)
        return _error(500, f"model {name!r} failed: {type(exc).__name__}")
    if not isinstance(response, InferenceResponse):
        log.error("model %s returned %s, not an InferenceResponse", name, type(response))
        return _error(500, f"model {name!r} returned no inference response")
    update: dict[str, Any] = {}
    if response.id is None:
        update["id"] = infer_request.id
    if response.model_version is None and version is not None:
        update["model_version"] = version
    body = response.model_copy(update=update).model_dump_json(exclude_none=True)
    return web.Response(text=body, content_type="application/json")


async def _call(model: ModelFn, request: InferenceRequest) -> object:
    if inspect.iscoroutinefunction(model):
        return await model(request)
    result = await asyncio.to_thread(model, request)
    if inspect.isawaitable(result):
        return await result
    return result


async def _post_events(request: web.Request) -> web.Response:
    # aiohttp's parser undoes `Content-Encoding: gzip`/`deflate` on request bodies.
    try:
        events = json.loads(await request.read())
    except ValueError as exc:
        return _error(400, f"body is not JSON: {exc}")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return _error(400, "body must be a JSON array of event objects")
    try:
        result = await asyncio.to_thread(request.app[SINK_KEY].store, events)
    except ValueError as exc:
        return _error(400, str(exc))
    return web.json_response({"accepted": result.accepted, "duplicates": result.duplicates})


async def _get_events(request: web.Request) -> web.Response:
    kind = request.query.get("kind")
    try:
        limit = int(request.query.get("limit", "1000"))
    except ValueError:
        return _error(400, "limit must be an integer")
    events = await asyncio.to_thread(request.app[SINK_KEY].query, kind=kind, limit=limit)
    return web.json_response(events)


def make_app(
    *,
    models: Mapping[str, ModelFn],
    sink: EventSink,
    token: str | None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> web.Application:
    """Build the server application; `sink` must be open while it serves."""
    app = web.Application(middlewares=[_auth], client_max_size=max_body_bytes)
    app[MODELS_KEY] = models
    app[SINK_KEY] = sink
    if token is not None:
        app[TOKEN_KEY] = token
    app.router.add_get("/v2/health/live", _live)
    app.router.add_get("/v2/health/ready", _live)
    app.router.add_get("/v2/models/{name}/ready", _model_ready)
    app.router.add_get("/v2/models/{name}/versions/{version}/ready", _model_ready)
    app.router.add_post("/v2/models/{name}/infer", _infer)
    app.router.add_post("/v2/models/{name}/versions/{version}/infer", _infer)
    app.router.add_post("/v1/events", _post_events)
    app.router.add_get("/v1/events", _get_events)
    return app


async def serve(
    host: str,
    port: int,
    *,
    models: Mapping[str, ModelFn],
    sink: EventSink,
    token: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Serve until cancelled; `on_started` gets the bound port (useful with port 0)."""
    runner = web.AppRunner(make_app(models=models, sink=sink, token=token))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound = runner.addresses[0][1]
        log.info("cloud server listening on %s:%d", host, bound)
        if on_started is not None:
            on_started(bound)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
