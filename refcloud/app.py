"""Reference cloud server: Open Inference Protocol (KServe V2 REST) plus an event sink.

Routes (bearer token checked on all but the health probes, when one is configured):

    GET  /v2/health/live, /v2/health/ready          200
    GET  /v2                                        server metadata (its extensions:
                                                    binary_tensor_data)
    GET  /v2/models/{name}[/versions/{v}]           model metadata, or 404
    GET  /v2/models/{name}[/versions/{v}]/ready     200, or 404 for an unknown model
    POST /v2/models/{name}[/versions/{v}]/infer     InferenceResponse, or {"error"} with
                        400/404/413/415/422/500; JSON, or the binary tensor data
                        extension (`Inference-Header-Content-Length`) both ways
    POST /v1/events     JSON array of events (gzip Content-Encoding accepted), each with
                        an `id`; answers {"accepted": [ids], "duplicates": [ids]}
    GET  /v1/events?kind=...&limit=...              stored events, for tests and demos

The server faces clients it does not trust. `serve` refuses to run without a token
unless `no_auth=True` on a loopback address; tokens are compared in constant time. Each
POST route has its own body limit (`BodyLimits`; over it: 413, checked on
`Content-Length` before reading and again while reading, after gzip is undone, so a
gzip bomb stops at the limit), wants `Content-Type: application/json` (415) unless an
infer body says it is binary (`Inference-Header-Content-Length`), and parses
in a worker thread, so one large body never stalls the other requests. Every bad request
gets a 4xx with `{"error": ...}`: unreadable gzip or JSON, or too deep a nesting, 400;
tensor values outside their datatype (UINT8 300) and unusable images (0x0, truncated,
more pixels than `ImageLimits.max_pixels`) 422.

Models are callables passed in, so this package never imports `gateway`. The server
does not keep versions apart: `/versions/{v}` reaches the same callable, and `v` is
echoed as `model_version` unless the model sets one. A model's metadata is what
`make_app(metadata=...)` declares for it, else its name alone (no inputs declared).
A request with `binary_data_output: true` gets its outputs as binary data.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from pydantic import ValidationError

from cloud_bridge.errors import CloudBridgeError
from cloud_bridge.oip.protocol import (
    BINARY_EXTENSION,
    INFERENCE_HEADER,
    TENSOR_VALUE_ERROR,
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ServerMetadata,
)
from devices.cameras import Image
from gateway.config.sections import is_loopback
from refcloud.event_sink import EventSink
from refcloud.images import ImageRejectedError, read_image

__all__ = [
    "BodyLimits",
    "InferenceInputError",
    "ModelFn",
    "ServerConfigError",
    "check_auth",
    "is_loopback",
    "make_app",
    "serve",
]

log = logging.getLogger(__name__)

ModelFn = Callable[[InferenceRequest], InferenceResponse | Awaitable[InferenceResponse]]
"""A model: sync callables run in a worker thread, async ones on the loop."""

MiB: Final = 1024 * 1024
MAX_JSON_DEPTH: Final = 64
"""Deepest nesting of arrays and objects in an events body (a real batch has 4)."""


@dataclass(slots=True, frozen=True)
class BodyLimits:
    """Most bytes a request body may have, per route, after any gzip is undone."""

    infer: int = 32 * MiB
    """A UINT8 1080p frame is ~20 MB of JSON; a JPEG crop a few hundred KB."""
    events: int = 8 * MiB
    """The uplink sends batches of at most `cloud.batch_max_bytes` (256 KB by default)."""

    @property
    def largest(self) -> int:
        """The application-wide cap (aiohttp's `client_max_size`)."""
        return max(self.infer, self.events)


MODELS_KEY: Final = web.AppKey("models", Mapping[str, ModelFn])
SINK_KEY: Final = web.AppKey("sink", EventSink)
TOKEN_KEY: Final = web.AppKey("token", bytes)
LIMITS_KEY: Final = web.AppKey("limits", BodyLimits)
METADATA_KEY: Final = web.AppKey("metadata", Mapping[str, ModelMetadata])
SERVER_METADATA: Final = ServerMetadata(
    name="edgegw-refcloud", version="1", extensions=[BINARY_EXTENSION]
)


class InferenceInputError(ValueError):
    """Raised by a model when the request is well-formed but its inputs are unusable.

    Answered with `status` (422 unless said otherwise; 413 for an image over the byte
    limit). `from_error` builds one from what `read_image` raised.
    """

    def __init__(self, message: str, *, status: int = 422) -> None:
        self.status = status
        super().__init__(message)

    @classmethod
    def from_error(cls, exc: Exception) -> InferenceInputError:
        """Wrap a `KeyError` (missing input) or `ValueError` (unusable image) from a model."""
        if isinstance(exc, ImageRejectedError) and exc.issue.problem.value == "too_large":
            return cls(str(exc), status=413)
        if isinstance(exc, KeyError):
            return cls(f"no input named {exc}")
        return cls(str(exc))


def read_model_image(request: InferenceRequest) -> Image:
    """The request's `image` input, decoded within limits (`read_image`), for a model:
    what cannot be read raises `InferenceInputError` (a 4xx answer)."""
    try:
        return read_image(request)
    except (KeyError, ValueError) as exc:
        raise InferenceInputError.from_error(exc) from exc


class ServerConfigError(CloudBridgeError):
    """The server is asked to run in a way it refuses (no token on a public address)."""


class _BadRequest(Exception):  # noqa: N818  # internal: becomes a 4xx answer, never escapes
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def _auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = request.app.get(TOKEN_KEY)
    if token is None or request.path.startswith("/v2/health/"):
        return await handler(request)
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, b"Bearer " + token):
        return _error(401, "missing or wrong bearer token", **{"WWW-Authenticate": "Bearer"})
    return await handler(request)


