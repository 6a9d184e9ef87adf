"""Async Open Inference Protocol (KServe V2 REST) client.

Requests go through `cloud_bridge.http.CloudSession`, which translates every aiohttp
failure into the `UplinkError` tree; schema failures are translated here. There are no
retries: the caller's delivery layer owns backoff and uses `UplinkHTTPError.retry_after`.
Bodies are JSON, or binary (the binary tensor data extension) when the request holds a
binary tensor; a binary answer is read whenever the server sends one.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from pydantic import ValidationError

from cloud_bridge.errors import UplinkProtocolError
from cloud_bridge.http import EXCERPT_CHARS, CloudSession, HttpAnswer, parse_retry_after
from cloud_bridge.oip.protocol import (
    INFERENCE_HEADER,
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    ServerMetadata,
)

__all__ = ["OipClient", "parse_retry_after"]

# Health and readiness answers: 200 is true and a 4xx is false (KServe V2 spec, "Health");
# 503 is what many servers answer while loading. 401/403/429 and other 5xx are errors.
_NOT_READY_STATUSES = frozenset({400, 404, 503})


class OipClient:
    """Talk to one Open Inference Protocol server.

    Use as ``async with OipClient("https://cloud:8080", token=...) as oip:``. TLS is
    verified by default against the system store; pass `ca_file` (a PEM bundle) or a
    ready `ssl_context` to trust a private CA. `timeout` bounds each whole request
    (connect, send, and reading the answer), in seconds.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        user_agent: str = "edgegw-oip/1",
        tls_hint: str = "pass ca_file= or ssl_context= to trust its CA",
        endpoint: str = "OIP server",
    ) -> None:
        self._http = CloudSession(
            base_url,
            token=token,
            timeout=timeout,
            ssl_context=ssl_context,
            ca_file=ca_file,
            headers={"User-Agent": user_agent},
            tls_hint=tls_hint,
            endpoint=endpoint,
        )

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session."""
        await self._http.__aexit__(exc_type, exc, tb)

    async def live(self) -> bool:
        """Return whether the server is live (`GET /v2/health/live`)."""
        return await self._probe("/v2/health/live")

    async def ready(self) -> bool:
        """Return whether the server is ready (`GET /v2/health/ready`)."""
        return await self._probe("/v2/health/ready")

    async def model_ready(self, name: str, version: str | None = None) -> bool:
        """Return whether a model (version) is ready; False for an unknown model too."""
        return await self._probe(f"{_model_path(name, version)}/ready")

    async def infer(
        self,
        name: str,
        request: InferenceRequest,
        version: str | None = None,
        *,
        # Not asyncio.timeout: expiry must surface as UplinkTimeout carrying the limit.
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> InferenceResponse:
        """Run one inference and return the validated response.

        `timeout` overrides the client's per-request timeout for this call.
        """
        wire = request.to_wire()
        answer = await self._http.request(
            "POST",
            f"{_model_path(name, version)}/infer",
            timeout=timeout,
            data=wire.body,
            headers=wire.headers,
        )
        what = f"infer answer from model {name!r}"
        try:
            return InferenceResponse.from_wire(answer.body, _json_length(answer, what))
        except ValueError as exc:  # pydantic's ValidationError is one
            raise _schema_error(what, "an inference response", exc, answer) from exc

    async def server_metadata(self) -> ServerMetadata:
        """Return the server's name, version and extensions (`GET /v2`)."""
        answer = await self._http.request("GET", "/v2")
        try:
            return ServerMetadata.model_validate_json(answer.body)
        except ValidationError as exc:
            raise _schema_error("GET /v2", "server metadata", exc, answer) from exc

    async def model_metadata(self, name: str, version: str | None = None) -> ModelMetadata:
        """Return a model's metadata: its inputs and outputs (`GET /v2/models/{name}`)."""
        answer = await self._http.request("GET", _model_path(name, version))
        try:
            return ModelMetadata.model_validate_json(answer.body)
        except ValidationError as exc:
            raise _schema_error(
                f"metadata of model {name!r}", "model metadata", exc, answer
            ) from exc

    async def _probe(self, path: str) -> bool:
        answer = await self._http.request("GET", path, ok=_NOT_READY_STATUSES)
        return answer.status == 200


def _json_length(answer: HttpAnswer, what: str) -> int | None:
    """The answer's `Inference-Header-Content-Length` (a binary body), or None."""
    value = answer.headers.get(INFERENCE_HEADER.lower())
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UplinkProtocolError(f"{what}: {INFERENCE_HEADER} {value!r} is not a length") from None


def _schema_error(
    what: str, expected: str, exc: ValueError, answer: HttpAnswer
) -> UplinkProtocolError:
    if isinstance(exc, ValidationError):
        why = f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}"
    else:
        why = str(exc)
    return UplinkProtocolError(
        f"{what} is not {expected}: {why}", body_excerpt=answer.text[:EXCERPT_CHARS]
    )


def _model_path(name: str, version: str | None) -> str:
    path = f"/v2/models/{quote(name, safe='')}"
    if version is not None:
        path += f"/versions/{quote(version, safe='')}"
    return path
