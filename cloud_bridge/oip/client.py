"""Async Open Inference Protocol (KServe V2 REST) client over one aiohttp session.

Every aiohttp and JSON failure is translated here into the `UplinkError` tree (see
`cloud_bridge.oip.errors`); nothing from aiohttp escapes. There are no retries: the
caller's delivery layer owns backoff and uses `UplinkHTTPError.retry_after`.
"""

from __future__ import annotations

import json
import ssl
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
from pydantic import ValidationError

from cloud_bridge.oip.errors import (
    UplinkConnectionError,
    UplinkHTTPError,
    UplinkProtocolError,
    UplinkTimeout,
)
from cloud_bridge.oip.protocol import InferenceRequest, InferenceResponse

__all__ = ["OipClient", "parse_retry_after"]

_EXCERPT_CHARS = 300
# Health and readiness answers: 200 is true and a 4xx is false (KServe V2 spec, "Health");
# 503 is what many servers answer while loading. 401/403/429 and other 5xx are errors.
_NOT_READY_STATUSES = frozenset({400, 404, 503})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Return a `Retry-After` header as seconds from now (RFC 9110: delay-seconds or date).

    None when absent or unparseable; a date in the past gives 0.0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; be lenient with servers omitting it
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


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
    ) -> None:
        if ssl_context is not None and ca_file is not None:
            raise ValueError("pass either ssl_context or ca_file, not both")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._ssl: ssl.SSLContext | bool = True
        if ssl_context is not None:
            self._ssl = ssl_context
        elif ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        body = request.model_dump_json(exclude_none=True).encode()
        _, text = await self._request(
            "POST",
            f"{_model_path(name, version)}/infer",
            self._timeout if timeout is None else timeout,
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            return InferenceResponse.model_validate_json(text)
        except ValidationError as exc:
            raise UplinkProtocolError(
                f"infer answer from model {name!r} is not an inference response: "
                f"{exc.error_count()} error(s), first: {exc.errors()[0]['msg']}",
                body_excerpt=text[:_EXCERPT_CHARS],
            ) from exc

    async def _probe(self, path: str) -> bool:
        status, _ = await self._request("GET", path, self._timeout, ok=_NOT_READY_STATUSES)
        return status == 200

    async def _request(
        self,
        method: str,
        path: str,
        limit: float,
        *,
        ok: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> tuple[int, str]:
        """Send one request; return (status, body text) or raise an UplinkError.

        A status >= 400 raises UplinkHTTPError unless it is in `ok`.
        """
        if self._session is None:
            raise RuntimeError("OipClient is not open; use it as 'async with OipClient(...)'")
        url = self._base_url + path
        try:
            async with self._session.request(
                method, url, ssl=self._ssl, timeout=aiohttp.ClientTimeout(total=limit), **kwargs
            ) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except TimeoutError as exc:
            message = f"{method} {url}: no full answer within {limit}s"
            raise UplinkTimeout(message, timeout=limit) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise UplinkConnectionError(
                f"{method} {url}: TLS certificate verification failed "
                f"({exc.certificate_error}); pass ca_file= or ssl_context= to trust its CA",
                tls=True,
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise UplinkConnectionError(f"{method} {url}: TLS failed: {exc}", tls=True) from exc
        except aiohttp.ClientError as exc:
            raise UplinkConnectionError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        text = raw.decode("utf-8", errors="replace")
        if status >= 400 and status not in ok:
            raise UplinkHTTPError(
                status,
                retry_after=parse_retry_after(headers.get("Retry-After")),
                error=_error_message(text),
                body_excerpt=text[:_EXCERPT_CHARS],
                url=url,
            )
        return status, text


def _model_path(name: str, version: str | None) -> str:
    path = f"/v2/models/{quote(name, safe='')}"
    if version is not None:
        path += f"/versions/{quote(version, safe='')}"
    return path


def _error_message(text: str) -> str | None:
    """Return the `error` field of a protocol error body, if the body is one."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None