@web.middleware
async def _bad_requests(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _BadRequest as exc:
        return _error(exc.status, exc.message)


async def _read_json_body(request: web.Request, limit: int, *, binary_ok: bool = False) -> bytes:
    """The body of a JSON POST, at most `limit` bytes after decompression; else a 4xx.

    `binary_ok`: a body with an `Inference-Header-Content-Length` may have any type.
    """
    binary = binary_ok and INFERENCE_HEADER in request.headers
    if request.content_type != "application/json" and not binary:
        raise _BadRequest(415, f"Content-Type must be application/json, not {request.content_type}")
    if request.content_length is not None and request.content_length > limit:
        raise _BadRequest(
            413, f"body of {request.content_length} bytes is over this route's {limit}"
        )
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > limit:
                raise _BadRequest(413, f"body is over this route's {limit} bytes")
            parts.append(chunk)
    except (web.RequestPayloadError, BadHttpMessage) as exc:  # a corrupt gzip/deflate body
        encoding = request.headers.get("Content-Encoding", "identity")
        reason = " ".join(str(exc).split())
        raise _BadRequest(400, f"body cannot be read as {encoding}: {reason}") from None
    return b"".join(parts)


async def _live(_: web.Request) -> web.Response:
    return web.Response(status=200)


async def _server_metadata(_: web.Request) -> web.Response:
    return web.Response(text=SERVER_METADATA.model_dump_json(), content_type="application/json")


async def _model_metadata(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in request.app[MODELS_KEY]:
        return _error(404, f"model {name!r} not found")
    metadata = request.app[METADATA_KEY].get(name) or ModelMetadata(name=name, platform="edgegw")
    return web.Response(text=metadata.model_dump_json(), content_type="application/json")


async def _model_ready(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in request.app[MODELS_KEY]:
        return _error(404, f"model {name!r} not found")
    return web.Response(status=200)


def _parse_inference_request(body: bytes, json_length: str | None) -> InferenceRequest:
    """Validate an infer body (in a worker thread); a `_BadRequest` says what is wrong."""
    try:
        length = int(json_length) if json_length is not None else None
    except ValueError:
        raise _BadRequest(400, f"{INFERENCE_HEADER} {json_length!r} is not a length") from None
    try:
        return InferenceRequest.from_wire(body, length)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        status = 422 if first["type"] == TENSOR_VALUE_ERROR else 400
        message = f"malformed inference request: {where}: {first['msg']}"
        raise _BadRequest(status, message) from None
    except ValueError as exc:  # a binary header that does not fit the body
        raise _BadRequest(400, f"malformed inference request: {exc}") from None


async def _infer(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    version = request.match_info.get("version")
    model = request.app[MODELS_KEY].get(name)
    if model is None:
        return _error(404, f"model {name!r} not found")
    body = await _read_json_body(request, request.app[LIMITS_KEY].infer, binary_ok=True)
    infer_request = await asyncio.to_thread(
        _parse_inference_request, body, request.headers.get(INFERENCE_HEADER)
    )
    del body
    try:
        response = await _call(model, infer_request)
    except InferenceInputError as exc:
        return _error(exc.status, f"model {name!r} cannot use the inputs: {exc}")
    except KeyError as exc:
        return _error(422, f"model {name!r} cannot use the inputs: no input named {exc}")
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
    response = response.model_copy(update=update)
    if infer_request.wants_binary_output:
        response = response.as_binary()
    wire = response.to_wire()
    return web.Response(body=wire.body, headers=wire.headers)


async def _call(model: ModelFn, request: InferenceRequest) -> object:
    if inspect.iscoroutinefunction(model):
        return await model(request)
    result = await asyncio.to_thread(model, request)
    if inspect.isawaitable(result):
        return await result
    return result


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, iteratively (no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                break
            stack.extend((child, level + 1) for child in item if isinstance(child, list | dict))
    return deepest


def _parse_events(body: bytes) -> list[dict[str, Any]]:
    """Parse an events body (in a worker thread); a `_BadRequest` says what is wrong."""
    try:
        events = json.loads(body)
    except RecursionError:
        raise _BadRequest(400, "body is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _BadRequest(400, f"body is not JSON: {exc}") from None
    if _depth(events) > MAX_JSON_DEPTH:
        raise _BadRequest(400, f"body is nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise _BadRequest(400, "body must be a JSON array of event objects")
    return events


async def _post_events(request: web.Request) -> web.Response:
    # aiohttp's parser undoes `Content-Encoding: gzip`/`deflate` as the body is read.
    body = await _read_json_body(request, request.app[LIMITS_KEY].events)
    events = await asyncio.to_thread(_parse_events, body)
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
    limits: BodyLimits | None = None,
    metadata: Mapping[str, ModelMetadata] | None = None,
) -> web.Application:
    """Build the server application; `sink` must be open while it serves.

    `token=None` answers every client: `serve` allows that only with `no_auth=True` on
    a loopback address; an app served otherwise is the caller's responsibility.
    """
    limits = limits or BodyLimits()
    app = web.Application(middlewares=[_bad_requests, _auth], client_max_size=limits.largest)
    app[MODELS_KEY] = models
    app[SINK_KEY] = sink
    app[LIMITS_KEY] = limits
    app[METADATA_KEY] = metadata or {}
    if token is not None:
        if not token:
            raise ServerConfigError("the bearer token is empty")
        app[TOKEN_KEY] = token.encode("utf-8")
    app.router.add_get("/v2/health/live", _live)
    app.router.add_get("/v2/health/ready", _live)
    app.router.add_get("/v2", _server_metadata)
    app.router.add_get("/v2/models/{name}", _model_metadata)
    app.router.add_get("/v2/models/{name}/versions/{version}", _model_metadata)
    app.router.add_get("/v2/models/{name}/ready", _model_ready)
    app.router.add_get("/v2/models/{name}/versions/{version}/ready", _model_ready)
    app.router.add_post("/v2/models/{name}/infer", _infer)
    app.router.add_post("/v2/models/{name}/versions/{version}/infer", _infer)
    app.router.add_post("/v1/events", _post_events)
    app.router.add_get("/v1/events", _get_events)
    return app


def check_auth(host: str, token: str | None, *, no_auth: bool) -> None:
    """Raise `ServerConfigError` unless (token, no_auth) is a safe way to serve on `host`."""
    if token is not None and no_auth:
        raise ServerConfigError("a token and no_auth together make no sense")
    if token is None and not no_auth:
        raise ServerConfigError(
            "no bearer token: give one, or no_auth=True (--no-auth) on a loopback address"
        )
    if no_auth and not is_loopback(host):
        raise ServerConfigError(
            f"no_auth (--no-auth) is only allowed on a loopback address, not {host}"
        )


async def serve(
    host: str,
    port: int,
    *,
    models: Mapping[str, ModelFn],
    sink: EventSink,
    token: str | None = None,
    no_auth: bool = False,
    limits: BodyLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Serve until cancelled; `on_started` gets the bound port (useful with port 0).

    Without a `token`, `no_auth=True` must say so, and `host` must be a loopback
    address (`ServerConfigError` otherwise, before anything listens).
    """
    check_auth(host, token, no_auth=no_auth)
    runner = web.AppRunner(make_app(models=models, sink=sink, token=token, limits=limits))
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound = runner.addresses[0][1]
        log.info(
            "cloud server listening on %s:%d (%s)",
            host,
            bound,
            "bearer token required" if token is not None else "NO AUTHENTICATION, loopback only",
        )
        if on_started is not None:
            on_started(bound)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
