"""One HTTP session to the cloud, with aiohttp's failures translated into `UplinkError`s.

Both cloud clients (the Open Inference Protocol client and the event sink client) send
their requests through `CloudSession`, so TLS, the bearer token, timeouts and the error
translation live in one place. Nothing from aiohttp escapes this module.

Each session names its `endpoint` ("event sink (cloud.events_url)", "OIP server
(cloud.oip_url)"), and every error it raises starts with that name. After a 5xx answer
the next request goes out on a fresh connection: uvicorn (KServe, MLServer) closes a
keep-alive connection after a 500 without saying `Connection: close`, and a retry sent
on the pooled one fails with ECONNRESET. aiohttp pools a connection as soon as a small
answer is read, so the session (its pool) is replaced; the old one is closed when the
requests still using it are done.

A URL's `user:password@` goes as Basic auth (aiohttp's way) unless a bearer `token` is
given: one Authorization header cannot hold both, so the token is sent and the URL's
credentials are left out (with a warning), not a crash on every request.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from cloud_bridge.errors import UplinkConnectionError, UplinkHTTPError, UplinkTimeout

__all__ = ["EXCERPT_CHARS", "CloudSession", "HttpAnswer", "parse_retry_after"]

EXCERPT_CHARS = 300

log = logging.getLogger(__name__)


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
    """A response that was read whole: status, body and headers (names in lower case)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def _error_message(text: str) -> str | None:
    """Return the message of a JSON error body: `error` (the OIP spec, KServe, MLServer,
    ours), else `detail` (FastAPI: a string, or a list of validation errors)."""
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), str):
        return str(body["error"])
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        shown = [_validation_error(item) for item in detail[:3]]
        more = f" (+{len(detail) - 3} more)" if len(detail) > 3 else ""
        return "; ".join(shown) + more
    return None


def _validation_error(item: object) -> str:
    """One FastAPI validation error (`{"loc": [...], "msg": ...}`) as `a.b.c: msg`."""
    if not isinstance(item, dict):
        return str(item)[:EXCERPT_CHARS]
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    message = str(item.get("msg", ""))
    return f"{where}: {message}" if where else message


def _without_credentials(url: str, endpoint: str) -> str:
    """`url` without its `user:password@` (a bearer token is the credential then)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    log.warning(
        "%s: the URL's user:password is not sent: the bearer token (cloud.token) is",
        endpoint or "cloud",
    )
    return urlunsplit(parts._replace(netloc=host))


class CloudSession:
    """``async with CloudSession(base_url, ...) as http: await http.request(...)``.

    TLS is verified by default against the system store; `ca_file` (a PEM bundle) or a
    ready `ssl_context` trusts a private CA. `tls_hint` ends the message of a certificate
    failure (what the user should set). `timeout` bounds each whole request, in seconds.
    `endpoint` names the server in every error message.
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
        endpoint: str = "",
    ) -> None:
        if ssl_context is not None and ca_file is not None:
            raise ValueError("pass either ssl_context or ca_file, not both")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if token is not None:
            base_url = _without_credentials(base_url, endpoint)
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tls_hint = tls_hint
        self.endpoint = endpoint
        self._ssl: ssl.SSLContext | bool = True
        if ssl_context is not None:
            self._ssl = ssl_context
        elif ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._headers = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None
        self._users: dict[aiohttp.ClientSession, int] = {}
        self.renewed = 0
        """How many times a server error made the session start afresh."""

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
        sessions = set(self._users)
        if self._session is not None:
            sessions.add(self._session)
        self._session = None
        self._users.clear()
        for session in sessions:
            await session.close()

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
        session = self._session
        if session is None:
            raise RuntimeError("the cloud session is not open; use it as 'async with ...'")
        self._users[session] = self._users.get(session, 0) + 1
        try:
            return await self._request(
                session, method, path, timeout=timeout, ok=ok, data=data, headers=headers
            )
        finally:
            await self._release(session)

    async def _request(
        self,
        session: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        timeout: float | None,  # noqa: ASYNC109
        ok: frozenset[int],
        data: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> HttpAnswer:
        limit = self.timeout if timeout is None else timeout
        url = self.base_url + path
        where = f"{self.endpoint}: {method} {url}" if self.endpoint else f"{method} {url}"
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=limit),
            ) as resp:
                raw = await resp.read()
                status = resp.status
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
        except TimeoutError as exc:
            message = f"{where}: no full answer within {limit}s"
            raise UplinkTimeout(message, timeout=limit) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise UplinkConnectionError(
                f"{where}: TLS certificate verification failed "
                f"({exc.certificate_error}); {self._tls_hint}",
                tls=True,
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise UplinkConnectionError(f"{where}: TLS failed: {exc}", tls=True) from exc
        except aiohttp.ClientError as exc:
            raise UplinkConnectionError(f"{where}: {type(exc).__name__}: {exc}") from exc
        answer = HttpAnswer(status, raw, resp_headers)
        if status >= 500:
            self._renew(session)
        if status >= 400 and status not in ok:
            text = answer.text
            raise UplinkHTTPError(
                status,
                retry_after=parse_retry_after(resp_headers.get("retry-after")),
                error=_error_message(text),
                body_excerpt=text[:EXCERPT_CHARS],
                url=url,
                endpoint=self.endpoint,
            )
        return answer

    def _renew(self, session: aiohttp.ClientSession) -> None:
        """After a server error on `session`: new requests go out on a new session."""
        if session is self._session:
            self._session = aiohttp.ClientSession(headers=self._headers)
            self.renewed += 1

    async def _release(self, session: aiohttp.ClientSession) -> None:
        """One request on `session` is done; close it if it was replaced and is idle."""
        users = self._users.get(session, 1) - 1
        if users > 0:
            self._users[session] = users
            return
        self._users.pop(session, None)
        if session is not self._session:
            await session.close()
