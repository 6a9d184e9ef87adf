"""One HTTP session to the cloud, with aiohttp's failures translated into `UplinkError`s.

Both cloud clients (the Open Inference Protocol client and the event sink client) send
their requests through `CloudSession`, so TLS, the bearer token, timeouts and the error
translation live in one place. Nothing from aiohttp escapes this module.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from cloud_bridge.errors import UplinkConnectionError, UplinkHTTPError, UplinkTimeout

__all__ = ["EXCERPT_CHARS", "CloudSession", "HttpAnswer", "parse_retry_after"]

EXCERPT_CHARS = 300


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


@dataclass(slots=True, frozen=True)
class HttpAnswer:
    """A response that was read whole: status and body text."""

    status: int
    text: str


def _error_message(text: str) -> str | None:
    """Return the `error` field of a JSON error body (KServe V2 and ours), if it is one."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


class CloudSession:
    """``async with CloudSession(base_url, ...) as http: await http.request(...)``.

    TLS is verified by default against the system store; `ca_file` (a PEM bundle) or a
    ready `ssl_context` trusts a private CA. `tls_hint` ends the message of a certificate
    failure (what the user should set). `timeout` bounds each whole request, in seconds.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        headers: Mapping[str, str] | None = None,
        tls_hint: str = "pass ca_file= or ssl_context= to trust its CA",
    ) -> None:
        if ssl_context is not None and ca_file is not None:
            raise ValueError("pass either ssl_context or ca_file, not both")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tls_hint = tls_hint
        self._ssl: ssl.SSLContext | bool = True
        if ssl_context is not None:
            self._ssl = ssl_context
        elif ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._headers = {"Accept": "application/json", **(headers or {})}
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

    async def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - expiry must be an UplinkTimeout
        ok: frozenset[int] = frozenset(),
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """Send one request to `base_url + path` and read the answer whole.

        A status >= 400 raises UplinkHTTPError (with `Retry-After` parsed) unless it is in
        `ok`; timeouts, refused connections and TLS failures raise their UplinkErrors.
        """
        if self._session is None:
            raise RuntimeError("the cloud session is not open; use it as 'async with ...'")
        limit = self.timeout if timeout is None else timeout
        url = self.base_url + path
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as resp:
                raw = await resp.read()
                status, resp_headers = resp.status, resp.headers
        except TimeoutError as exc:
            message = f"{method} {url}: no full answer within {limit}s"
            raise UplinkTimeout(message, timeout=limit) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise UplinkConnectionError(
                f"{method} {url}: TLS certificate verification failed "
                f"({exc.certificate_error}); {self._tls_hint}",
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
                retry_after=parse_retry_after(resp_headers.get("Retry-After")),
                error=_error_message(text),
                body_excerpt=text[:EXCERPT_CHARS],
                url=url,
            )
        return HttpAnswer(status, text)
